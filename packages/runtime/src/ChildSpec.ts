/**
 * What a supervisor runs: a child spec names a long-running process and says when to restart it and how long
 * it may take to shut down.
 *
 * A child has two phases. `start` (OTP's init) runs first and returns the process to run; the child counts as
 * started when it succeeds, and a failure there is a start failure (it counts toward restart intensity like a
 * crash). The process then runs until it returns (a normal exit), fails, or is stopped. Both phases run in the
 * child's fiber with the child's own Scope, which the supervisor closes when the incarnation ends.
 */
import { Effect, Layer } from "effect"
import type { Duration, Scope } from "effect"
import type { ExitReason } from "./ActorError.ts"
import type { ActorStats } from "./SupervisorEvent.ts"

/** permanent: always restarted; transient: restarted only after an abnormal exit; temporary: never restarted. */
export type RestartType = "permanent" | "transient" | "temporary"

/** A grace period for finalizers, after which they are interrupted; "brutal" interrupts them at once. */
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
 * const ticker = ChildSpec.make("ticker", Effect.forever(Effect.sleep("1 second")), { restart: "permanent" })
 */
export const make = <A, E, R>(id: string, run: Effect.Effect<A, E, R>, options?: Options): ChildSpec<Exclude<R, Scope.Scope>> => ({
  id,
  restart: options?.restart ?? "permanent",
  shutdown: options?.shutdown ?? DEFAULT_SHUTDOWN,
  start: Effect.succeed(run as Effect.Effect<unknown, unknown, Exclude<R, Scope.Scope> | Scope.Scope>)
})

/**
 * A child with an explicit start phase: `init` runs first (failures are start failures) and returns the process.
 *
 * @example
 * const conn = ChildSpec.withInit("db", openConnection, (c) => serve(c))
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
 * const pool = ChildSpec.layer("pool", PoolLive, { shutdown: "10 seconds" })
 */
export const layer = <ROut, E, RIn>(id: string, layer: Layer.Layer<ROut, E, RIn>, options?: Options): ChildSpec<RIn> => ({
  id,
  restart: options?.restart ?? "permanent",
  shutdown: options?.shutdown ?? DEFAULT_SHUTDOWN,
  start: Effect.as(Layer.build(layer), Effect.never)
})
