/**
 * Evaluate: runs a program over a devset through the Executor, scores each prediction with a metric,
 * and reports DSPy's percentage score. A failing example (program, adapter, LM or metric error) scores
 * `failureScore` and counts against the error budget; reaching `maxErrors` stops the run, cancels the
 * pending examples and fails with ErrorBudgetExceeded. An error no other example can get past (`fatal`:
 * a bad API key, an unknown model or provider, missing configuration) stops the run at once with
 * EvaluationAborted. Both keep the results finished by then.
 */
import { Cause, Effect, Exit, Option, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { ErrorBudgetExceeded, EvaluationAborted, MetricError } from "./Errors.ts"
import type { Example } from "./Example.ts"
import * as Executor from "./Executor.ts"
import { describeError as describe } from "./internal/describeError.ts"
import { pyRound } from "./internal/evalRound.ts"
import { dumpModule } from "./internal/stateCodec.ts"
import { isFatal } from "./LMError.ts"
import type { ContextOf, Module } from "./Module.ts"
import { Prediction } from "./Prediction.ts"
import { hashState } from "./ProgramState.ts"
import type { TraceStep } from "./Trace.ts"
import * as Tracing from "./Tracing.ts"

export type MetricValue = number | boolean

/**
 * A metric scores one prediction: a number, a boolean (1/0), or an Effect of either. `trace` is given
 * when an optimizer scores a traced run (metrics may be stricter then, as in DSPy); Evaluate omits it.
 */
export type Metric<R = never> = (
  example: Example,
  prediction: Prediction,
  trace?: ReadonlyArray<TraceStep>
) => MetricValue | Effect.Effect<MetricValue, unknown, R>

export interface EvaluateOptions<P extends Module, R = never> {
  readonly program: P
  readonly devset: ReadonlyArray<Example>
  readonly metric: Metric<R>
  /** Concurrent examples; the Executor's default (DSPEX_NUM_THREADS, 8) when unset. */
  readonly numThreads?: number | undefined
  /** Errors that stop the run (DSPy's `max_errors`, default 10). */
  readonly maxErrors?: number | undefined
  /** The score of a failed example (default 0). */
  readonly failureScore?: number | undefined
  /** A name a remote executor uses to find the metric (default: the function's name). */
  readonly metricName?: string | undefined
  /**
   * Asked as each example is about to start; false skips it (an `ExampleSkipped` event: not scored, not
   * an error). A caller stops a run gracefully with it (an optimizer's spent budget): examples already
   * running finish and are reported, no new one starts.
   */
  readonly shouldStart?: ((index: number) => boolean) | undefined
}

export interface ExampleResult {
  /** The example's position in the devset. */
  readonly index: number
  readonly example: Example
  /** An empty Prediction when the example failed. */
  readonly prediction: Prediction
  readonly score: number
  /** Why the example failed (the typed error, or the defect). */
  readonly error?: unknown
}

export interface EvaluationResult {
  /** `round(100 * Σscores / n, 2)`, as DSPy reports it. */
  readonly score: number
  /** One entry per devset example, in devset order. */
  readonly results: ReadonlyArray<ExampleResult>
}

export type EvaluateEvent =
  | { readonly _tag: "Started"; readonly total: number }
  | { readonly _tag: "ExampleSkipped"; readonly index: number }
  | {
    readonly _tag: "ExampleDone"
    readonly index: number
    readonly score: number
    readonly error?: unknown
    readonly completed: number
    readonly total: number
    readonly errors: number
    /** The mean score over the examples completed so far. */
    readonly runningAverage: number
    /** The same as a percentage rounded to 2 decimals, as DSPy's progress bar shows it. */
    readonly runningScore: number
  }
  | { readonly _tag: "Finished"; readonly result: EvaluationResult }

/** A metric's result as a number; anything else is a metric bug and fails the example. */
const toScore = (v: unknown): Effect.Effect<number, MetricError> =>
  typeof v === "boolean"
    ? Effect.succeed(v ? 1 : 0)
    : typeof v === "number" && !Number.isNaN(v)
    ? Effect.succeed(v)
    : Effect.fail(new MetricError({ returned: JSON.stringify(v) ?? String(v) }))

/** Runs a metric that may throw, return a value, or return an Effect. */
export const runMetric = <R>(
  metric: Metric<R>,
  example: Example,
  prediction: Prediction,
  trace?: ReadonlyArray<TraceStep>
): Effect.Effect<number, unknown, R> =>
  Effect.suspend(() => {
    const out = trace === undefined ? metric(example, prediction) : metric(example, prediction, trace)
    return Effect.isEffect(out) ? Effect.flatMap(out, toScore) : toScore(out)
  })

/**
 * DSPy's score of a run: `round(100 · sum / n, 2)` with Python's rounding (ties to even on the exact
 * decimal), 0 for no examples.
 *
 * @example
 * ```ts
 * import { Evaluate } from "@dspex/core"
 *
 * Evaluate.percentage(2, 3) // 66.67
 * ```
 */
export const percentage = (sum: number, n: number): number => n === 0 ? 0 : pyRound((100 * sum) / n, 2)

/**
 * A short description of a failure (`Tag: message`), for logs and ErrorBudgetExceeded.
 *
 * @example
 * ```ts
 * import { Errors, Evaluate } from "@dspex/core"
 *
 * Evaluate.describeError(new Errors.StateLoadError({ key: "predict", reason: "no such predictor" }))
 * // => 'StateLoadError: Cannot load program state at key "predict": no such predictor'
 * ```
 */
export const describeError = (error: unknown): string => describe(error)

const errorOf = <E>(cause: Cause.Cause<E>): unknown => {
  if (Cause.hasInterruptsOnly(cause)) return new Error("the example was interrupted")
  const failure = Cause.findErrorOption(cause)
  const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
  // A failure must stay recognisable as one even when its value is empty.
  return error ?? new Error("the example failed without an error value")
}

interface Scored {
  readonly prediction: Prediction
  readonly score: number
}

/** What a skipped example's task returns instead of a score. */
const skipped: Scored = { prediction: new Prediction({}), score: Number.NaN }

/**
 * Keeps a stop error's `results` out of its enumerable fields (still readable as `error.results`): Node
 * prints an escaped error's enumerable fields in full, and a run's results would bury its message.
 */
const withHiddenResults = <E extends { readonly results: ReadonlyArray<ExampleResult> }>(error: E): E =>
  Object.defineProperty(error, "results", {
    value: error.results,
    enumerable: false,
    writable: false,
    configurable: true
  })

/** Why a run stopped early. */
export type EvaluateError = ErrorBudgetExceeded | EvaluationAborted

/**
 * The run's events; with `log`, each failure is logged as a warning and the final score as info, as
 * DSPy's Evaluate does (`run` logs; `stream` leaves reporting to its consumer, which sees every error in
 * the events, so nothing is reported twice).
 */
const events = <P extends Module, R>(
  options: EvaluateOptions<P, R>,
  log: boolean
): Stream.Stream<EvaluateEvent, EvaluateError, ContextOf<P> | R | Executor.Executor> =>
  Stream.suspend(() => {
    const { metric, program, devset, shouldStart } = options
    const total = devset.length
    const maxErrors = options.maxErrors ?? 10
    const failureScore = options.failureScore ?? 0
    const state = dumpModule(program)
    const program_ = { hash: hashState(state), state }
    const batch = randomUUID()
    const metricName = options.metricName ?? (metric.name || "metric")

    const tasks = devset.map((example, index): Executor.Task<Scored, unknown, ContextOf<P> | R> => ({
      descriptor: {
        id: `evaluate:${batch}:${index}`,
        kind: "evaluate",
        program: program_,
        example: { data: example.data, inputKeys: example.inputKeys },
        payload: { metric: metricName }
      },
      // Plain steps rather than a generator: this runs once per example (see bench/evaluate-throughput.ts).
      effect: Effect.suspend(() => {
        if (shouldStart !== undefined && !shouldStart(index)) return Effect.succeed(skipped)
        let inputs: Record<string, unknown>
        try {
          inputs = example.inputs()
        } catch (e) {
          return Effect.fail(e)
        }
        return Effect.flatMap(program.call(inputs) as Effect.Effect<unknown, unknown, ContextOf<P>>, (output) => {
          const prediction = output instanceof Prediction
            ? output
            : new Prediction(
              typeof output === "object" && output !== null ? output as Record<string, unknown> : { output }
            )
          return Effect.map(runMetric(metric, example, prediction), (score): Scored => ({ prediction, score }))
        })
      })
    }))

    const results = new Array<ExampleResult>(total)
    let completed = 0
    let skippedCount = 0
    let errors = 0
    let sum = 0
    // The event after which the run stops, and the error it stops with.
    let stopAt: EvaluateEvent | undefined
    let stop: EvaluateError | undefined
    // A sparse array's filter skips the holes: the finished results, in devset order.
    const finished = () => results.filter(() => true)

    const onResult = (r: Executor.TaskResult<Scored, unknown>): EvaluateEvent => {
      if (Exit.isSuccess(r.exit) && r.exit.value === skipped) {
        skippedCount++
        return { _tag: "ExampleSkipped", index: r.index }
      }
      const example = devset[r.index]!
      let entry: ExampleResult
      if (Exit.isSuccess(r.exit)) {
        entry = { index: r.index, example, prediction: r.exit.value.prediction, score: r.exit.value.score }
      } else {
        errors++
        entry = {
          index: r.index,
          example,
          prediction: new Prediction({}),
          score: failureScore,
          error: errorOf(r.exit.cause)
        }
      }
      results[r.index] = entry
      completed++
      sum += entry.score
      const event: EvaluateEvent = {
        _tag: "ExampleDone",
        index: r.index,
        score: entry.score,
        ...(entry.error === undefined ? {} : { error: entry.error }),
        completed,
        total,
        errors,
        runningAverage: sum / completed,
        runningScore: pyRound((100 * sum) / completed, 2)
      }
      // Results of the same chunk after the stopping one are dropped with their events.
      if (entry.error !== undefined && stop === undefined) {
        if (isFatal(entry.error)) {
          stop = withHiddenResults(
            new EvaluationAborted({ index: r.index, completed, total, error: entry.error, results: finished() })
          )
        } else if (errors >= maxErrors) {
          stop = withHiddenResults(
            new ErrorBudgetExceeded({
              maxErrors,
              errors,
              completed,
              total,
              lastError: describe(entry.error),
              results: finished()
            })
          )
        }
        if (stop !== undefined) stopAt = event
      }
      return event
    }

    const logged = (r: Executor.TaskResult<Scored, unknown>): Effect.Effect<EvaluateEvent> => {
      const event = onResult(r)
      return event._tag === "ExampleDone" && event.error !== undefined
        ? Effect.as(Effect.logWarning(`Error for example ${event.index}: ${describe(event.error)}`), event)
        : Effect.succeed(event)
    }

    const end = Stream.suspend((): Stream.Stream<EvaluateEvent, EvaluateError> => {
      if (stop !== undefined) return Stream.fail(stop)
      // With skipped examples the score is over those that ran (and results has only theirs).
      const score = percentage(sum, total - skippedCount)
      const done: EvaluateEvent = {
        _tag: "Finished",
        result: { score, results: skippedCount === 0 ? results : finished() }
      }
      return log
        ? Stream.fromEffect(Effect.as(Effect.logInfo(`Average Metric: ${sum} / ${total} (${score}%)`), done))
        : Stream.succeed(done)
    })

    const batchResults = Executor.runBatch(tasks, { concurrency: options.numThreads })
    return Stream.succeed<EvaluateEvent>({ _tag: "Started", total }).pipe(
      Stream.concat(
        // Ending the stream at the stopping event interrupts the examples still running.
        (log ? Stream.mapEffect(batchResults, logged) : Stream.map(batchResults, onResult)).pipe(
          Stream.takeUntil((event) => event === stopAt)
        )
      ),
      Stream.concat(end)
    )
  })

/**
 * Evaluates with progress: `Started`, one `ExampleDone` per example as it completes (its error included
 * when it failed), then `Finished` with the result. Fails with ErrorBudgetExceeded when the error budget
 * runs out, or EvaluationAborted at the first fatal error, after the event of the example that stopped it
 * (pending examples are interrupted). Logs nothing: the consumer reports what it likes from the events.
 *
 * @example
 * ```ts
 * import { Evaluate, Example, Metrics, Predict } from "@dspex/core"
 * import { Console, Effect, Stream } from "effect"
 *
 * const program = Predict.make("question -> answer")
 * const devset = [Example.make({ question: "What is the capital of France?", answer: "Paris" }).withInputs("question")]
 *
 * const progress = Evaluate.stream({ program, devset, metric: Metrics.answerExactMatch }).pipe(
 *   Stream.runForEach((e) => e._tag === "ExampleDone" ? Console.log(`${e.completed}/${e.total}: ${e.runningScore}%`) : Effect.void)
 * )
 * ```
 */
export const stream = <P extends Module, R = never>(
  options: EvaluateOptions<P, R>
): Stream.Stream<EvaluateEvent, EvaluateError, ContextOf<P> | R | Executor.Executor> => events(options, false)

/**
 * Evaluates a program on a devset, logging each failure and the final score as DSPy does. Fails with
 * ErrorBudgetExceeded or EvaluationAborted (see `stream`), each holding the results finished by then.
 *
 * @example
 * ```ts
 * import { Evaluate, Example, Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer: float")
 * const devset = [Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question")]
 *
 * const evaluation = Effect.gen(function*() {
 *   const { score, results } = yield* Evaluate.run({
 *     program,
 *     devset,
 *     metric: (example, pred) => pred.get("answer") === example.get("answer"),
 *     numThreads: 8
 *   })
 *   console.log(`${score}%`, results.length) // "100%" 1 when the answer is right
 * })
 * ```
 */
export const run = <P extends Module, R = never>(
  options: EvaluateOptions<P, R>
): Effect.Effect<EvaluationResult, EvaluateError, ContextOf<P> | R | Executor.Executor> =>
  events(options, true).pipe(
    Stream.runFold(
      (): EvaluationResult | undefined => undefined,
      (acc, event) => (event._tag === "Finished" ? event.result : acc)
    ),
    Effect.map((result) => result!),
    (effect) => Tracing.withSpan(effect, "Evaluate.run", () => ({ "dspex.devset.size": options.devset.length }))
  )
