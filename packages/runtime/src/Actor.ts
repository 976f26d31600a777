/**
 * Typed local actors: a fiber that owns a state, serves a bounded mailbox one message at a time, and speaks a
 * `Protocol`. Run one under a supervisor (`Actor.spec`) or on its own in a Scope (`Actor.start`); either way you
 * talk to it through its `ActorRef`.
 *
 * Handler results: `[reply, nextState]`. A handler's typed error (declared in the protocol) goes back to the asker
 * and the actor keeps its state and keeps serving; a defect (or `LinkedExit`) crashes the incarnation: the message
 * being handled fails with `ActorGone`, and the supervisor restarts the actor from its initial state (or `init`).
 * Messages that arrive while it restarts wait in the mailbox (see ActorRef.ts for the full contract).
 */
import { Deferred, Effect, Exit } from "effect"
import type { Cause, Scope } from "effect"
import type { ExitReason } from "./ActorError.ts"
import { ExitReasons, LinkedExit } from "./ActorError.ts"
import type { ActorRef } from "./ActorRef.ts"
import * as ChildSpec from "./ChildSpec.ts"
import { ActorCell, complete, isTypedFailure, type Run } from "./internal/actorCell.ts"
import type { Options as MailboxOptions } from "./Mailbox.ts"
import type * as Protocol from "./Protocol.ts"
import type { ActorStats } from "./SupervisorEvent.ts"

export interface ActorContext<P extends Protocol.Any> {
  readonly self: ActorRef<P>
  readonly name: string
  /** 1 for the first incarnation, +1 per restart. */
  readonly incarnation: number
  /** Ends this incarnation normally after the current message (a transient/temporary child is not restarted). */
  readonly stop: Effect.Effect<void>
}

export type Handlers<P extends Protocol.Any, S, R> = {
  readonly [T in Protocol.Tags<P>]: (
    message: Protocol.Message<P, T>,
    state: S,
    ctx: ActorContext<P>
  ) => Effect.Effect<readonly [Protocol.Reply<P, T>, S], Protocol.HandlerError<P, T>, R>
}

export interface Definition<P extends Protocol.Any, S, R = never, EI = never> {
  readonly name?: string | undefined
  readonly protocol: P
  readonly initialState: S
  /** Computes the state at the start of each incarnation (e.g. reload persisted state); failures are start failures. */
  readonly init?: Effect.Effect<S, EI, R | Scope.Scope> | undefined
  readonly handlers: Handlers<P, S, R>
  readonly mailbox?: MailboxOptions | undefined
}

/**
 * Defines an actor (nothing runs yet).
 *
 * @example
 * ```ts
 * import { Actor, Protocol } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = Actor.make({
 *   protocol: Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number } }),
 *   initialState: 0,
 *   // a handler returns [reply, nextState]
 *   handlers: { Add: ({ n }, s) => Effect.succeed([s + n, s + n] as const) }
 * })
 * ```
 */
export const make = <P extends Protocol.Any, S, R = never, EI = never>(
  definition: Definition<P, S, R, EI>
): Definition<P, S, R, EI> => definition

/**
 * One incarnation: the start phase computes the state; the returned process marks the incarnation running and
 * registers its end on its own fiber (an observer, so it runs even if the fiber is interrupted early), then runs
 * the message loop racing a link kill. (`Actor.start` runs the process at once, so it is running on return.)
 */
const incarnation = <P extends Protocol.Any, S, R, EI>(cell: ActorCell<P>, def: Definition<P, S, R, EI>) =>
  Effect.map(initialState(def), (state0) =>
    Effect.withFiber((fiber) => {
      const run = cell.begin()
      fiber.addObserver((exit) => cell.end(run, exit))
      return process(cell, def, state0, run)
    }))

const initialState = <P extends Protocol.Any, S, R, EI>(def: Definition<P, S, R, EI>) =>
  def.init === undefined ? Effect.succeed(def.initialState) : def.init

/**
 * A supervised incarnation's start phase runs in the child's own fiber: it marks the incarnation running there,
 * before the supervisor reports the child started, so that a ref used right after `Supervisor.make` returns (a
 * link, a monitor) sees this incarnation and not the one before it.
 */
const supervisedIncarnation = <P extends Protocol.Any, S, R, EI>(cell: ActorCell<P>, def: Definition<P, S, R, EI>) =>
  Effect.flatMap(initialState(def), (state0) =>
    Effect.withFiber((fiber) => {
      const run = cell.begin()
      fiber.addObserver((exit) => cell.end(run, exit))
      return Effect.succeed(process(cell, def, state0, run))
    }))

const process = <P extends Protocol.Any, S, R, EI>(
  cell: ActorCell<P>,
  def: Definition<P, S, R, EI>,
  state0: S,
  run: Run
) =>
  Effect.suspend(() => {
    let stopRequested = false
    const ctx: ActorContext<P> = {
      self: cell,
      name: cell.name,
      incarnation: run.n,
      stop: Effect.sync(() => {
        stopRequested = true
      })
    }
    const handlers = def.handlers as unknown as Record<
      string,
      (m: unknown, s: S, c: ActorContext<P>) => Effect.Effect<readonly [unknown, S], unknown, R>
    >
    const loop = Effect.gen(function*() {
      let state = state0
      const box = cell.mailbox
      // A run the supervisor counted out (it lingered past its shutdown) takes no more messages: they belong
      // to the next incarnation.
      while (!stopRequested && cell.live === run) {
        const env = box.pollUnsafe() ?? (yield* box.take) // sets run.current
        const exit = yield* Effect.exit(handlers[env.msg._tag]!(env.msg, state, ctx))
        cell.processed++
        if (Exit.isSuccess(exit)) {
          run.current = undefined
          state = exit.value[1]
          complete(env, Exit.succeed(exit.value[0]))
        } else if (isTypedFailure(exit.cause)) {
          run.current = undefined
          complete(env, exit)
        } else {
          return yield* Effect.failCause(exit.cause)
        }
      }
    })
    return Effect.raceFirst(loop, Deferred.await(run.kill))
  })

export interface ActorSpec<P extends Protocol.Any, R> extends ChildSpec.ChildSpec<R> {
  /** The actor's ref; valid across restarts of this child. */
  readonly ref: ActorRef<P>
}

/**
 * A supervisor child running this actor. The ref exists (and queues messages) before the child starts.
 *
 * @example
 * ```ts
 * import { Actor, Protocol, Supervisor } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = Actor.make({
 *   protocol: Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number } }),
 *   initialState: 0,
 *   handlers: { Add: ({ n }, s) => Effect.succeed([s + n, s + n] as const) }
 * })
 * const counter = Actor.spec(Counter, { id: "counter", restart: "permanent" })
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   yield* Supervisor.make({ children: [counter] })
 *   return yield* counter.ref.ask({ _tag: "Add", n: 1 }) // 1
 * }))
 * ```
 */
export const spec = <P extends Protocol.Any, S, R, EI>(
  definition: Definition<P, S, R, EI>,
  options?: ChildSpec.Options & { readonly id?: string | undefined }
): ActorSpec<P, R> => {
  const cell = new ActorCell(definition.protocol, {
    name: definition.name ?? options?.id,
    mailbox: definition.mailbox,
    supervised: true
  })
  return {
    id: options?.id ?? cell.name,
    restart: options?.restart ?? "permanent",
    shutdown: options?.shutdown ?? ChildSpec.DEFAULT_SHUTDOWN,
    start: supervisedIncarnation(cell, definition) as ChildSpec.ChildSpec<R>["start"],
    onStopped: (reason) => Effect.sync(() => cell.stop(reason)),
    onExited: (reason) => Effect.sync(() => cell.counted(reason)),
    stats: () => cell.stats(),
    ref: cell
  }
}

/**
 * Starts an unsupervised actor in the current Scope; closing the scope stops it (asks then fail with ActorGone).
 *
 * @example
 * ```ts
 * import { Actor, Protocol } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = Actor.make({
 *   protocol: Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number } }),
 *   initialState: 0,
 *   handlers: { Add: ({ n }, s) => Effect.succeed([s + n, s + n] as const) }
 * })
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const ref = yield* Actor.start(Counter) // stops when the scope closes
 *   yield* ref.tell({ _tag: "Add", n: 2 })
 *   return yield* ref.ask({ _tag: "Add", n: 1 }) // 3
 * }))
 * console.log(await Effect.runPromise(program))
 * ```
 */
export const start = <P extends Protocol.Any, S, R, EI>(
  definition: Definition<P, S, R, EI>
): Effect.Effect<ActorRef<P>, EI, R | Scope.Scope> =>
  Effect.gen(function*() {
    const cell = new ActorCell(definition.protocol, {
      name: definition.name,
      mailbox: definition.mailbox,
      supervised: false
    })
    const run = yield* incarnation(cell, definition)
    const fiber = yield* Effect.forkScoped(run, { startImmediately: true, uninterruptible: false })
    // Covers a fiber interrupted before it began (the incarnation's own observer then never registered).
    fiber.addObserver((exit) =>
      cell.stop(Exit.isSuccess(exit) ? ExitReasons.normal : ExitReasons.fromCause(exit.cause))
    )
    return cell as ActorRef<P>
  })

const asCell = <P extends Protocol.Any>(
  ref: ActorRef<P>
): ActorCell<P> | undefined => (ref instanceof ActorCell ? ref : undefined)

/** Live counters of a local actor (undefined for a remote ref). */
export const stats = <P extends Protocol.Any>(ref: ActorRef<P>): ActorStats | undefined => asCell(ref)?.stats()

/**
 * Links two actors' current incarnations (OTP `link`): when either exits with anything but a normal exit (a
 * crash, a shutdown by its supervisor, an escalation, its node going down), the other is terminated with a
 * `LinkedExit` failure; its exit reason is `Linked` with the peer's name and the kind of the peer's exit
 * (`peerExit`). A propagated shutdown counts as a shutdown, as in OTP: a `transient` child terminated by it is not
 * restarted, a `permanent` one is. Only a normal exit does not propagate. The link fires at most once and ends with
 * the scope; remote refs are watched but cannot be terminated from here.
 *
 * @example
 * ```ts
 * import { Actor, Protocol } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Worker = Actor.make({
 *   protocol: Protocol.make({ Ping: { success: Schema.Literal("pong") } }),
 *   initialState: null,
 *   handlers: { Ping: (_, s) => Effect.succeed(["pong", s] as const) }
 * })
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cache = yield* Actor.start(Worker)
 *   const writer = yield* Actor.start(Worker)
 *   yield* Actor.link(cache, writer) // a crash of either now terminates the other
 * }))
 * ```
 */
export const link = <A extends Protocol.Any, B extends Protocol.Any>(
  a: ActorRef<A>,
  b: ActorRef<B>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ca = asCell(a)
    const cb = asCell(b)
    const na = ca?.incarnation ?? 0
    const nb = cb?.incarnation ?? 0
    const wa = yield* a.monitor()
    const wb = yield* b.monitor()
    const watch = Effect.raceFirst(
      Effect.map(wa, (r) => ({ from: a, to: cb, n: nb, r })),
      Effect.map(wb, (r) => ({ from: b, to: ca, n: na, r }))
    ).pipe(
      Effect.flatMap(({ from, to, n, r }) =>
        Effect.sync(() => {
          if (ExitReasons.propagates(r)) to?.killUnsafe(n, from.name, r)
        })
      )
    )
    yield* Effect.forkScoped(watch, { uninterruptible: false })
  })

/**
 * Runs `effect` linked to `ref`'s current incarnation: if the actor exits first with anything but a normal exit
 * (a crash or a shutdown), `effect` is interrupted and fails with `LinkedExit`; if `effect` fails, the actor is
 * terminated with `LinkedExit` (peer "linked effect"). Interrupting `effect` itself is its owner's decision and
 * does not propagate.
 *
 * @example
 * ```ts
 * import { Actor, Protocol } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Worker = Actor.make({
 *   protocol: Protocol.make({ Ping: { success: Schema.Literal("pong") } }),
 *   initialState: null,
 *   handlers: { Ping: (_, s) => Effect.succeed(["pong", s] as const) }
 * })
 * const pollForever = Effect.log("polling").pipe(Effect.delay("1 second"), Effect.forever)
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const worker = yield* Actor.start(Worker)
 *   // fails with LinkedExit if the worker crashes; a failure of the poll kills the worker
 *   yield* Actor.linked(worker, pollForever)
 * }))
 * ```
 */
export const linked = <P extends Protocol.Any, A, E, R>(
  ref: ActorRef<P>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | LinkedExit, R> =>
  Effect.scoped(Effect.gen(function*() {
    const cell = asCell(ref)
    const n = cell?.incarnation ?? 0
    const watch = yield* ref.monitor()
    const peerExit = Effect.flatMap(
      watch,
      (r) => (ExitReasons.propagates(r) ? Effect.fail(new LinkedExit({ peer: ref.name, reason: r })) : Effect.never)
    )
    return yield* Effect.raceFirst(effect, peerExit).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          if (Exit.isFailure(exit) && !isLinkFailure(exit.cause)) {
            cell?.killUnsafe(n, "linked effect", {
              _tag: "Failure",
              message: "linked effect failed",
              cause: exit.cause
            })
          }
        })
      )
    )
  }))

const isLinkFailure = (cause: Cause.Cause<unknown>) =>
  cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof LinkedExit) ||
  cause.reasons.every((r) => r._tag === "Interrupt")

/** Waits until the actor stops for good (not a restart) and returns the final reason. Local refs only. */
export const awaitStopped = <P extends Protocol.Any>(ref: ActorRef<P>): Effect.Effect<ExitReason> => {
  const cell = asCell(ref)
  return cell === undefined
    ? Effect.scoped(Effect.flatten(ref.monitor()))
    : Effect.suspend(() => Deferred.await(cell.terminal))
}
