/**
 * Retry policy for LM calls: only errors that say a retry can help (`retryable`), exponential backoff
 * with jitter, capped, and never sooner than the provider's retry-after. An endpoint that is not there at
 * all (connection refused, unknown host) gets at most `unreachableRetries` quick retries: a server that is
 * starting up gets a moment, a dead port is reported in well under a second rather than after the full
 * backoff (seconds per call, times every example of a run).
 */
import { Duration, Effect, Schedule } from "effect"
import { isUnreachable, type LMError } from "../LMError.ts"

/** Retries of an unreachable endpoint, and the delay before each. */
export const unreachableRetries = 2
export const unreachableDelayMs = 100

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
      Effect.succeed(
        Duration.millis(
          isUnreachable(input)
            ? Math.min(Duration.toMillis(duration), unreachableDelayMs)
            : Math.max(Math.min(Duration.toMillis(duration), policy.maxDelayMs), retryAfterMs(input))
        )
      )
    )
  )

/**
 * Runs `attempt` and retries its retryable failures by the policy (the last failure is returned when the
 * retries run out or a failure is not retryable).
 *
 * @example
 * withRetries(call, { times: 3, baseDelayMs: 500, maxDelayMs: 30_000 })
 */
export const withRetries = <A, R>(
  attempt: Effect.Effect<A, LMError, R>,
  policy: RetryPolicy
): Effect.Effect<A, LMError, R> => {
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
    // Counted per call: `while` sees each failure once, before the schedule decides the delay.
    let unreachable = 0
    const shouldRetry = (e: LMError): boolean =>
      e.retryable && (!isUnreachable(e) || unreachable++ < unreachableRetries)
    return Effect.retry(again, { schedule: scheduleOf(policy), times: policy.times, while: shouldRetry })
  })
}

// A schedule is a description (each run keeps its own state), so one per policy serves every call.
const schedules = new WeakMap<RetryPolicy, Schedule.Schedule<Duration.Duration, LMError>>()
const scheduleOf = (policy: RetryPolicy) => {
  let schedule = schedules.get(policy)
  if (schedule === undefined) {
    schedule = retrySchedule(policy)
    schedules.set(policy, schedule)
  }
  return schedule
}
