/**
 * Retry policy for LM calls: only errors that say a retry can help (`retryable`), exponential backoff
 * with jitter, capped, and never sooner than the provider's retry-after.
 */
import { Duration, Effect, Schedule } from "effect"
import type { LMError } from "../LMError.ts"

export interface RetryPolicy {
  /** Retries after the first attempt (DSPy's num_retries). */
  readonly times: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

const retryAfterMs = (e: LMError): number => (e._tag === "LMRateLimited" ? e.retryAfterMs ?? 0 : 0)

/**
 * Backoff base·2^n (jittered ±20 %), at most `maxDelayMs`, but always at least the error's retry-after
 * (a provider's explicit wait wins over our cap).
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<Duration.Duration, LMError> =>
  Schedule.exponential(Duration.millis(policy.baseDelayMs)).pipe(
    Schedule.jittered,
    Schedule.setInputType<LMError>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(Duration.millis(Math.max(Math.min(Duration.toMillis(duration), policy.maxDelayMs), retryAfterMs(input)))))
  )

/**
 * Runs `attempt` and retries its retryable failures by the policy (the last failure is returned when the
 * retries run out or a failure is not retryable).
 *
 * @example
 * withRetries(call, { times: 3, baseDelayMs: 500, maxDelayMs: 30_000 })
 */
export const withRetries = <A, R>(attempt: Effect.Effect<A, LMError, R>, policy: RetryPolicy): Effect.Effect<A, LMError, R> => {
  if (policy.times <= 0) return attempt
  // The retry machinery (schedule state, metadata in context) is only set up once an attempt has failed:
  // most calls succeed first time. The loop replays that first failure, so the schedule sees exactly
  // the failures, attempts and delays it would have seen had it wrapped the first attempt.
  return Effect.catch(attempt, (first) => {
    let replayed = false
    const again = Effect.suspend(() => {
      if (replayed) return attempt
      replayed = true
      return Effect.fail(first)
    })
    return Effect.retry(again, retryOptionsOf(policy))
  })
}

const isRetryable = (e: LMError): boolean => e.retryable

// A schedule is a description (each run keeps its own state), so one per policy serves every call.
const retryOptions = new WeakMap<RetryPolicy, { readonly schedule: Schedule.Schedule<Duration.Duration, LMError>; readonly times: number; readonly while: (e: LMError) => boolean }>()
const retryOptionsOf = (policy: RetryPolicy) => {
  let options = retryOptions.get(policy)
  if (options === undefined) {
    options = { schedule: retrySchedule(policy), times: policy.times, while: isRetryable }
    retryOptions.set(policy, options)
  }
  return options
}
