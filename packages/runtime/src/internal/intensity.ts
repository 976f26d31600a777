/**
 * A supervisor's restart intensity (OTP's `intensity` / `period`) and its backoff between restarts.
 */
import { Duration, Effect, Exit, Schedule } from "effect"

/**
 * The restarts of the last `withinMs`. OTP keeps a restart that is exactly `period` old (`R >= Now - Period`), so a
 * restart leaves the window only once it is strictly older. Only the last `maxRestarts + 1` timestamps matter, so
 * the window is a small ring of them (constant work per restart).
 */
export class IntensityWindow {
  private times: Array<number> = []
  private head = 0
  readonly maxRestarts: number
  readonly withinMs: number

  constructor(maxRestarts: number, withinMs: number) {
    this.maxRestarts = maxRestarts
    this.withinMs = withinMs
  }

  /** Whether no restart is in the window at `now` (a quiet period: the backoff starts over). */
  quietAt(now: number): boolean {
    this.expire(now)
    return this.head === this.times.length
  }

  /** Records a restart at `now`; false when it exceeds the intensity. */
  record(now: number): boolean {
    this.expire(now)
    this.times.push(now)
    if (this.times.length - this.head > this.maxRestarts + 1) this.head++
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head)
      this.head = 0
    }
    return this.times.length - this.head <= this.maxRestarts
  }

  private expire(now: number): void {
    while (this.head < this.times.length && now - this.times[this.head]! > this.withinMs) this.head++
  }
}

type Step = (now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>

/** The delays of a backoff Schedule, restarted after a quiet period. */
export class Backoff {
  private step: Step | undefined
  private readonly schedule: Schedule.Schedule<unknown, unknown> | undefined

  constructor(schedule: Schedule.Schedule<unknown, unknown> | undefined) {
    this.schedule = schedule
  }

  reset(): void {
    this.step = undefined
  }

  /** The delay before the next restart (0 without a schedule, or once the schedule is done). */
  next(now: number): Effect.Effect<number> {
    const schedule = this.schedule
    if (schedule === undefined) return Effect.succeed(0)
    return Effect.gen({ self: this }, function*() {
      if (this.step === undefined) this.step = (yield* Schedule.toStep(schedule)) as unknown as Step
      const out = yield* Effect.exit(this.step(now, undefined))
      return Exit.isSuccess(out) ? Duration.toMillis(out.value[1]) : 0
    })
  }
}
