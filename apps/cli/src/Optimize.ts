/**
 * `dspex optimize`: compiles a program with one of DSPy's optimizers on a JSONL trainset, against the
 * provider `Target.chooseTarget` picks, and saves the result in DSPy's JSON layout. Progress goes to stderr
 * (`Progress.render`'s lines); the report goes to stdout as JSON: the optimizer, the score of the result,
 * why the run stopped, its trials, metric calls and LM usage, and where the program was saved.
 *
 * Every check that needs no LM (flags, the program file, the metric, the datasets, `--config`) runs before
 * any provider is set up, so a mistake costs nothing. With `--checkpoint` every paid step is kept in a
 * SQLite file, the final evaluation included, so a run started again after a kill redoes none of them.
 */
import {
  Cache,
  Embedder,
  type Errors,
  Evaluate,
  type Example,
  Executor,
  LanguageModel,
  LM,
  type LMError,
  type Module,
  ProgramState,
  Providers
} from "@dspex/core"
import { Checkpoint, Progress, TrialLog } from "@dspex/optimizers"
import type { Optimizer } from "@dspex/optimizers"
import { Effect, Layer, Stream } from "effect"
import { inputKeysFor, parseJson, readRows, toExamples } from "./Jsonl.ts"
import { chooseMetric } from "./Metric.ts"
import { type Make, type OptimizerName, optimizers } from "./Optimizers.ts"
import { errorJson } from "./Output.ts"
import {
  fromSignature,
  type LoadedProgram,
  loadProgramFile,
  programInputs,
  type ProgramLoadError
} from "./ProgramFile.ts"
import { roundCost } from "./RunExample.ts"
import { chooseTarget } from "./Target.ts"
import { UsageError } from "./Usage.ts"

export interface OptimizeArgs {
  readonly program?: string | undefined
  readonly signature?: string | undefined
  readonly module: "predict" | "chain-of-thought"
  readonly optimizer: OptimizerName
  readonly trainset: string
  readonly valset?: string | undefined
  readonly metric?: string | undefined
  readonly inputs?: ReadonlyArray<string> | undefined
  readonly out: string
  readonly model?: string | undefined
  readonly simulate: boolean
  readonly cache: boolean
  readonly threads: number
  readonly seed?: number | undefined
  readonly config?: string | undefined
  /** The embedding model of optimizers that embed (KNNFewShot). */
  readonly embedder: string
  readonly budget: Optimizer.Budget
  readonly checkpoint?: string | undefined
}

/** What `optimize` prints. */
export interface OptimizeReport {
  /** Why the command failed after compiling (the final evaluation could not go on); absent when it did not. */
  readonly error?: Record<string, unknown> | undefined
  readonly optimizer: string
  readonly program: string
  readonly model: string
  readonly provider: string
  readonly metric: string
  readonly trainset: number
  readonly valset: number | null
  /** The compiled program's score (DSPy's percentage); null when the budget ran out before it was scored. */
  readonly score: number | null
  /** Where the score was measured. */
  readonly scoredOn: "valset" | "trainset"
  /** The optimizer's best candidate (its trial, state hash and score where the optimizer scored it), if any. */
  readonly best: TrialLog.TrialLog["best"] | null
  readonly stopReason: TrialLog.StopReason
  readonly stopped: string
  readonly trials: number
  readonly metricCalls: number
  /** Steps (evaluated examples, bootstrap attempts, proposals) replayed from `--checkpoint`. */
  readonly resumedSteps: number
  readonly usage: Readonly<Record<string, LanguageModel.ModelUsage>>
  /** The embedding model's usage, for optimizers that embed. */
  readonly embeddingUsage?: Readonly<Record<string, LanguageModel.ModelUsage>> | undefined
  /** Each predictor of the compiled program: its demos and instructions. */
  readonly predictors: Readonly<Record<string, { readonly demos: number; readonly instructions: string }>>
  readonly out: string
}

const command = "dspex optimize"

const usage = (problem: string, hint?: string) =>
  new UsageError({ command, problems: [problem], ...(hint === undefined ? {} : { hint }) })

const log = (line: string | undefined) =>
  line === undefined ? Effect.void : Effect.sync(() => process.stderr.write(`${line}\n`))

/** `--config` as hyperparameters, DSPy's snake_case names accepted; unknown keys are usage errors. */
const parseConfig = (
  source: string | undefined,
  name: OptimizerName,
  make: Make
): Effect.Effect<Record<string, unknown>, UsageError> =>
  Effect.gen(function*() {
    const parsed = parseJson(source ?? "{}")
    if (!parsed.ok) {
      return yield* usage(
        `--config: invalid JSON: ${parsed.error}`,
        `Give --config a JSON object of hyperparameters, e.g. --config '{"maxBootstrappedDemos": 2}'.`
      )
    }
    const value = parsed.value
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return yield* usage(
        `--config: expected a JSON object, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`,
        `Give --config a JSON object of hyperparameters, e.g. --config '{"maxBootstrappedDemos": 2}'.`
      )
    }
    const known = Object.keys(make({}).config as object)
    const config: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) {
      const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      if (!known.includes(camel)) {
        return yield* usage(
          `--config: ${optimizers[name].dspy} has no hyperparameter "${key}"`,
          `Its hyperparameters are ${known.join(", ")} (DSPy's snake_case names work too).`
        )
      }
      config[camel] = withLms(camel, v)
    }
    const missing = (optimizers[name].required ?? []).filter((k) => config[k] === undefined)
    if (missing.length > 0) {
      return yield* usage(
        `--config: ${optimizers[name].dspy} needs ${missing.join(", ")} (DSPy has no default for it)`,
        `Give it in --config, e.g. --config '{"${missing[0]}": 3}'.`
      )
    }
    return config
  })

/** Hyperparameters that hold an LM take a model id too: "openai/gpt-4o" is `LM.make("openai/gpt-4o")`. */
const withLms = (key: string, value: unknown): unknown => {
  if ((key === "promptModel" || key === "taskModel") && typeof value === "string") return LM.make(value)
  if (key === "teacherSettings" && typeof value === "object" && value !== null) {
    const lm = (value as { readonly lm?: unknown }).lm
    return typeof lm === "string" ? { ...value, lm: LM.make(lm) } : value
  }
  return value
}

const loadProgram = (
  args: OptimizeArgs
): Effect.Effect<LoadedProgram, UsageError | ProgramLoadError | Errors.SignatureParseError> => {
  if (args.program !== undefined && args.signature !== undefined) {
    return Effect.fail(usage(
      "--program and --signature are alternatives: give one",
      "Use --program for a module file, or --signature (with --module) for a single Predict or ChainOfThought."
    ))
  }
  if (args.program !== undefined) return loadProgramFile(args.program)
  if (args.signature !== undefined) return fromSignature(args.signature, args.module)
  return Effect.fail(usage(
    "--program or --signature is required",
    "Give --program <file.ts> (its default export a Module) or --signature \"question -> answer\"."
  ))
}

const loadExamples = (flag: string, path: string, inputs: ReadonlyArray<string> | undefined, program: Module.Module) =>
  Effect.gen(function*() {
    const rows = yield* readRows(flag, path)
    const keys = yield* inputKeysFor(rows, flag, path, inputs, programInputs(program))
    return yield* toExamples(rows, flag, path, keys)
  })

/**
 * The Embedder of the run. An optimizer that embeds needs it, so a missing key fails the run at once; for
 * the others it is there for programs that embed, and a model that cannot be set up fails only their calls.
 */
const embedderLayer = (
  model: string,
  embeddings: Effect.Effect<Embedder.EmbeddingProvider, LMError.LMConfigurationError>,
  cache: Layer.Layer<Cache.Cache, LMError.LMConfigurationError>,
  required: boolean
): Layer.Layer<Embedder.Embedder, LMError.LMConfigurationError> => {
  const real = Embedder.layer({ model }).pipe(Layer.provide([Embedder.providers(embeddings), cache]))
  return required ? real : real.pipe(
    Layer.catchTag(
      "LMConfigurationError",
      (error) => Layer.succeed(Embedder.Embedder, { model, embed: () => Effect.fail(error), usage: () => ({}) })
    )
  )
}

const rounded = (usage: Readonly<Record<string, LanguageModel.ModelUsage>>) =>
  Object.fromEntries(Object.entries(usage).map(([model, u]) => [model, { ...u, cost: roundCost(u.cost) }]))

const totals = (usage: Readonly<Record<string, LanguageModel.ModelUsage>>) =>
  Object.values(usage).reduce((t, u) => ({ calls: t.calls + u.calls, cost: t.cost + u.cost }), { calls: 0, cost: 0 })

/** The budget the final evaluation may still spend: the first limit it reaches, if any. */
const spent = (
  budget: Optimizer.Budget,
  usage: Readonly<Record<string, LanguageModel.ModelUsage>>,
  metricCalls: number
): TrialLog.StopReason | undefined => {
  const { calls, cost } = totals(usage)
  if (budget.maxLmCalls !== undefined && calls >= budget.maxLmCalls) {
    return { _tag: "BudgetExhausted", limit: "lmCalls", used: calls, max: budget.maxLmCalls }
  }
  if (budget.maxMetricCalls !== undefined && metricCalls >= budget.maxMetricCalls) {
    return { _tag: "BudgetExhausted", limit: "metricCalls", used: metricCalls, max: budget.maxMetricCalls }
  }
  if (budget.maxCost !== undefined && cost >= budget.maxCost) {
    return { _tag: "BudgetExhausted", limit: "cost", used: roundCost(cost), max: budget.maxCost }
  }
  return undefined
}

interface FinalScore {
  readonly score: number | null
  readonly metricCalls: number
  readonly resumed: number
  readonly stop: TrialLog.StopReason | undefined
}

/**
 * Scores the compiled program when the optimizer scored no candidate itself (LabeledFewShot,
 * BootstrapFewShot): every run reports a score. Each example's score is a checkpointed step, like the
 * optimizer's own, and the run's budget still applies.
 */
const scoreCompiled = (
  program: Module.Module,
  examples: ReadonlyArray<Example.Example>,
  options: {
    readonly metric: Evaluate.Metric<any>
    readonly metricName: string
    readonly threads: number
    readonly budget: Optimizer.Budget
    readonly metricCallsBefore: number
    readonly lm: LM.LM
  }
) =>
  Effect.gen(function*() {
    const store = yield* Checkpoint.Checkpoint
    const languageModel = yield* LanguageModel.LanguageModel
    const candidate = ProgramState.stateHash(program)
    const keys = examples.map((e) =>
      `dspex-cli/score/${
        ProgramState.hashState({
          candidate,
          metric: options.metricName,
          lm: options.lm,
          example: { data: e.data, inputKeys: e.inputKeys ?? null }
        })
      }`
    )
    const scores: Array<number | null> = []
    for (const key of keys) {
      const stored = (yield* store.get(key)) as { readonly score: number } | undefined
      scores.push(stored?.score ?? null)
    }
    const resumed = scores.filter((s) => s !== null).length
    const missing = scores.flatMap((s, i) => (s === null ? [i] : []))
    yield* log(`▶ scoring the compiled program on ${examples.length} examples`)
    let metricCalls = options.metricCallsBefore
    let stop: TrialLog.StopReason | undefined
    if (missing.length > 0) {
      const evaluation = Evaluate.stream({
        program,
        devset: missing.map((i) => examples[i]!),
        metric: options.metric,
        metricName: options.metricName,
        numThreads: options.threads,
        shouldStart: () => {
          stop ??= spent(options.budget, languageModel.usage(), metricCalls)
          if (stop !== undefined) return false
          metricCalls++
          return true
        }
      }) as Stream.Stream<
        Evaluate.EvaluateEvent,
        Evaluate.EvaluateError,
        LanguageModel.LanguageModel | Executor.Executor
      >
      yield* evaluation.pipe(
        Stream.mapEffect((event) => {
          if (event._tag !== "ExampleDone") return Effect.void
          const i = missing[event.index]!
          scores[i] = event.score
          return store.put(keys[i]!, { score: event.score })
        }),
        Stream.runDrain
      )
    }
    const complete = scores.every((s) => s !== null)
    const score = complete ? Evaluate.percentage(scores.reduce((a: number, b) => a + b!, 0), scores.length) : null
    yield* log(
      score === null
        ? `  stopped before the end: ${TrialLog.describeStop(stop!)}`
        : `  score ${score}%${resumed > 0 ? `, ${resumed} from checkpoint` : ""}`
    )
    return { score, metricCalls: metricCalls - options.metricCallsBefore, resumed, stop } satisfies FinalScore
  })

/**
 * Compiles, saves and reports.
 *
 * For example (the command's own internals, not a library API):
 * optimize({ signature: "question -> answer", module: "predict", optimizer: "bootstrap", trainset: "train.jsonl",
 *   out: "compiled.json", simulate: true, cache: false, threads: 8, budget: {} })
 */
export const optimize = (args: OptimizeArgs): Effect.Effect<OptimizeReport, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const loaded = yield* loadProgram(args)
    const chosen = yield* chooseMetric(args.metric, loaded.functions)
    const trainset = yield* loadExamples("trainset", args.trainset, args.inputs, loaded.program)
    const valset = args.valset === undefined
      ? undefined
      : yield* loadExamples("valset", args.valset, args.inputs, loaded.program)
    const entry = optimizers[args.optimizer]
    const make = yield* Effect.promise(() => entry.load())
    const config = yield* parseConfig(args.config, args.optimizer, make)
    const optimizer = make(config)

    const target = yield* chooseTarget({ model: args.model, simulate: args.simulate })
    const lm = LM.make(target.model, { temperature: 0 })
    yield* log(
      `Compiling ${loaded.description} with ${optimizer.name} on ${trainset.length} trainset${
        valset === undefined ? "" : ` and ${valset.length} valset`
      } examples (metric ${chosen.name}) with ${target.model} via ${target.description}`
    )
    const cache = args.cache ? Cache.layerConfig : Cache.layerNone
    const services = Layer.mergeAll(
      LanguageModel.layer().pipe(Layer.provide([Layer.succeed(Providers.Providers, target.providers), cache])),
      Executor.layerLocal({ concurrency: args.threads }),
      args.checkpoint === undefined ? Checkpoint.layerNone : Checkpoint.layerSqlite(args.checkpoint),
      embedderLayer(args.embedder, target.embeddings, cache, entry.embeds === true)
    )
    const run = Effect.gen(function*() {
      // The program file's own services are unknown here: the CLI provides the LM stack and nothing else.
      const events = optimizer.stream(loaded.program, {
        trainset,
        valset,
        metric: chosen.metric,
        metricName: chosen.name,
        seed: args.seed,
        budget: args.budget,
        numThreads: args.threads
      }) as Stream.Stream<
        Progress.Event | Optimizer.Finished<Module.Module>,
        Optimizer.CompileError,
        LanguageModel.LanguageModel | Executor.Executor | Embedder.Embedder
      >
      const compiled = yield* events.pipe(
        Stream.tap((event) =>
          event._tag === "Finished"
            ? Effect.void
            : log(
              // Bootstrap steps have no line of their own in Progress.render; a long bootstrap would look stuck.
              event._tag === "TrialScored" && event.trial.kind === "bootstrap"
                ? `  ${event.trial.label}: ${event.trial.usage.lmCalls} LM call${
                  event.trial.usage.lmCalls === 1 ? "" : "s"
                }`
                : Progress.render(event)
            )
        ),
        Stream.runFold(
          () => undefined as Optimizer.CompileResult<Module.Module> | undefined,
          (acc, event) => (event._tag === "Finished" ? event.result : acc)
        )
      )
      const { log: trialLog, program } = compiled!
      yield* ProgramState.save(program, args.out)
      yield* log(`saved the compiled program to ${args.out}`)
      if (entry.embeds === true) {
        yield* log(
          `note: ${optimizer.name} picks each call's demos from the trainset, which the saved file does not hold (as in DSPy)`
        )
      }
      const scoredOn = valset === undefined ? "trainset" as const : "valset" as const
      // The optimizer's own best score stands when it was measured where the report says: the valset if given.
      const final: FinalScore | { readonly error: unknown } =
        trialLog.best !== undefined && (valset === undefined || entry.scores === "valset")
          ? { score: trialLog.best.score, metricCalls: 0, resumed: 0, stop: undefined }
          : trialLog.stopReason._tag === "BudgetExhausted"
          ? { score: null, metricCalls: 0, resumed: 0, stop: undefined }
          : yield* scoreCompiled(program, valset ?? trainset, {
            metric: chosen.metric,
            metricName: chosen.name,
            threads: args.threads,
            budget: args.budget,
            metricCallsBefore: trialLog.metricCalls,
            lm
          }).pipe(Effect.catchTags({
            ErrorBudgetExceeded: (error) => Effect.succeed({ error }),
            EvaluationAborted: (error) => Effect.succeed({ error })
          }))
      const usage = (yield* LanguageModel.LanguageModel).usage()
      const embeddingUsage = entry.embeds === true ? (yield* Embedder.Embedder).usage() : undefined
      const stopReason = "stop" in final && final.stop !== undefined ? final.stop : trialLog.stopReason
      const report: OptimizeReport = {
        ...("error" in final ? { error: errorJson(final.error) } : {}),
        optimizer: optimizer.name,
        program: loaded.description,
        model: target.model,
        provider: target.description,
        metric: chosen.name,
        trainset: trainset.length,
        valset: valset?.length ?? null,
        score: "score" in final ? final.score : null,
        scoredOn,
        best: trialLog.best ?? null,
        stopReason,
        stopped: TrialLog.describeStop(stopReason),
        trials: trialLog.trials.length,
        metricCalls: trialLog.metricCalls + ("metricCalls" in final ? final.metricCalls : 0),
        resumedSteps: trialLog.resumedSteps + ("resumed" in final ? final.resumed : 0),
        usage: rounded(usage),
        ...(embeddingUsage === undefined ? {} : { embeddingUsage: rounded(embeddingUsage) }),
        predictors: Object.fromEntries(
          program.namedPredictors().map((
            [name, p]
          ) => [name, { demos: p.demos.length, instructions: p.signature.instructions }])
        ),
        out: args.out
      }
      return report
    })
    // One layer instance for the run, so the usage read at the end is the run's own.
    return yield* run.pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(services))
  }))
