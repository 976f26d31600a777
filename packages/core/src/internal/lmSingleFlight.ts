/**
 * Single-flight: concurrent calls with the same key share one execution. The shared work runs in its own
 * fiber in the service's scope, so a caller that is interrupted (a timeout, a cancelled run) stops waiting
 * without cancelling the others' call; closing the service's scope interrupts it.
 */
import { Deferred, Effect, type Scope } from "effect"

export interface SingleFlight<A, E> {
  /** Runs `work` unless a flight for `key` is in the air; `leader` is true for the caller that started it. */
  readonly run: (
    key: string,
    work: Effect.Effect<A, E>
  ) => Effect.Effect<{ readonly value: A; readonly leader: boolean }, E>
  /** Keys currently in flight (for tests and diagnostics). */
  readonly inFlight: () => number
}

/**
 * @example
 * const flights = makeSingleFlight<LMResponse, LMError>(scope)
 * flights.run(key, providerCall)
 */
export const makeSingleFlight = <A, E>(scope: Scope.Scope): SingleFlight<A, E> => {
  const flights = new Map<string, Deferred.Deferred<A, E>>()
  return {
    inFlight: () => flights.size,
    run: (key, work) =>
      Effect.uninterruptibleMask((restore) => {
        const existing = flights.get(key)
        if (existing !== undefined) {
          return restore(Effect.map(Deferred.await(existing), (value) => ({ value, leader: false })))
        }
        // Registered and forked without an interruption point between, so no caller awaits a flight that never flies.
        const deferred = Deferred.makeUnsafe<A, E>()
        const shared = Effect.onExit(work, (exit) =>
          Effect.suspend(() => {
            if (flights.get(key) === deferred) flights.delete(key)
            return Deferred.done(deferred, exit)
          }))
        flights.set(key, deferred)
        return Effect.andThen(
          Effect.forkIn(restore(shared), scope),
          restore(Effect.map(Deferred.await(deferred), (value) => ({ value, leader: true })))
        )
      })
  }
}
