/**
 * Stopping one child incarnation within its shutdown budget, without ever waiting longer than that budget.
 *
 * Effect's `Scope.close` runs finalizers uninterruptibly, which would make a grace period unenforceable: a slow
 * finalizer could hold a supervisor (and its whole restart) hostage. So the supervisor owns each child's Scope and
 * closes it itself: finalizers run last-in first-out, each one interruptibly; the one still running when the
 * grace period ends is interrupted, and the remaining ones are started and interrupted at their first suspension
 * point (their synchronous part still runs, so e.g. `forkScoped` fibers still receive their interrupt signal and
 * unwind right after, instead of leaking). `"brutal"` is a grace period of zero.
 *
 * Some work cannot be cut by anyone in Effect: what a child's fiber does uninterruptibly in its own body (an
 * `Effect.uninterruptible` region, the release of an inner `Effect.scoped`, an `Effect.ensuring`). OTP's kill
 * after the timeout is unconditional; Effect has no such kill, but the supervisor must still stop waiting. So the
 * whole stop runs in a fiber of its own (the stopper), and the supervisor waits for it only until the grace
 * period is over, plus a few scheduler turns for interruptions that land at the deadline (the kill window). A
 * stop that is not done by then keeps running in the background, in order, and the incarnation "lingers": the
 * supervisor reports it and goes on (see internal/supervisor.ts).
 */
import { Clock, Duration, Effect, Exit, Fiber, Scope } from "effect"
import type { Shutdown } from "../ChildSpec.ts"

export const graceMillis = (shutdown: Shutdown): number =>
  shutdown === "brutal" ? 0 : Duration.toMillis(Duration.fromInputUnsafe(shutdown))

/**
 * Scheduler turns the supervisor still gives a stop after its grace period: an interruption delivered at the
 * deadline needs a turn or two to unwind a fiber that does not block it. Turns, not milliseconds, so that a
 * test clock needs no extra adjustment and a busy event loop cannot turn the window into a wait.
 */
export const KILL_WINDOW_TURNS = 16

const takeFinalizers = (
  scope: Scope.Closeable,
  exit: Exit.Exit<unknown, unknown>
): Array<(exit: Exit.Exit<any, any>) => Effect.Effect<void>> => {
  const state = scope.state
  if (state._tag === "Closed") return []
  scope.state = { _tag: "Closed", exit }
  if (state._tag === "Empty") return []
  if (state.finalizer !== undefined) return [state.finalizer]
  return state.finalizers === undefined ? [] : Array.from(state.finalizers.values())
}

/** Closes a parentless scope, giving its finalizers at most `graceMs` in total (Infinity: unbounded). */
export const closeWithin = (
  scope: Scope.Closeable,
  exit: Exit.Exit<unknown, unknown>,
  graceMs: number
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const finalizers = takeFinalizers(scope, exit)
    if (finalizers.length === 0) return Effect.void
    if (graceMs === Infinity) {
      return Effect.uninterruptible(
        Effect.forEach(finalizers.reverse(), (f) => Effect.exit(f(exit)), { discard: true })
      )
    }
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const clock = yield* Clock.Clock
        const deadline = clock.currentTimeMillisUnsafe() + graceMs
        let forced = graceMs <= 0
        for (let i = finalizers.length - 1; i >= 0; i--) {
          const fiber = yield* Effect.forkDetach(restore(Effect.suspend(() => finalizers[i]!(exit))), {
            startImmediately: true,
            uninterruptible: false
          })
          if (!forced) {
            const remaining = deadline - clock.currentTimeMillisUnsafe()
            if (remaining > 0 && fiber.pollUnsafe() === undefined) {
              const done = yield* Effect.timeoutOption(Fiber.await(fiber), Duration.millis(remaining))
              if (done._tag === "Some") continue
            } else if (fiber.pollUnsafe() !== undefined) {
              continue
            }
            forced = true
          }
          yield* Fiber.interrupt(fiber)
        }
      })
    )
  })

/**
 * Stops a running incarnation and waits for all of it: interrupts its fiber, waits for the fiber to end, then
 * closes its scope within what is left of the grace period. Returns the fiber's exit. Unbounded when the fiber
 * or a finalizer blocks its interruption; `stopBounded` runs it as the stopper.
 */
export const stopIncarnation = (
  fiber: Fiber.Fiber<unknown, unknown>,
  scope: Scope.Closeable,
  shutdown: Shutdown
): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.gen(function*() {
    const graceMs = graceMillis(shutdown)
    const clock = yield* Clock.Clock
    const started = clock.currentTimeMillisUnsafe()
    const exit = fiber.pollUnsafe() ?? (yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))))
    const left = graceMs === Infinity ? Infinity : Math.max(0, graceMs - (clock.currentTimeMillisUnsafe() - started))
    yield* closeWithin(scope, exit, left)
    return exit
  })

export interface BoundedStop {
  /** The incarnation's exit, or undefined when it was not fully stopped within its budget (it lingers). */
  readonly exit: Exit.Exit<unknown, unknown> | undefined
  /** The stop itself; when `exit` is undefined it is still running and ends with the incarnation's exit. */
  readonly stopper: Fiber.Fiber<Exit.Exit<unknown, unknown>>
}

/**
 * The common case of a crash, stopped without any effect: the fiber is done and its scope holds nothing to
 * release. Returns the fiber's exit (the scope is then closed), or undefined when there is a stop to run.
 */
export const stoppedAlready = (
  fiber: Fiber.Fiber<unknown, unknown>,
  scope: Scope.Closeable
): Exit.Exit<unknown, unknown> | undefined => {
  const exit = fiber.pollUnsafe()
  if (exit === undefined || scope.state._tag !== "Empty") return undefined
  scope.state = { _tag: "Closed", exit }
  return exit
}

/** Waits up to `turns` scheduler turns for `fiber` to end. */
const turnsFor = (fiber: Fiber.Fiber<unknown, unknown>, turns: number): Effect.Effect<void> =>
  Effect.suspend(() => (turns <= 0 || fiber.pollUnsafe() !== undefined
    ? Effect.void
    : Effect.andThen(Effect.yieldNow, turnsFor(fiber, turns - 1)))
  )

/**
 * Stops an incarnation, waiting at most its grace period plus the kill window (not at all past that, and only the
 * kill window for "brutal"; an unbounded shutdown waits for as long as the stop takes).
 *
 * @example
 * const { exit, stopper } = yield* stopBounded(inc.fiber, inc.scope, "5 seconds")
 * if (exit === undefined) stopper.addObserver(() => reportReleased())
 */
export const stopBounded = (
  fiber: Fiber.Fiber<unknown, unknown>,
  scope: Scope.Closeable,
  shutdown: Shutdown
): Effect.Effect<BoundedStop> =>
  Effect.gen(function*() {
    // Synchronous as far as it can go: a finished fiber with synchronous finalizers is stopped on return.
    const stopper = yield* Effect.forkDetach(stopIncarnation(fiber, scope, shutdown), {
      startImmediately: true,
      uninterruptible: true
    })
    const graceMs = graceMillis(shutdown)
    let done = stopper.pollUnsafe()
    if (done === undefined && graceMs === Infinity) done = yield* Fiber.await(stopper)
    if (done === undefined && graceMs > 0) {
      const within = yield* Effect.timeoutOption(Fiber.await(stopper), Duration.millis(graceMs))
      if (within._tag === "Some") done = within.value
    }
    if (done === undefined) {
      yield* turnsFor(stopper, KILL_WINDOW_TURNS)
      done = stopper.pollUnsafe()
    }
    // The stopper never fails; were it to die, that death is the incarnation's exit.
    const exit = done === undefined
      ? undefined
      : Exit.isSuccess(done)
      ? done.value
      : (done as Exit.Exit<unknown, unknown>)
    return { exit, stopper }
  })
