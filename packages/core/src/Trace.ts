/**
 * The trace of one program run: every predictor call with its inputs and outputs, in call order (DSPy's
 * `settings.trace`). Optimizers read it to turn successful runs into demos. It lives in fiber-local
 * context and is opened by `capture`, so concurrent runs in one process never see each other's steps;
 * fibers forked inside a run share that run's trace.
 */
import { Context, Effect, Exit } from "effect"
import type { Predict } from "./Predict.ts"
import type { Prediction } from "./Prediction.ts"

export interface TraceStep {
  /** The predictor's named path in the running program (`self`, `generate_answer.predict`). */
  readonly path: string
  readonly predictor: Predict
  readonly inputs: Readonly<Record<string, unknown>>
  readonly outputs: Prediction
}

/** DSPy's `max_trace_size`: the oldest steps are dropped beyond it. */
export const maxSteps = 10_000

/** A bounded buffer of steps; one per `capture`. */
export class TraceBuffer {
  readonly limit: number
  private readonly items: Array<TraceStep> = []

  constructor(limit: number = maxSteps) {
    this.limit = limit
  }

  add(step: TraceStep): void {
    if (this.limit <= 0) return
    this.items.push(step)
    if (this.items.length > this.limit) this.items.shift()
  }

  steps(): ReadonlyArray<TraceStep> {
    return this.items.slice()
  }
}

/** The trace being recorded by the current fiber, if any. */
export const CurrentTrace = Context.Reference<TraceBuffer | undefined>("@dspex/core/CurrentTrace", {
  defaultValue: () => undefined
})

/** Records a step in the current trace (a no-op outside `capture`). */
export const record = (step: TraceStep): Effect.Effect<void> =>
  Effect.flatMap(CurrentTrace, (buffer) => (buffer === undefined ? Effect.void : Effect.sync(() => buffer.add(step))))

/** Appends steps recorded elsewhere (e.g. the winning attempt of BestOfN) to the current trace. */
export const append = (steps: ReadonlyArray<TraceStep>): Effect.Effect<void> =>
  Effect.flatMap(
    CurrentTrace,
    (buffer) => (buffer === undefined ? Effect.void : Effect.sync(() => steps.forEach((s) => buffer.add(s))))
  )

/**
 * Runs `effect` with a fresh trace and returns its result with the steps it recorded. Captures nest: an
 * inner capture's steps do not reach the outer one (use `append` to pass them on).
 *
 * @example
 * ```ts
 * import { ChainOfThought, Module, Trace } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * class QA extends Module.Module {
 *   generate_answer = ChainOfThought.make("question -> answer")
 *   forward(inputs: { question: string }) {
 *     return this.generate_answer.call(inputs)
 *   }
 * }
 * const program = Effect.gen(function*() {
 *   const [prediction, steps] = yield* Trace.capture(new QA().call({ question: "2+2?" }))
 *   return steps.map((s) => s.path) // ["generate_answer.predict"]
 * })
 * ```
 */
export const capture = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly limit?: number } = {}
): Effect.Effect<[A, ReadonlyArray<TraceStep>], E, R> =>
  Effect.suspend(() => {
    const buffer = new TraceBuffer(options.limit)
    return effect.pipe(
      Effect.provideService(CurrentTrace, buffer),
      Effect.map((a): [A, ReadonlyArray<TraceStep>] => [a, buffer.steps()])
    )
  })

/**
 * Like `capture`, but also returns the steps of a failed run (GEPA and feedback metrics inspect the
 * steps that led to a failure).
 *
 * @example
 * ```ts
 * import { Predict, Trace } from "@dspex/core"
 * import { Effect, Exit } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const [exit, steps] = yield* Trace.captureExit(Predict.make("question -> answer").call({ question: "2+2?" }))
 *   if (Exit.isFailure(exit)) console.log(`failed after ${steps.length} predictor calls`)
 * })
 * ```
 */
export const captureExit = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly limit?: number } = {}
): Effect.Effect<[Exit.Exit<A, E>, ReadonlyArray<TraceStep>], never, R> =>
  Effect.suspend(() => {
    const buffer = new TraceBuffer(options.limit)
    return Effect.exit(Effect.provideService(effect, CurrentTrace, buffer)).pipe(
      Effect.map((exit): [Exit.Exit<A, E>, ReadonlyArray<TraceStep>] => [exit, buffer.steps()])
    )
  })
