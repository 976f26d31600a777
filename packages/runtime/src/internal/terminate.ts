/**
 * Stopping one child incarnation within its shutdown budget.
 *
 * Effect's `Scope.close` runs finalizers uninterruptibly, which would make a grace period unenforceable: a slow
 * finalizer could hold a supervisor (and its whole restart) hostage. So the supervisor owns each child's Scope and
 * closes it itself: finalizers run last-in first-out, each one interruptibly; the one still running when the
 * grace period ends is interrupted, and the remaining ones are started and interrupted at their first suspension
 * point (their synchronous part still runs, so e.g. `forkScoped` fibers still receive their interrupt signal and
 * unwind right after, instead of leaking). `"brutal"` is a grace period of zero.
 *
 * Work the child's fiber does uninterruptibly in its own body (an `Effect.ensuring` or an inner `Effect.scoped`)
 * cannot be cut by anyone in Effect; the supervisor waits for it. Cleanup that must be bounded belongs in the
 * child's Scope (`Effect.addFinalizer`, `Effect.acquireRelease`).
 */
import { Clock, Duration, Effect, Exit, Fiber, Scope } from "effect"
import type { Shutdown } from "../ChildSpec.ts"

export const graceMillis = (shutdown: Shutdown): number =>
  shutdown === "brutal" ? 0 : Duration.toMillis(Duration.fromInputUnsafe(shutdown))

const takeFinalizers = (scope: Scope.Closeable, exit: Exit.Exit<unknown, unknown>): Array<(exit: Exit.Exit<any, any>) => Effect.Effect<void>> => {
  const state = scope.state
  if (state._tag === "Closed") return []
  scope.state = { _tag: "Closed", exit }
  if (state._tag === "Empty") return []
  if (state.finalizer !== undefined) return [state.finalizer]
  return state.finalizers === undefined ? [] : Array.from(state.finalizers.values())
}

/** Closes a parentless scope, giving its finalizers at most `graceMs` in total (Infinity: unbounded). */
export const closeWithin = (scope: Scope.Closeable, exit: Exit.Exit<unknown, unknown>, graceMs: number): Effect.Effect<void> =>
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
 * Stops a running incarnation: interrupts its fiber, waits for it, then closes its scope within what is left of
 * the grace period. Returns the fiber's exit.
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
