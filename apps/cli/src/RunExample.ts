/**
 * The main job (`npm run -s main` / `dspex run-example`): a ChainOfThought QA program evaluated on a small
 * built-in dataset, against the provider `Target.chooseTarget` picks. Progress goes to stderr, one line per
 * example (its error on the same line when it failed); the report goes to stdout as JSON: the score, each
 * example with its error, and usage per model with retries, errors and cache hits. A run that stopped
 * (a fatal error, the error budget) or in which every example failed carries an `error` and exits 1.
 */
import {
  Cache,
  ChainOfThought,
  Evaluate,
  Executor,
  LanguageModel,
  LM,
  type LMError,
  Metrics,
  Providers
} from "@dspex/core"
import { Effect, Layer, Schema, Stream } from "effect"
import { exampleDevset } from "./Dataset.ts"
import { errorJson } from "./Output.ts"
import { chooseTarget } from "./Target.ts"

export interface RunExampleArgs {
  readonly model?: string | undefined
  readonly limit: number
  readonly threads: number
  readonly cache: boolean
  readonly simulate: boolean
}

/** Every example failed: the run ran, but nothing it produced can be used. */
export class EveryExampleFailed extends Schema.TaggedError<EveryExampleFailed>()("EveryExampleFailed", {
  examples: Schema.Number,
  firstError: Schema.Unknown
}) {
  readonly retryable = false
  override get message(): string {
    return `All ${this.examples} examples failed; the first: ${errorJson(this.firstError).message as string}`
  }
  get suggestion(): string {
    const inner = (this.firstError as { suggestion?: unknown } | null)?.suggestion
    return typeof inner === "string" ? inner : "Look at the examples' errors in results[].error."
  }
}

/** A cost as printed: six significant digits (the ledger keeps the exact sum). */
export const roundCost = (usd: number): number => (usd === 0 ? 0 : Number(usd.toPrecision(6)))

/** One example as reported: its outcome, and its error (tag, message, suggestion) when it failed. */
export interface ExampleReport {
  readonly question: unknown
  readonly gold: unknown
  readonly answer: unknown
  readonly reasoning: unknown
  readonly score: number
  readonly error?: { readonly _tag: string; readonly message: string; readonly suggestion: string } | undefined
}

/** What `runExample` prints. */
export interface RunExampleResult {
  /** Why the run failed as a whole (it stopped, or every example failed); absent when it did not. */
  readonly error?: Record<string, unknown> | undefined
  readonly model: string
  readonly provider: string
  readonly examples: number
  readonly completed: number
  /** DSPy's percentage over the devset; null when the run stopped before the end. */
  readonly score: number | null
  readonly failed: number
  readonly usage: Readonly<Record<string, LanguageModel.ModelUsage>>
  readonly results: ReadonlyArray<ExampleReport>
}

const exampleReport = (r: Evaluate.ExampleResult): ExampleReport => {
  const base = {
    question: r.example.get("question"),
    gold: r.example.get("answer"),
    answer: r.prediction.get("answer") ?? null,
    reasoning: r.prediction.get("reasoning") ?? null,
    score: r.score
  }
  if (r.error === undefined) return base
  const e = errorJson(r.error)
  return { ...base, error: { _tag: String(e._tag), message: String(e.message), suggestion: String(e.suggestion) } }
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** The summary line on stderr: score, calls, retries, errors, cache hits, cost. */
const summaryLine = (report: RunExampleResult): string => {
  const totals = Object.values(report.usage).reduce(
    (t, u) => ({
      calls: t.calls + u.calls,
      retries: t.retries + u.retries,
      errors: t.errors + u.errors,
      hits: t.hits + u.cacheHits,
      cost: t.cost + u.cost
    }),
    { calls: 0, retries: 0, errors: 0, hits: 0, cost: 0 }
  )
  const score = report.score === null
    ? `stopped after ${report.completed}/${report.examples}`
    : `score ${report.score}%`
  const calls = [
    count(totals.calls, "LM call", "LM calls"),
    count(totals.retries, "retry", "retries"),
    count(totals.errors, "failed call", "failed calls"),
    count(totals.hits, "cache hit", "cache hits")
  ]
  return `${score} (${report.failed} of ${report.completed} examples failed) · ${calls.join(", ")} · $${
    roundCost(totals.cost)
  }`
}

/**
 * Runs the example evaluation and returns its report.
 *
 * For example (the command's own internals, not a library API):
 * runExample({ limit: 20, threads: 8, cache: false, simulate: false })
 */
export const runExample = (args: RunExampleArgs): Effect.Effect<RunExampleResult, LMError.LMConfigurationError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const target = yield* chooseTarget({ model: args.model, simulate: args.simulate })
      const program = ChainOfThought.make("question -> answer")
      const devset = exampleDevset(args.limit)
      const log = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))
      yield* log(
        `Evaluating ChainOfThought("question -> answer") on ${devset.length} examples with ${target.model} via ${target.description}`
      )

      const services = Layer.mergeAll(
        LanguageModel.layer().pipe(
          Layer.provide([
            Layer.succeed(Providers.Providers, target.providers),
            args.cache ? Cache.layerConfig : Cache.layerNone
          ])
        ),
        Executor.layerLocal({ concurrency: args.threads })
      )

      const progress = (event: Evaluate.EvaluateEvent) => {
        if (event._tag !== "ExampleDone") return Effect.void
        const ex = devset[event.index]!
        const mark = event.score >= 1 ? "✔" : "✘"
        const why = event.error === undefined ? "" : `  error: ${Evaluate.describeError(event.error)}`
        return log(
          `${mark} [${event.completed}/${event.total}] ${String(ex.get("question"))}  (gold: ${
            String(ex.get("answer"))
          })  running ${event.runningScore}%${why}`
        )
      }
      const run = Effect.gen(function*() {
        const outcome = yield* Evaluate.stream({
          program,
          devset,
          metric: Metrics.answerExactMatch,
          numThreads: args.threads
        }).pipe(
          Stream.tap(progress),
          Stream.runFold(
            () => undefined as Evaluate.EvaluationResult | undefined,
            (acc, e) => (e._tag === "Finished" ? e.result : acc)
          ),
          Effect.map((evaluation) => ({ evaluation: evaluation!, stopped: undefined })),
          Effect.catch((stopped: Evaluate.EvaluateError) => Effect.succeed({ evaluation: undefined, stopped })),
          Effect.provideService(LM.CurrentLM, LM.make(target.model, { temperature: 0 }))
        )
        return { ...outcome, usage: (yield* LanguageModel.LanguageModel).usage() }
      })
      // One layer instance for the run, so the usage read at the end is the run's own.
      const { evaluation, stopped, usage } = yield* Effect.provide(run, services)
      const results = evaluation?.results ?? stopped?.results ?? []
      const failed = results.filter((r) => r.error !== undefined)
      const everyFailed = stopped === undefined && results.length > 0 && failed.length === results.length
        ? new EveryExampleFailed({ examples: results.length, firstError: failed[0]!.error })
        : undefined
      const error = stopped ?? everyFailed
      const report: RunExampleResult = {
        ...(error === undefined ? {} : { error: errorJson(error) }),
        model: target.model,
        provider: target.description,
        examples: devset.length,
        completed: results.length,
        score: evaluation?.score ?? null,
        failed: failed.length,
        usage: Object.fromEntries(
          Object.entries(usage).map(([model, u]) => [model, { ...u, cost: roundCost(u.cost) }])
        ),
        results: results.map(exampleReport)
      }
      yield* log(summaryLine(report))
      return report
    })
  )
