/**
 * The main job (`npm run main` / `dspex run-example`): a ChainOfThought QA program evaluated on a small
 * built-in dataset. With no API key it starts the simulated provider in-process and runs against it
 * over HTTP; with OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENAI_BASE_URL set it runs against that provider.
 */
import { Cache, ChainOfThought, type Errors, Evaluate, Example, Executor, LanguageModel, LM, type LMError, Metrics, Providers } from "@dspex/core"
import { Anthropic, OpenAi } from "@dspex/providers"
import { Facts, Simulator } from "@dspex/simulator"
import { Config, Effect, Layer, Option, Redacted, Stream } from "effect"

export interface RunExampleArgs {
  readonly model?: string | undefined
  readonly limit: number
  readonly threads: number
  readonly cache: boolean
}

/** The built-in dataset: arithmetic and capital-city questions with gold answers. */
export const exampleDevset = (limit: number): ReadonlyArray<Example.Example> => {
  const rows = [...Facts.datasets.arithmetic.slice(0, Math.ceil(limit / 2)), ...Facts.datasets.capitals.slice(0, Math.floor(limit / 2))]
  return rows.map((r) => Example.make({ question: r.question, answer: r.answer }).withInputs("question"))
}

interface Target {
  readonly description: string
  readonly model: string
  readonly providers: Layer.Layer<Providers.Providers, unknown>
}

const optional = (name: string) => Config.option(Config.String(name)).pipe(Config.map(Option.getOrUndefined))

/** Picks the provider: a real one when its key or base URL is configured, else the simulator. */
const chooseTarget = (model: string | undefined) =>
  Effect.gen(function*() {
    const openaiKey = yield* optional("OPENAI_API_KEY")
    const openaiBase = yield* optional("OPENAI_BASE_URL")
    const anthropicKey = yield* optional("ANTHROPIC_API_KEY")
    if (anthropicKey !== undefined && (model?.startsWith("anthropic/") ?? openaiKey === undefined)) {
      return { description: "Anthropic", model: model ?? "anthropic/claude-haiku-4-5", providers: Anthropic.layer() } satisfies Target
    }
    if (openaiKey !== undefined || openaiBase !== undefined) {
      const options = openaiKey === undefined ? { apiKey: Redacted.make("not-needed") } : {}
      return {
        description: openaiBase === undefined ? "OpenAI" : `OpenAI-compatible server at ${openaiBase}`,
        model: model ?? "openai/gpt-4o-mini",
        providers: OpenAi.layer(options)
      } satisfies Target
    }
    const sim = yield* Effect.acquireRelease(Effect.promise(() => Simulator.start({ latency: { fixedMs: 20, jitterMs: 20 } })), (s) =>
      Effect.promise(() => s.close()))
    return {
      description: `the simulated provider at ${sim.openaiBaseUrl} (set OPENAI_API_KEY or ANTHROPIC_API_KEY to use a real one)`,
      model: model ?? "openai/dspex-sim",
      providers: OpenAi.layer({ apiKey: Redacted.make("sk-simulated"), baseURL: sim.openaiBaseUrl })
    } satisfies Target
  })

/** What `runExample` prints: the run's score and LM usage, and each example's outcome. */
export interface RunExampleResult {
  readonly model: string
  readonly provider: string
  readonly examples: number
  readonly score: number
  readonly failed: number
  readonly usage: ReturnType<LanguageModel.LanguageModelShape["usage"]>
  readonly results: ReadonlyArray<{
    readonly question: unknown
    readonly gold: unknown
    readonly answer: unknown
    readonly reasoning: unknown
    readonly score: number
  }>
}

/**
 * Runs the example evaluation and returns its summary.
 *
 * @example
 * runExample({ limit: 20, threads: 8, cache: false })
 */
export const runExample = (
  args: RunExampleArgs
): Effect.Effect<RunExampleResult, Config.ConfigError | LMError.LMConfigurationError | Evaluate.EvaluateError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const target = yield* chooseTarget(args.model)
      const program = ChainOfThought.make("question -> answer")
      const devset = exampleDevset(args.limit)
      const log = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))
      yield* log(`Evaluating ChainOfThought("question -> answer") on ${devset.length} examples with ${target.model} via ${target.description}`)

      const services = Layer.mergeAll(
        LanguageModel.layer().pipe(Layer.provide([target.providers, args.cache ? Cache.layerConfig : Cache.layerNone])),
        Executor.layerLocal({ concurrency: args.threads })
      )

      const progress = (event: Evaluate.EvaluateEvent) => {
        if (event._tag !== "ExampleDone") return Effect.void
        const ex = devset[event.index]!
        const mark = event.score >= 1 ? "✔" : "✘"
        const why = event.error === undefined ? "" : `  error: ${Evaluate.describeError(event.error)}`
        return log(`${mark} [${event.completed}/${event.total}] ${String(ex.get("question"))}  (gold: ${String(ex.get("answer"))})  running ${event.runningScore}%${why}`)
      }
      const run = Effect.gen(function*() {
        const result = yield* Evaluate.stream({ program, devset, metric: Metrics.answerExactMatch, numThreads: args.threads }).pipe(
          Stream.tap(progress),
          Stream.runFold(() => undefined as Evaluate.EvaluationResult | undefined, (acc, e) => (e._tag === "Finished" ? e.result : acc)),
          Effect.provideService(LM.CurrentLM, LM.make(target.model, { temperature: 0 }))
        )
        return { evaluation: result!, usage: (yield* LanguageModel.LanguageModel).usage() }
      })
      // One layer instance for the run, so the usage read at the end is the run's own.
      const { evaluation, usage } = yield* Effect.provide(run, services)
      return {
        model: target.model,
        provider: target.description,
        examples: devset.length,
        score: evaluation.score,
        failed: evaluation.results.filter((r) => r.error !== undefined).length,
        usage,
        results: evaluation.results.map((r) => ({
          question: r.example.get("question"),
          gold: r.example.get("answer"),
          answer: r.prediction.get("answer") ?? null,
          reasoning: r.prediction.get("reasoning") ?? null,
          score: r.score
        }))
      }
    })
  )
