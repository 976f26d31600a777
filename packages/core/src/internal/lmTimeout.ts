/**
 * The per-request timeout of LM calls. `Effect.timeoutOrElse` races the call against a sleeping fiber:
 * two forks, an interrupted sleeper and the race bookkeeping on every call, which measured ~50 µs per
 * call against a local server (bench/predict-cpu.ts). On the system clock this does the same with one
 * fork and a plain timer; under any other Clock (TestClock in tests) it is `Effect.timeoutOrElse` itself.
 */
import { Clock, Context, Duration, Effect, Fiber } from "effect"

const systemClock = Context.getUnsafe(Context.empty(), Clock.Clock)
const maxTimerMs = 2 ** 31 - 1

/**
 * `self`, or the failure `onTimeout()` when it has not finished within `ms` (the call is then
 * interrupted and awaited first, as with `Effect.timeoutOrElse`).
 *
 * @example
 * timeoutFail(provider.complete(request), 60_000, () => new LMTimeout({ ... }))
 */
export const timeoutFail = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  ms: number,
  onTimeout: () => E
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (fiber.getRef(Clock.Clock) !== systemClock || !(ms > 0 && ms <= maxTimerMs)) {
      return Effect.timeoutOrElse(self, { duration: Duration.millis(ms), orElse: () => Effect.fail(onTimeout()) })
    }
    // Forking and watching the child happen without an interruption point between them, so an
    // interrupted caller never leaves the call running unwatched.
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (child) => {
        const finished = child.pollUnsafe()
        if (finished !== undefined) return finished
        const waiting = restore(
          Effect.callback<A, E>((resume) => {
            let stopWatching: () => void = () => {}
            const timer = setTimeout(() => {
              stopWatching()
              resume(Effect.andThen(Fiber.interrupt(child), Effect.fail(onTimeout())))
            }, ms)
            stopWatching = child.addObserver((exit) => {
              clearTimeout(timer)
              resume(exit)
            })
            return Effect.sync(() => {
              clearTimeout(timer)
              stopWatching()
            })
          })
        )
        // The caller was interrupted while waiting: stop the call too.
        return Effect.onInterrupt(waiting, () => Fiber.interrupt(child))
      })
    )
  })
