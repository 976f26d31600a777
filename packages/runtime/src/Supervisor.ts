/**
 * OTP-style supervisors on Effect. A supervisor starts an ordered list of children, restarts them per their
 * restart type and its strategy, and gives up (escalates) when they crash more than `maxRestarts` times within
 * `within`: it then stops all its children in reverse order and fails with `SupervisorEscalation`, which a parent
 * supervisor sees as a crash of the child that runs it (`Supervisor.spec`).
 *
 * Lifetimes are scopes: `make` ties the supervisor to the caller's Scope; closing it stops the children in reverse
 * start order (each within its shutdown grace period) and leaves no fiber running.
 *
 * Strategies: `oneForOne` restarts only the crashed child; `oneForAll` stops all other children (reverse order)
 * and restarts them all in start order; `restForOne` does the same for the crashed child and those started after
 * it. Every crash that leads to a restart counts once toward the intensity; a start failure counts as a crash.
 */
import { Context, Deferred, Duration, Effect, PubSub, Stream } from "effect"
import type { Schedule, Scope } from "effect"
import type { ChildNotFound, ChildStartFailed, DuplicateChild, SupervisorEscalation, SupervisorNotRunning } from "./ActorError.ts"
import * as ChildSpec from "./ChildSpec.ts"
import * as internal from "./internal/supervisor.ts"
import type { Strategy, SupervisorEvent, SupervisorSnapshot } from "./SupervisorEvent.ts"

export type { Strategy, SupervisorEvent, SupervisorSnapshot } from "./SupervisorEvent.ts"

export interface Options<R = never> {
  /** Shown in events, snapshots, errors and metrics. Default "supervisor-<n>". */
  readonly name?: string | undefined
  /** Default "oneForOne". */
  readonly strategy?: Strategy | undefined
  /** Default 3. */
  readonly maxRestarts?: number | undefined
  /** Default 5 seconds. */
  readonly within?: Duration.Input | undefined
  /** Delay before each restart (its input is ignored); reset after a quiet `within` period. */
  readonly backoff?: Schedule.Schedule<unknown, unknown> | undefined
  readonly children?: ReadonlyArray<ChildSpec.ChildSpec<R>> | undefined
}

export interface Supervisor {
  readonly name: string
  /** Adds and starts a child at the end of the list. Its initial start failure is reported, not retried. */
  readonly startChild: <R>(spec: ChildSpec.ChildSpec<R>) => Effect.Effect<void, DuplicateChild | ChildStartFailed | SupervisorNotRunning, R>
  /** Stops a child for good (it stays listed as stopped; temporary children are removed). */
  readonly terminateChild: (id: string) => Effect.Effect<void, ChildNotFound | SupervisorNotRunning>
  /** Stops (if running) and starts a child again. */
  readonly restartChild: (id: string) => Effect.Effect<void, ChildNotFound | ChildStartFailed | SupervisorNotRunning>
  /** Stops (if running) and removes a child. */
  readonly deleteChild: (id: string) => Effect.Effect<void, ChildNotFound | SupervisorNotRunning>
  /** The tree under this supervisor, including nested supervisors and actor counters. */
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
 * const restarts = yield* Metric.value(Metric.withAttributes(Supervisor.metrics.restarts, { supervisor: "root" }))
 */
export const metrics = {
  restarts: internal.restartsCounter,
  escalations: internal.escalationsCounter
} as const

let counter = 0

const config = (options: Options<any>): internal.Config => ({
  name: options.name ?? `supervisor-${++counter}`,
  strategy: options.strategy ?? "oneForOne",
  maxRestarts: options.maxRestarts ?? 3,
  withinMs: Duration.toMillis(Duration.fromInputUnsafe(options.within ?? "5 seconds")),
  backoff: options.backoff
})

/**
 * Starts a supervisor and its children (in order) in the current Scope.
 *
 * @example
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ strategy: "oneForOne", children: [ChildSpec.make("worker", work)] })
 *   yield* sup.join
 * }))
 */
export const make = <R = never>(options: Options<R> = {}): Effect.Effect<Supervisor, SupervisorEscalation, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const handle = yield* internal.make(config(options), options.children ?? [], context)
    return fromHandle(handle)
  })

const fromHandle = (h: internal.Handle): Supervisor => ({
  name: h.name,
  startChild: <R>(spec: ChildSpec.ChildSpec<R>) =>
    Effect.flatMap(Effect.context<R>(), (ctx) => h.makeStart(spec, ctx as Context.Context<any>)),
  terminateChild: (id) => h.makeCommand("Terminate", id) as Effect.Effect<void, ChildNotFound | SupervisorNotRunning>,
  restartChild: (id) => h.makeCommand("Restart", id),
  deleteChild: (id) => h.makeCommand("Delete", id) as Effect.Effect<void, ChildNotFound | SupervisorNotRunning>,
  snapshot: Effect.sync(h.snapshotUnsafe),
  events: Stream.fromPubSub(h.events),
  subscribe: PubSub.subscribe(h.events),
  join: Deferred.await(h.done)
})

/**
 * Runs a supervisor until it stops; fails with `SupervisorEscalation` if it gives up.
 *
 * @example
 * yield* Supervisor.run({ children: [a, b] }) // never returns unless escalated or interrupted
 */
export const run = <R = never>(options: Options<R> = {}): Effect.Effect<void, SupervisorEscalation, R> =>
  Effect.scoped(Effect.flatMap(make(options), (s) => s.join))

/**
 * A nested supervisor as a child of another: its escalation is a crash of this child in the parent.
 * Default shutdown: unbounded, so that its own children get their grace periods.
 *
 * @example
 * const tree = Supervisor.make({ children: [Supervisor.spec("workers", { strategy: "oneForAll", children })] })
 */
export const spec = <R = never>(id: string, options: Options<R> = {}, childOptions?: ChildSpec.Options): ChildSpec.ChildSpec<R> =>
  ChildSpec.withInit(id, make({ name: id, ...options }), (s) => s.join, {
    restart: childOptions?.restart ?? "permanent",
    shutdown: childOptions?.shutdown ?? "Infinity"
  })
