/**
 * Actors reachable across nodes. `serve` exposes a local actor under a cluster name on
 * `dspex.actor.<name>` (a queue group, so several nodes may serve one name and share the load); `ref`
 * returns an `ActorRef` for that name whose `tell` publishes and whose `ask` is a NATS request, so code
 * written against `ActorRef` reaches an actor in this process or on another node alike.
 *
 * Every message is checked against the protocol Schema on both sides: the sender never puts an invalid
 * message on the wire, and the server answers a request that does not decode (another client, another
 * protocol version) with `MessageRejected` while the actor keeps running.
 *
 * `ActorRef`'s error types are the runtime's own, so the failures only a network adds (NATS unreachable,
 * nobody serving the name, a reply that does not fit the protocol) reach `ask`/`tell` callers as
 * `ActorUnreachable` naming the transport error's tag (`transport`) and message (`detail`), retryable as
 * that error is (NATS down and no responders are, an undecodable reply is not). `ActorGone` stays what it
 * means locally: the actor itself stopped. `askRemote`/`tellRemote` return the transport errors as themselves.
 */
import {
  Actor,
  type ActorRef,
  ActorUnreachable,
  type AskError,
  type AskOptions,
  AskTimeout,
  DEFAULT_ASK_TIMEOUT_MS,
  type ExitReason,
  ExitReasons,
  type MessageRejected,
  type Protocol,
  type SendError,
  TypeId
} from "@dspex/runtime"
import type { Msg } from "@nats-io/transport-node"
import { Cause, Deferred, Duration, Effect, Exit, FiberSet, Scheduler, Scope } from "effect"
import * as Codec from "./Codec.ts"
import { NatsUnavailable, NoResponders, RemoteReplyInvalid } from "./Errors.ts"
import { NatsConnection } from "./NatsConnection.ts"
import { Node } from "./Node.ts"
import * as Subjects from "./internal/subjects.ts"

/** The failures only the network adds. */
export type RemoteError = NatsUnavailable | NoResponders | RemoteReplyInvalid

export interface RemoteActorRef<P extends Protocol.Any> extends ActorRef<P> {
  /** The NATS subject requests go to. */
  readonly subject: string
  /** `ask` with the transport failures as their own typed errors. */
  readonly askRemote: <M extends Protocol.Message<P>>(
    message: M,
    options?: AskOptions
  ) => Effect.Effect<Protocol.ReplyOf<P, M>, AskError | RemoteError | Protocol.ErrorOf<P, M>>
  /** `tell` with the transport failures as their own typed errors. */
  readonly tellRemote: (message: Protocol.Message<P>) => Effect.Effect<void, MessageRejected | RemoteError>
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

const isRemoteError = (e: unknown): e is RemoteError =>
  e instanceof NatsUnavailable || e instanceof NoResponders || e instanceof RemoteReplyInvalid

/**
 * A transport failure as the `ActorUnreachable` an `ActorRef` caller sees: `transport` is the error's tag,
 * `detail` its message, and it is retryable exactly when the transport error is.
 *
 * @example
 * RemoteActor.toActorUnreachable("counter", new NoResponders({ actor: "counter", subject: "dspex.actor.counter" }))
 * // ActorUnreachable { actor: "counter", transport: "NoResponders", detail: "no node serves actor counter ...", retryable: true }
 */
export const toActorUnreachable = (actor: string, error: RemoteError): ActorUnreachable =>
  new ActorUnreachable({ actor, transport: error._tag, detail: error.message, retryable: error.retryable })

/**
 * Serves `localRef` under `clusterName` until the current scope closes: requests on
 * `dspex.actor.<clusterName>` are decoded with the protocol Schema and forwarded (`ask` replies,
 * `tell` does not), the node announces the name in its heartbeats and service metadata, and each exit
 * of the actor (and the end of serving) is announced on `dspex.exit.<clusterName>` for remote monitors.
 *
 * @example
 * const counter = yield* Actor.start(CounterActor) // or an Actor.spec ref under a supervisor
 * yield* RemoteActor.serve("counter", counter) // until the scope closes
 */
export const serve = Effect.fn("RemoteActor.serve")(function*<P extends Protocol.Any>(
  clusterName: string,
  localRef: ActorRef<P>,
  options: ServeOptions = {}
): Effect.fn.Return<void, never, NatsConnection | Node | Scope.Scope> {
  Subjects.assertValidName("cluster name", clusterName)
  const nats = yield* NatsConnection
  const node = yield* Node
  const client = nats.client
  const protocol = localRef.protocol
  const subject = Subjects.actorSubject(clusterName)
  // parsed once: the local ref would otherwise parse a string duration on every forwarded ask
  const askOptions: AskOptions = { timeout: Duration.fromInputUnsafe(options.askTimeout ?? "5 minutes") }
  // serving ends with the caller's scope, or earlier when the actor stops for good
  const scope = yield* Scope.Scope
  const serving = yield* Scope.fork(scope)
  const run = yield* FiberSet.makeRuntime<never, unknown, never>().pipe(Scope.provide(serving))

  let announced: ExitReason | undefined
  const announceExit = (reason: ExitReason) => {
    if (reason === announced) return
    announced = reason
    if (nats.isConnected()) client.publish(Subjects.exitSubject(clusterName), Codec.encodeExit({ actor: clusterName, node: node.id, reason }))
  }

  const handle = (msg: Msg) => {
    const decoded = Codec.decodeRequest(protocol, clusterName, msg.data)
    const reply = msg.reply !== undefined && msg.reply !== ""
    if (!decoded.ok) {
      if (reply) msg.respond(Codec.encodeRejected(decoded.error))
      return
    }
    const message = decoded.value
    if (!reply) {
      run(Effect.catchCause(localRef.tell(message), (cause) => Effect.logDebug(`remote tell to ${clusterName} dropped`, cause)))
      return
    }
    const tag = (message as { readonly _tag: string })._tag
    run(
      localRef.ask(message, askOptions).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            msg.respond(Exit.isSuccess(exit) ? Codec.encodeSuccess(protocol, tag, exit.value) : Codec.encodeFailure(protocol, clusterName, tag, exit.cause))
          })
        ),
        Effect.ignore
      ),
      forwarding
    )
  }

  let finalReason: ExitReason = ExitReasons.shutdown
  const sub = client.subscribe(subject, {
    queue: subject,
    callback: (err, msg) => {
      if (err === null) handle(msg)
    }
  })
  // stop taking requests first, then say so: a remote monitor that hears the exit finds nobody serving
  yield* Scope.addFinalizer(serving, Effect.sync(() => {
    sub.unsubscribe()
    announceExit(finalReason)
  }))
  yield* node.announceActor(clusterName).pipe(Scope.provide(serving))

  // every incarnation's exit is announced, as a local monitor would see it; once the actor has stopped
  // for good, serving stops (callers get no-responders, or another node of the queue group answers)
  const incarnations = Effect.gen(function*() {
    while (true) {
      announceExit(yield* Effect.flatten(localRef.monitor()))
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

const classify = (error: unknown, actor: string, subject: string, timeoutMs: number, tag: string, url: string): RemoteError | AskError => {
  const e = error as { name?: string; isNoResponders?: () => boolean; message?: string }
  if (typeof e.isNoResponders === "function" && e.isNoResponders()) return new NoResponders({ actor, subject })
  if (e.name === "TimeoutError") return new AskTimeout({ actor, tag, timeoutMs })
  return new NatsUnavailable({ url, detail: e.message ?? String(error) })
}

/**
 * An `ActorRef` for the actor served under `clusterName` anywhere in the cluster.
 *
 * @example
 * const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
 * yield* counter.tell({ _tag: "Add", n: 2 })
 * const n = yield* counter.ask({ _tag: "Get" }) // typed by the protocol's reply Schema
 */
export const ref = Effect.fn("RemoteActor.ref")(function*<P extends Protocol.Any>(
  clusterName: string,
  protocol: P,
  options: RefOptions = {}
): Effect.fn.Return<RemoteActorRef<P>, never, NatsConnection | Node> {
  Subjects.assertValidName("cluster name", clusterName)
  const nats = yield* NatsConnection
  const node = yield* Node
  const client = nats.client
  const subject = Subjects.actorSubject(clusterName)
  const defaultTimeoutMs = options.timeout === undefined ? DEFAULT_ASK_TIMEOUT_MS : Duration.toMillis(options.timeout)

  /**
   * One ask as a single callback (encode, fail-fast check, request, decode): the hot path has no
   * intermediate effects. `transport` decides how a transport failure surfaces.
   */
  const askWith = (message: Protocol.Message<P>, askOptions: AskOptions | undefined, transport: (e: RemoteError) => unknown) =>
    Effect.callback<unknown, unknown>((resume) => {
      const encoded = Codec.encodeRequest(protocol, clusterName, message)
      if (!encoded.ok) return resume(Effect.fail(encoded.error))
      if (!nats.isConnected()) return resume(Effect.fail(transport(nats.unavailable())))
      const tag = (message as { readonly _tag: string })._tag
      const timeoutMs = askOptions?.timeout === undefined ? defaultTimeoutMs : Duration.toMillis(askOptions.timeout)
      let settled = false
      const settle = (effect: Effect.Effect<unknown, unknown>) => {
        if (settled) return
        settled = true
        off()
        resume(effect)
      }
      // a reply cannot cross a lost connection: fail now rather than at the timeout
      const off = nats.onDisconnect(() => settle(Effect.fail(transport(nats.unavailable()))))
      client.request(subject, encoded.value, { timeout: timeoutMs }).then(
        (msg) => {
          const reply = Codec.decodeReply(protocol, clusterName, tag, msg.data)
          settle(reply._tag === "ok" ? Effect.succeed(reply.value) : Effect.fail(reply._tag === "invalid" ? transport(reply.error) : reply.error))
        },
        (e) => {
          const error = classify(e, clusterName, subject, timeoutMs, tag, nats.url)
          settle(Effect.fail(isRemoteError(error) ? transport(error) : error))
        }
      )
      return Effect.sync(off)
    })

  const askRemote = <M extends Protocol.Message<P>>(message: M, askOptions?: AskOptions) =>
    askWith(message, askOptions, (e) => e) as Effect.Effect<Protocol.ReplyOf<P, M>, AskError | RemoteError | Protocol.ErrorOf<P, M>>

  const tellRemote = (message: Protocol.Message<P>): Effect.Effect<void, MessageRejected | RemoteError> =>
    Effect.suspend((): Effect.Effect<void, MessageRejected | RemoteError> => {
      const encoded = Codec.encodeRequest(protocol, clusterName, message)
      if (!encoded.ok) return Effect.fail(encoded.error)
      // NATS would buffer a publish while reconnecting and send it later; a tell fails now instead
      if (!nats.isConnected()) return Effect.fail(nats.unavailable())
      try {
        client.publish(subject, encoded.value)
        return Effect.void
      } catch (e) {
        return Effect.fail(new NatsUnavailable({ url: nats.url, detail: e instanceof Error ? e.message : String(e) }))
      }
    })

  const asUnreachable = (e: RemoteError) => toActorUnreachable(clusterName, e)
  const asActorError = <E>(e: E) => (isRemoteError(e) ? toActorUnreachable(clusterName, e) : e)

  // one subscription to the exit subject serves every monitor of this ref
  const exitWatchers = new Set<(a: Codec.ExitAnnouncement) => void>()
  let exitSub: ReturnType<typeof client.subscribe> | undefined
  const watchExits = (f: (a: Codec.ExitAnnouncement) => void) => {
    exitWatchers.add(f)
    exitSub ??= client.subscribe(Subjects.exitSubject(clusterName), {
      callback: (err, msg) => {
        if (err !== null) return
        const announcement = Codec.decodeExit(msg.data)
        if (announcement !== undefined) for (const w of [...exitWatchers]) w(announcement)
      }
    })
    return () => {
      exitWatchers.delete(f)
      if (exitWatchers.size === 0 && exitSub !== undefined) {
        exitSub.unsubscribe()
        exitSub = undefined
      }
    }
  }

  /**
   * Watches the nodes serving the name now; completes once all of them have announced an exit of the
   * actor or gone down. When nobody serves it, waits one liveness timeout for a server to appear.
   */
  const monitor = (): Effect.Effect<Effect.Effect<ExitReason>> =>
    Effect.gen(function*() {
      const deferred = Deferred.makeUnsafe<ExitReason>()
      const serving = new Map<string, () => void>()
      const cleanups: Array<() => void> = []
      const finish = (reason: ExitReason) => {
        if (!Deferred.doneUnsafe(deferred, Exit.succeed(reason))) return
        for (const cancel of serving.values()) cancel()
        for (const c of cleanups) c()
      }
      const drop = (nodeId: string, reason: ExitReason) => {
        const cancel = serving.get(nodeId)
        if (cancel === undefined) return
        cancel()
        serving.delete(nodeId)
        if (serving.size === 0) finish(reason)
      }
      const track = (nodeId: string) => {
        if (serving.has(nodeId)) return
        serving.set(
          nodeId,
          node.onNodeDown(nodeId, (down) =>
            drop(nodeId, down.reason === "left" ? ExitReasons.shutdown : { _tag: "Failure", message: down.message, cause: Cause.fail(down) })
          )
        )
      }
      cleanups.push(watchExits((a) => drop(a.node, a.reason)))
      for (const n of yield* node.whereis(clusterName)) track(n.id)
      if (serving.size === 0) {
        // nobody serves it (yet): give a starting node one liveness timeout to show up
        yield* Effect.forkDetach(
          Effect.gen(function*() {
            yield* Effect.sleep(Duration.millis(node.livenessTimeoutMs))
            const now = yield* node.whereis(clusterName)
            if (now.length === 0) {
              const error = new NoResponders({ actor: clusterName, subject })
              return finish({ _tag: "Failure", message: error.message, cause: Cause.fail(error) })
            }
            for (const n of now) track(n.id)
          })
        )
      }
      return Deferred.await(deferred)
    })

  const remoteRef: RemoteActorRef<P> = {
    [TypeId]: TypeId,
    id: `nats:${clusterName}`,
    name: clusterName,
    protocol,
    subject,
    askRemote,
    tellRemote,
    ask: (message, askOptions) => askWith(message, askOptions, asUnreachable) as never,
    tell: (message) => Effect.mapError(tellRemote(message), asActorError) as Effect.Effect<void, SendError>,
    monitor
  }
  return remoteRef
})
