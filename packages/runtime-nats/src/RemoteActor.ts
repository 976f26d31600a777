/**
 * Actors reachable across nodes. `serve` exposes a local actor under a cluster name: on
 * `dspex.actor.<name>` (a queue group, so several nodes may serve one name and share the load), on
 * `dspex.direct.<node>.<name>` (this node only) and on `dspex.probe.<name>` (answers "I serve it" with
 * the node id). `ref` returns an `ActorRef` for that name whose `tell` publishes to the queue group and
 * whose `ask` is a NATS request to one serving node picked from membership (see internal/remoteRef.ts),
 * so code written against `ActorRef` reaches an actor in this process or on another node alike, and an
 * ask pending on a node that goes down fails as soon as membership notices.
 *
 * Every message is checked against the protocol Schema on both sides: the sender never puts an invalid
 * message on the wire, and the server answers a request that does not decode (another client, another
 * protocol version) with `MessageRejected` while the actor keeps running.
 *
 * `ActorRef`'s error types are the runtime's own, so the failures only a network adds (NATS unreachable,
 * nobody serving the name, a reply that does not fit the protocol) reach `ask`/`tell` callers as
 * `ActorUnreachable` naming the transport error's tag (`transport`) and message (`detail`), retryable as
 * that error is (NATS down and no responders are, an undecodable reply is not). `ActorGone` stays what it
 * means locally: the actor itself stopped, or its node went down (reason `NodeDown`).
 * `askRemote`/`tellRemote` return the transport errors as themselves.
 */
import { Actor, ActorError, ActorRef, type Protocol } from "@dspex/runtime"
import type { Msg } from "@nats-io/transport-node"
import { Duration, Effect, Exit, FiberSet, Scheduler, Scope } from "effect"
import * as Codec from "./Codec.ts"
import type { NatsUnavailable, NoResponders, RemoteReplyInvalid } from "./Errors.ts"
import { isRemoteError, RemoteRefCore } from "./internal/remoteRef.ts"
import * as Subjects from "./internal/subjects.ts"
import { NatsConnection } from "./NatsConnection.ts"
import { Node } from "./Node.ts"

/** The failures only the network adds (a ref's `askRemote` / `tellRemote` return them as themselves). */
export type RemoteError = NatsUnavailable | NoResponders | RemoteReplyInvalid

/**
 * An `ActorRef` for an actor served elsewhere, plus the transport-level API. An intersection rather than
 * an interface extending `ActorRef`, so a `RemoteActorRef<P>` is assignable wherever an
 * `ActorRef<Protocol.Any>` is taken (`Actor.link`), exactly as a local `ActorRef<P>` is.
 */
export type RemoteActorRef<P extends Protocol.Any> = ActorRef.ActorRef<P> & RemoteActorApi<P>

/** What a remote ref adds to `ActorRef`. */
export interface RemoteActorApi<P extends Protocol.Any> {
  /** The NATS subject of the name's queue group (tells go there; asks go to one serving node's direct subject when membership knows one). */
  readonly subject: string
  /** `ask` with the transport failures as their own typed errors. */
  readonly askRemote: <M extends Protocol.Message<P>>(
    message: M,
    options?: ActorRef.AskOptions
  ) => Effect.Effect<Protocol.ReplyOf<P, M>, ActorRef.AskError | RemoteError | Protocol.ErrorOf<P, M>>
  /** `tell` with the transport failures as their own typed errors. */
  readonly tellRemote: (message: Protocol.Message<P>) => Effect.Effect<void, ActorError.MessageRejected | RemoteError>
}

export interface RefOptions {
  /** Default ask timeout (default 5 seconds); `ask(..., { timeout })` overrides it per call. */
  readonly timeout?: Duration.Input
}

export interface ServeOptions {
  /**
   * Bound on the local ask a remote ask turns into (default 5 minutes): the caller's own timeout decides
   * when it gives up; this only keeps a stuck handler from holding a request forever.
   */
  readonly askTimeout?: Duration.Input
}

/**
 * The fibers that forward a request only wait for the actor's reply and write it out; resuming them on
 * a microtask (rather than the next event-loop turn) takes one loop iteration off every remote ask.
 */
const forwarding = { scheduler: new Scheduler.MixedScheduler("sync") }

/**
 * A transport failure as the `ActorUnreachable` an `ActorRef` caller sees: `transport` is the error's tag,
 * `detail` its message, and it is retryable exactly when the transport error is.
 *
 * @example
 * ```ts
 * import { Errors, RemoteActor } from "@dspex/runtime-nats"
 *
 * RemoteActor.toActorUnreachable("counter", new Errors.NoResponders({ actor: "counter", subject: "dspex.actor.counter" }))
 * // ActorUnreachable { actor: "counter", transport: "NoResponders", detail: "no node serves actor counter ...", retryable: true }
 * ```
 */
export const toActorUnreachable = (actor: string, error: RemoteError): ActorError.ActorUnreachable =>
  new ActorError.ActorUnreachable({ actor, transport: error._tag, detail: error.message, retryable: error.retryable })

/**
 * Serves `localRef` under `clusterName` until the current scope closes: requests on
 * `dspex.actor.<clusterName>` (queue group) and `dspex.direct.<node>.<clusterName>` are decoded with the
 * protocol Schema and forwarded (`ask` replies, `tell` does not), probes on `dspex.probe.<clusterName>`
 * are answered with this node's id, the node announces the name in its heartbeats and service metadata,
 * and each exit of the actor (and the end of serving) is announced on `dspex.exit.<clusterName>` for
 * remote monitors.
 *
 * @example
 * ```ts
 * import { Actor, Protocol } from "@dspex/runtime"
 * import { NatsConnection, Node, RemoteActor } from "@dspex/runtime-nats"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const CounterActor = Actor.make({
 *   protocol: Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number } }),
 *   initialState: 0,
 *   handlers: { Add: ({ n }, s) => Effect.succeed([s + n, s + n] as const) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const counter = yield* Actor.start(CounterActor) // or an Actor.spec ref under a supervisor
 *   yield* RemoteActor.serve("counter", counter) // until the scope closes
 *   yield* Effect.never
 * }).pipe(Effect.scoped, Effect.provide(Node.layer({ name: "worker-1" }).pipe(Layer.provideMerge(NatsConnection.layer()))))
 * ```
 */
export const serve = Effect.fn("RemoteActor.serve")(function*<P extends Protocol.Any>(
  clusterName: string,
  localRef: ActorRef.ActorRef<P>,
  options: ServeOptions = {}
): Effect.fn.Return<void, never, NatsConnection | Node | Scope.Scope> {
  Subjects.assertValidName("cluster name", clusterName)
  const nats = yield* NatsConnection
  const node = yield* Node
  const client = nats.client
  const protocol = localRef.protocol
  const subject = Subjects.actorSubject(clusterName)
  // parsed once: the local ref would otherwise parse a string duration on every forwarded ask
  const askOptions: ActorRef.AskOptions = { timeout: Duration.fromInputUnsafe(options.askTimeout ?? "5 minutes") }
  // serving ends with the caller's scope, or earlier when the actor stops for good
  const scope = yield* Scope.Scope
  const serving = yield* Scope.fork(scope)
  const run = yield* FiberSet.makeRuntime<never, unknown, never>().pipe(Scope.provide(serving))

  let announced: ActorError.ExitReason | undefined
  const announceExit = (reason: ActorError.ExitReason) => {
    if (reason === announced) return
    announced = reason
    if (nats.isConnected()) {
      client.publish(Subjects.exitSubject(clusterName), Codec.encodeExit({ actor: clusterName, node: node.id, reason }))
    }
  }

  const handle = (err: Error | null, msg: Msg) => {
    if (err !== null) return
    const decoded = Codec.decodeRequest(protocol, clusterName, msg.data)
    const reply = msg.reply !== undefined && msg.reply !== ""
    if (!decoded.ok) {
      if (reply) msg.respond(Codec.encodeRejected(decoded.error))
      return
    }
    const message = decoded.value
    if (!reply) {
      run(
        Effect.catchCause(
          localRef.tell(message),
          (cause) => Effect.logDebug(`remote tell to ${clusterName} dropped`, cause)
        )
      )
      return
    }
    const tag = (message as { readonly _tag: string })._tag
    run(
      localRef.ask(message, askOptions).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            msg.respond(
              Exit.isSuccess(exit)
                ? Codec.encodeSuccess(protocol, tag, exit.value)
                : Codec.encodeFailure(protocol, clusterName, tag, exit.cause)
            )
          })
        ),
        Effect.ignore
      ),
      forwarding
    )
  }

  let finalReason: ActorError.ExitReason = ActorError.ExitReasons.shutdown
  const subs = [
    client.subscribe(subject, { queue: subject, callback: handle }),
    client.subscribe(Subjects.directSubject(node.id, clusterName), { callback: handle }),
    client.subscribe(Subjects.probeSubject(clusterName), {
      callback: (err, msg) => {
        if (err === null) msg.respond(node.id)
      }
    })
  ]
  // stop taking requests first, then say so: a remote monitor that hears the exit finds nobody serving
  yield* Scope.addFinalizer(
    serving,
    Effect.sync(() => {
      for (const sub of subs) sub.unsubscribe()
      announceExit(finalReason)
    })
  )
  yield* node.announceActor(clusterName).pipe(Scope.provide(serving))

  // every incarnation's exit is announced, as a local monitor would see it (one monitor per incarnation,
  // released as soon as it fired); once the actor has stopped for good, serving stops (callers get
  // no-responders, or another node of the queue group answers)
  const incarnations = Effect.gen(function*() {
    while (true) {
      announceExit(yield* Effect.scoped(Effect.flatten(localRef.monitor())))
      yield* Effect.yieldNow
    }
  })
  yield* Effect.raceFirst(incarnations, Actor.awaitStopped(localRef)).pipe(
    Effect.flatMap((reason) => {
      finalReason = reason
      return Scope.close(serving, Exit.void)
    }),
    Effect.forkIn(scope)
  )
})

/**
 * An `ActorRef` for the actor served under `clusterName` anywhere in the cluster. `ask` goes to one
 * serving node (round-robin over those membership knows) and fails with `ActorGone` (reason `NodeDown`)
 * as soon as membership declares that node down; with no known server yet it goes to the queue group and
 * is bounded by its timeout. `monitor` completes at once with `NoProc` when NATS says nobody serves the
 * name, else when every serving node has announced an exit or gone down (`NodeDown`; a graceful leave is
 * `Shutdown`); it holds its watches until its Scope closes.
 *
 * @example
 * ```ts
 * import { Protocol } from "@dspex/runtime"
 * import { NatsConnection, Node, RemoteActor } from "@dspex/runtime-nats"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Counter = Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.Number }) }, Get: { success: Schema.Number } })
 *
 * const program = Effect.gen(function*() {
 *   const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
 *   yield* counter.tell({ _tag: "Add", n: 2 })
 *   return yield* counter.ask({ _tag: "Get" }) // a number, decoded with the protocol's reply Schema
 * }).pipe(Effect.provide(Node.layer().pipe(Layer.provideMerge(NatsConnection.layer()))))
 * ```
 */
export const ref = Effect.fn("RemoteActor.ref")(function*<P extends Protocol.Any>(
  clusterName: string,
  protocol: P,
  options: RefOptions = {}
): Effect.fn.Return<RemoteActorRef<P>, never, NatsConnection | Node> {
  Subjects.assertValidName("cluster name", clusterName)
  const nats = yield* NatsConnection
  const node = yield* Node
  const defaultTimeoutMs = options.timeout === undefined
    ? ActorRef.DEFAULT_ASK_TIMEOUT_MS
    : Duration.toMillis(options.timeout)
  const core = new RemoteRefCore(clusterName, protocol, nats, node, defaultTimeoutMs)

  const asUnreachable = (e: RemoteError) => toActorUnreachable(clusterName, e)
  const asActorError = <E>(e: E) => (isRemoteError(e) ? toActorUnreachable(clusterName, e) : e)
  const asItself = (e: RemoteError) => e
  const tellRemote = (message: Protocol.Message<P>) => core.tell(message)

  const remoteRef: RemoteActorRef<P> = {
    [ActorRef.TypeId]: ActorRef.TypeId,
    id: `nats:${clusterName}`,
    name: clusterName,
    protocol,
    subject: core.queueSubject,
    askRemote: (message, askOptions) => core.ask(message, askOptions, asItself) as never,
    tellRemote,
    ask: (message, askOptions) => core.ask(message, askOptions, asUnreachable) as never,
    tell: (message) => Effect.mapError(tellRemote(message), asActorError) as Effect.Effect<void, ActorError.SendError>,
    monitor: () => core.monitor()
  }
  return remoteRef
})
