/**
 * OTP-style supervisors on Effect. A supervisor starts an ordered list of children, restarts them per their
 * restart type and its strategy, and gives up (escalates) when they crash more than `maxRestarts` times within
 * `within`: it then stops all its children in reverse order and fails with `SupervisorEscalation`, which a parent
 * supervisor sees as the exit of the child that runs it (`Supervisor.spec`) with reason `Escalated` — restarted by
 * a `permanent` spec, not by a `transient` one (OTP exits it with `shutdown`).
 *
 * Starting: `make` starts the children in order and fails with `ChildStartFailed` (child id and cause) as soon as
 * one cannot start, after stopping those already started in reverse order (OTP's `start_link` error).
 *
 * Lifetimes are scopes: `make` ties the supervisor to the caller's Scope; closing it stops the children in reverse
 * start order, each within its shutdown (grace period for its finalizers, or "brutal"). The supervisor never waits
 * longer than that: a child that will not stop in time (uninterruptible work in its own fiber) is left to finish in
 * the background and reported (`ChildWouldNotStop`, `lingering` in the snapshot, a metric); see ChildSpec.
 *
 * Strategies: `oneForOne` restarts only the crashed child; `oneForAll` stops all other children (reverse order)
 * and restarts them all in start order; `restForOne` does the same for the crashed child and those started after
 * it. A group restart also starts the group's stopped children again, and counts once toward the intensity.
 * Every crash that leads to a restart counts once toward the intensity; a failed restart counts as a crash.
 */
import { Context, Deferred, Duration, Effect, PubSub, Stream } from "effect"
import type { Schedule, Scope } from "effect"
import type {
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  DuplicateChild,
  SupervisorEscalation,
  SupervisorNotRunning
} from "./ActorError.ts"
import * as ChildSpec from "./ChildSpec.ts"
import { Backoff } from "./internal/intensity.ts"
import * as internal from "./internal/supervisor.ts"
import type { SupervisorEvent, SupervisorSnapshot } from "./SupervisorEvent.ts"

/** Which children a crash restarts: the crashed one, all of them, or the crashed one and those started after it. */
export type Strategy = "oneForOne" | "oneForAll" | "restForOne"

export interface Options<R = never> {
  /** Shown in events, snapshots, errors and metrics (a metric attribute: keep it stable). Default "supervisor". */
  readonly name?: string | undefined
  /** Default "oneForOne". */
  readonly strategy?: Strategy | undefined
  /** Default 3. */
  readonly maxRestarts?: number | undefined
  /** Default 5 seconds. */
  readonly within?: Duration.Input | undefined
  /** Delay before each restart (its input is ignored); reset after a quiet `within` period. */
  readonly backoff?: Schedule.Schedule<unknown, unknown> | undefined
  /** Events kept for a subscriber that falls behind; beyond it, it loses the oldest (counted). Default 1024. */
  readonly eventBuffer?: number | undefined
  readonly children?: ReadonlyArray<ChildSpec.ChildSpec<R>> | undefined
}

export interface Supervisor {
  readonly name: string
  /** Adds and starts a child at the end of the list. Its initial start failure is reported, not retried. */
  readonly startChild: <R>(
    spec: ChildSpec.ChildSpec<R>
  ) => Effect.Effect<void, DuplicateChild | ChildStartFailed | SupervisorNotRunning, R>
  /** Stops a child for good (it stays listed as stopped; temporary children are removed). */
  readonly terminateChild: (id: string) => Effect.Effect<void, ChildNotFound | SupervisorNotRunning>
  /** Starts a stopped child again; a running one is refused with `ChildRunning` (terminate it first), as in OTP. */
  readonly restartChild: (
    id: string
  ) => Effect.Effect<void, ChildNotFound | ChildRunning | ChildStartFailed | SupervisorNotRunning>
  /** Removes a stopped child; a running one is refused with `ChildRunning` (terminate it first), as in OTP. */
  readonly deleteChild: (id: string) => Effect.Effect<void, ChildNotFound | ChildRunning | SupervisorNotRunning>
  /** The tree under this supervisor, including nested supervisors, actor counters and lingering incarnations. */
  readonly snapshot: Effect.Effect<SupervisorSnapshot>
  /** Events from the moment the stream is run; ends when the supervisor stops. */
  readonly events: Stream.Stream<SupervisorEvent>
  /** A subscription that is live as soon as this effect returns (no event is missed after it). */
  readonly subscribe: Effect.Effect<PubSub.Subscription<SupervisorEvent>, never, Scope.Scope>
  /** Completes when the supervisor stops; fails when it escalated. */
  readonly join: Effect.Effect<void, SupervisorEscalation>
}

/**
 * Counters every supervisor updates, with a `supervisor` attribute (its name).
 *
 * @example
 * ```ts
 * import { Supervisor } from "@dspex/runtime"
 * import { Effect, Metric } from "effect"
 *
 * const restarts = Effect.gen(function*() {
 *   const state = yield* Metric.value(Metric.withAttributes(Supervisor.metrics.restarts, { supervisor: "root" }))
 *   return state.count // restarts so far under the supervisor named "root"
 * })
 * ```
 */
export const metrics = {
  restarts: internal.restartsCounter,
  escalations: internal.escalationsCounter,
  shutdownTimeouts: internal.shutdownTimeoutsCounter
} as const

const config = (options: Options<unknown>): internal.Config => ({
  name: options.name ?? "supervisor",
  strategy: options.strategy ?? "oneForOne",
  maxRestarts: options.maxRestarts ?? 3,
  withinMs: Duration.toMillis(Duration.fromInputUnsafe(options.within ?? "5 seconds")),
  backoff: new Backoff(options.backoff),
  eventBuffer: Math.max(1, options.eventBuffer ?? 1024)
})

/**
 * Starts a supervisor and its children (in order) in the current Scope.
 *
 * @example
 * ```ts
 * import { ChildSpec, Supervisor } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const work = Effect.log("working").pipe(Effect.delay("1 second"), Effect.forever)
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ strategy: "oneForOne", children: [ChildSpec.make("worker", work)] })
 *   yield* sup.join // fails with SupervisorEscalation if the tree gives up
 * }))
 * ```
 */
export const make = <R = never>(
  options: Options<R> = {}
): Effect.Effect<Supervisor, ChildStartFailed, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const state = yield* internal.make(
      config(options),
      (options.children ?? []) as ReadonlyArray<ChildSpec.ChildSpec<unknown>>,
      context as Context.Context<unknown>
    )
    return fromState(state)
  })

const fromState = (s: internal.SupervisorState): Supervisor => ({
  name: s.name,
  startChild: <R>(spec: ChildSpec.ChildSpec<R>) =>
    Effect.flatMap(
      Effect.context<R>(),
      (ctx) => internal.startChild(s, spec as ChildSpec.ChildSpec<unknown>, ctx as Context.Context<unknown>)
    ),
  terminateChild: (id) => internal.terminateChild(s, id),
  restartChild: (id) => internal.restartChild(s, id),
  deleteChild: (id) => internal.deleteChild(s, id),
  snapshot: Effect.sync(() => internal.snapshotOf(s)),
  events: Stream.fromPubSub(s.events),
  subscribe: PubSub.subscribe(s.events),
  join: Deferred.await(s.done)
})

/**
 * Runs a supervisor until it stops; fails with `ChildStartFailed` if a child cannot start, and with
 * `SupervisorEscalation` if it gives up.
 *
 * @example
 * ```ts
 * import { ChildSpec, Supervisor } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const work = Effect.log("working").pipe(Effect.delay("1 second"), Effect.forever)
 * const a = ChildSpec.make("a", work)
 * const b = ChildSpec.make("b", work)
 *
 * const program = Supervisor.run({ children: [a, b] }) // never returns unless escalated or interrupted
 * ```
 */
export const run = <R = never>(
  options: Options<R> = {}
): Effect.Effect<void, ChildStartFailed | SupervisorEscalation, R> =>
  Effect.scoped(Effect.flatMap(make(options), (s) => s.join))

/**
 * A nested supervisor as a child of another. Its escalation ends this child with reason `Escalated`: a
 * `permanent` spec (the default) restarts it, a `transient` one does not (as OTP's `shutdown` exit). Its start
 * failure is this child's start failure. Default shutdown: unbounded, so that its own children get their
 * shutdowns (each bounded by its own).
 *
 * @example
 * ```ts
 * import { ChildSpec, Supervisor } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const work = Effect.log("working").pipe(Effect.delay("1 second"), Effect.forever)
 * const children = [ChildSpec.make("fetcher", work), ChildSpec.make("parser", work)]
 *
 * // a nested supervisor: if it gives up, the root sees its child "workers" exit with reason Escalated
 * const tree = Supervisor.make({ children: [Supervisor.spec("workers", { strategy: "oneForAll", children })] })
 * ```
 */
export const spec = <R = never>(
  id: string,
  options: Options<R> = {},
  childOptions?: ChildSpec.Options
): ChildSpec.ChildSpec<R> =>
  ChildSpec.withInit(id, make({ name: id, ...options }), (s) => s.join, {
    restart: childOptions?.restart ?? "permanent",
    shutdown: childOptions?.shutdown ?? "Infinity"
  })
