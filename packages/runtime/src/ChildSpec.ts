/**
 * What a supervisor runs: a child spec names a long-running process and says when to restart it and how long
 * it may take to shut down.
 *
 * A child has two phases. `start` (OTP's init) runs first and returns the process to run; the child counts as
 * started when it succeeds, and a failure there is a start failure (it counts toward restart intensity like a
 * crash). The process then runs until it returns (a normal exit), fails, or is stopped. Both phases run in the
 * child's fiber with the child's own Scope, which the supervisor closes when the incarnation ends.
 *
 * Stopping on time: a stop interrupts the child's fiber and then closes its Scope, giving the finalizers the
 * child's `shutdown` (interrupting the one still running when it ends). Put cleanup that may be slow in the
 * child's Scope (`Effect.acquireRelease`, `Effect.addFinalizer` in the start phase or the process): there it is
 * bounded. What the child's own fiber does uninterruptibly (`Effect.uninterruptible`, the release of an inner
 * `Effect.scoped`, `Effect.ensuring`) cannot be cut; when it outlasts the shutdown the supervisor stops waiting,
 * reports the incarnation as lingering (`ChildWouldNotStop`) and goes on — a restart then starts the next
 * incarnation while the old one is still releasing. A child whose resources must not overlap (a port, a lock
 * file) waits for that in its start phase with `ChildSpec.awaitPreviousRelease`.
 */
import { Effect, Layer } from "effect"
import type { Duration, Scope } from "effect"
import type { ExitReason } from "./ActorError.ts"
import { CurrentChildSlot } from "./internal/slot.ts"
import type { ActorStats } from "./SupervisorEvent.ts"

/** permanent: always restarted; transient: restarted only after an abnormal exit; temporary: never restarted. */
export type RestartType = "permanent" | "transient" | "temporary"

/**
 * A grace period for finalizers, after which they are interrupted; "brutal" interrupts them at once. Either way
 * the supervisor waits no longer (see the module doc); `"Infinity"` waits for as long as the stop takes.
 */
export type Shutdown = Duration.Input | "brutal"

export interface ChildSpec<R = never> {
  readonly id: string
  readonly restart: RestartType
  readonly shutdown: Shutdown
  readonly start: Effect.Effect<Effect.Effect<unknown, unknown, R | Scope.Scope>, unknown, R | Scope.Scope>
  /**
   * Called when the supervisor stops this child for good (no restart follows now): it exited and its restart
   * type says no, or it was terminated/deleted, or the supervisor stopped. Actors use it to fail pending asks.
   */
  readonly onStopped?: ((reason: ExitReason) => Effect.Effect<void>) | undefined
  /** Called when an incarnation ends and a restart may follow (status "restarting"). */
  readonly onExited?: ((reason: ExitReason) => Effect.Effect<void>) | undefined
  /** Live counters shown in the supervisor's snapshot (actors). */
  readonly stats?: (() => ActorStats) | undefined
}

export interface Options {
  readonly restart?: RestartType | undefined
  /** Default 5 seconds. */
  readonly shutdown?: Shutdown | undefined
}

export const DEFAULT_SHUTDOWN: Shutdown = "5 seconds"

/**
 * A child running `run` (a process effect; it may use `Scope`).
 *
 * @example
 * ```ts
 * import { ChildSpec } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const ticker = ChildSpec.make("ticker", Effect.log("tick").pipe(Effect.delay("1 second"), Effect.forever), { restart: "permanent" })
 * ```
 */
export const make = <A, E, R>(
  id: string,
  run: Effect.Effect<A, E, R>,
  options?: Options
): ChildSpec<Exclude<R, Scope.Scope>> => ({
  id,
  restart: options?.restart ?? "permanent",
  shutdown: options?.shutdown ?? DEFAULT_SHUTDOWN,
  start: Effect.succeed(run as Effect.Effect<unknown, unknown, Exclude<R, Scope.Scope> | Scope.Scope>)
})

/**
 * A child with an explicit start phase: `init` runs first (failures are start failures) and returns the process.
 *
 * @example
 * ```ts
 * import { ChildSpec } from "@dspex/runtime"
 * import { Effect } from "effect"
 * import { open } from "node:fs/promises"
 *
 * const auditLog = ChildSpec.withInit(
 *   "audit-log",
 *   // start phase: failing to open the file is a start failure; the file is closed when the child stops
 *   Effect.acquireRelease(Effect.tryPromise(() => open("audit.log", "a")), (file) => Effect.promise(() => file.close())),
 *   (file) => Effect.promise(() => file.appendFile("tick\n")).pipe(Effect.delay("1 second"), Effect.forever)
 * )
 * ```
 */
export const withInit = <I, E1, R1, A, E2, R2>(
  id: string,
  init: Effect.Effect<I, E1, R1>,
  run: (init: I) => Effect.Effect<A, E2, R2>,
  options?: Options
): ChildSpec<Exclude<R1 | R2, Scope.Scope>> => ({
  id,
  restart: options?.restart ?? "permanent",
  shutdown: options?.shutdown ?? DEFAULT_SHUTDOWN,
  start: Effect.map(init, run) as ChildSpec<Exclude<R1 | R2, Scope.Scope>>["start"]
})

/**
 * A child that builds a Layer (its start phase) and holds it until stopped; stopping releases the layer.
 *
 * @example
 * ```ts
 * import { ChildSpec } from "@dspex/runtime"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Pool extends Context.Service<Pool, { readonly size: number }>()("app/Pool") {}
 * const PoolLive = Layer.effect(Pool, Effect.acquireRelease(Effect.succeed({ size: 4 }), () => Effect.log("pool closed")))
 *
 * // the child builds the layer and holds it; stopping the child releases it
 * const pool = ChildSpec.fromLayer("pool", PoolLive, { shutdown: "10 seconds" })
 * ```
 */
export const fromLayer = <ROut, E, RIn>(
  id: string,
  layer: Layer.Layer<ROut, E, RIn>,
  options?: Options
): ChildSpec<RIn> => ({
  id,
  restart: options?.restart ?? "permanent",
  shutdown: options?.shutdown ?? DEFAULT_SHUTDOWN,
  start: Effect.as(Layer.build(layer), Effect.never)
})

/**
 * In a child's start phase: waits until every earlier incarnation of this child that did not stop within its
 * shutdown (a lingering one) has finished releasing. Completes at once when there is none, and outside a
 * supervisor.
 *
 * @example
 * ```ts
 * import { ChildSpec } from "@dspex/runtime"
 * import { Effect } from "effect"
 * import { open, unlink } from "node:fs/promises"
 *
 * const lockFile = Effect.acquireRelease(
 *   Effect.tryPromise(() => open("worker.lock", "wx")), // fails if the file exists
 *   (file) => Effect.promise(() => file.close().then(() => unlink("worker.lock")))
 * )
 * // a restarted incarnation takes the lock only once the previous one has released it
 * const worker = ChildSpec.withInit("worker", Effect.andThen(ChildSpec.awaitPreviousRelease, lockFile), () => Effect.never)
 * ```
 */
export const awaitPreviousRelease: Effect.Effect<void> = Effect.gen(function*() {
  const slot = yield* CurrentChildSlot
  if (slot !== undefined) yield* slot.previousReleased
})
