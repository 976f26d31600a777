/**
 * Per-provider admission for LM calls: a concurrency cap (one Semaphore per provider) and a
 * requests-per-minute limit (effect/persistence RateLimiter, keyed by provider, token bucket: a full
 * minute's budget may burst, then calls are spaced evenly). The limiter's store is pluggable, so a
 * cluster-wide store makes the limit cluster-wide.
 */
import { Duration, Effect, Semaphore } from "effect"
import type { RateLimiter } from "effect/persistence"
import { type LMError, LMProviderError } from "../LMError.ts"

export interface ProviderLimits {
  /** Most calls in flight at once to this provider. */
  readonly maxConcurrency: number
  /** Most calls started per minute; undefined means unlimited. */
  readonly requestsPerMinute?: number | undefined
}

export type Gate = (
  provider: string,
  model: string
) => <A, R>(call: Effect.Effect<A, LMError, R>) => Effect.Effect<A, LMError, R>

/**
 * A gate: `gate(provider, model)(call)` waits for a permit, then for the rate limit, then runs `call`.
 *
 * @example
 * const gate = makeGate(limiter, () => ({ maxConcurrency: 8, requestsPerMinute: 500 }))
 * gate("openai", "openai/gpt-4o-mini")(provider.complete(request))
 */
export const makeGate = (limiter: RateLimiter.RateLimiter, limitsOf: (provider: string) => ProviderLimits): Gate => {
  const semaphores = new Map<string, Semaphore.Semaphore>()
  const semaphoreOf = (provider: string): Semaphore.Semaphore => {
    let s = semaphores.get(provider)
    if (s === undefined) {
      s = Semaphore.makeUnsafe(Math.max(1, Math.floor(limitsOf(provider).maxConcurrency)))
      semaphores.set(provider, s)
    }
    return s
  }
  return (provider, model) => (call) => {
    const rpm = limitsOf(provider).requestsPerMinute
    const limited = rpm === undefined || !Number.isFinite(rpm) || rpm <= 0
      ? call
      : Effect.flatMap(
        Effect.mapError(
          limiter.consume({
            key: `dspex/lm/${provider}`,
            limit: Math.floor(rpm),
            window: "1 minute",
            algorithm: "token-bucket",
            onExceeded: "delay"
          }),
          (e) =>
            new LMProviderError({ provider, model, detail: `rate limiter store failed: ${e.message}`, transport: true })
        ),
        ({ delay }) => (Duration.isZero(delay) ? call : Effect.delay(call, delay))
      )
    return semaphoreOf(provider).withPermit(limited)
  }
}
