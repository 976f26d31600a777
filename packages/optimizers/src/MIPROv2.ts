/**
 * DSPy's MIPROv2 (Multi-prompt Instruction PRoposal Optimizer v2), as in DSPy 3.3.1:
 *
 * 1. Demo candidates: `numFewshotCandidates` demo sets per predictor, built as random search builds its
 *    candidates (zero-shot, labeled, bootstrapped as given, bootstrapped shuffled) on the task model.
 * 2. Instruction candidates: a grounded proposer asks the prompt model for instructions informed by a
 *    dataset summary, a description of the program and of each predictor, bootstrapped demos and a random
 *    tip; candidate 0 of every predictor is its original instruction.
 * 3. A Bayesian search (Optuna's TPE, `internal/tpe.ts`) over the instruction and demo-set indices: the
 *    default program is evaluated on the full valset and given to the study as a trial with every index 0;
 *    each trial evaluates its combination on a random minibatch of the valset, and every
 *    `minibatchFullEvalSteps` trials (and at the end) the combination with the best mean minibatch score not
 *    yet fully evaluated is evaluated on the full valset and added to the study. Only full evaluations pick
 *    the returned program. With `auto` ("light", "medium", "heavy") the numbers of candidates and trials and
 *    the valset size follow DSPy's presets.
 *
 * Every evaluation goes through the session (Evaluate and the Executor, checkpointed, budgeted); every
 * bootstrap attempt and prompt-model call is a checkpointed step. A spent budget returns the best fully
 * evaluated program so far.
 */
import { type Example, LM, LMError, type Module } from "@dspex/core"
import { Effect } from "effect"
import * as BootstrapFewShot from "./BootstrapFewShot.ts"
import { InvalidDataset, InvalidOption, InvalidProgram } from "./Errors.ts"
import { define } from "./internal/define.ts"
import { createDemoSets } from "./internal/demoCandidates.ts"
import { proposeInstructions } from "./internal/groundedProposer.ts"
import { type Evaluation, type Session } from "./internal/session.ts"
import { makeStudy, type Params } from "./internal/tpe.ts"
import type { CompileOptions, Optimizer } from "./Optimizer.ts"
import { PyRandom } from "./PyRandom.ts"

/** DSPy's run presets. */
export type Auto = "light" | "medium" | "heavy"

/** Candidates (`n`) and valset size of each preset (DSPy's `AUTO_RUN_SETTINGS`). */
export const AUTO_RUN_SETTINGS: Readonly<Record<Auto, { readonly n: number; readonly valSize: number }>> = {
  light: { n: 6, valSize: 100 },
  medium: { n: 12, valSize: 300 },
  heavy: { n: 18, valSize: 1000 }
}

/** Bootstrapped demos a proposal shows, and those a zero-shot run still bootstraps for it (DSPy's constants). */
const BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT = 3
const LABELED_FEWSHOT_EXAMPLES_IN_CONTEXT = 0
/** In auto mode, minibatching is on only for a valset larger than this. */
const MIN_MINIBATCH_SIZE = 50

export interface Config {
  /** The LM that writes summaries and instructions (DSPy's `prompt_model`), else the fiber's CurrentLM. */
  readonly promptModel?: LM.LM | undefined
  /** The LM the program runs on while bootstrapping and evaluating (DSPy's `task_model`), else CurrentLM. */
  readonly taskModel?: LM.LM | undefined
  /** The teacher's LM while bootstrapping (DSPy's `teacher_settings`). */
  readonly teacherSettings?: BootstrapFewShot.Config["teacherSettings"]
  readonly maxBootstrappedDemos: number
  readonly maxLabeledDemos: number
  /** A preset, or null (DSPy's None) to set `numCandidates` and `numTrials` yourself. */
  readonly auto: Auto | null
  /** Instruction and demo-set candidates per predictor when `auto` is null. */
  readonly numCandidates?: number | undefined
  /** Failed examples that stop an evaluation or a bootstrap (DSPy's `max_errors`; else the compile option). */
  readonly maxErrors?: number | undefined
  /** The seed of every draw; a compile `seed` other than 0 replaces it (DSPy's `seed or self.seed`). */
  readonly seed: number
  /** The prompt model's temperature for proposals. */
  readonly initTemperature: number
  readonly metricThreshold?: number | undefined
  // DSPy's compile-time options (DSPex's compile options are shared by every optimizer):
  /** Search trials when `auto` is null. */
  readonly numTrials?: number | undefined
  /** Score trials on minibatches (auto mode decides it from the valset size). */
  readonly minibatch: boolean
  readonly minibatchSize: number
  /** A full evaluation after every this many minibatch trials. */
  readonly minibatchFullEvalSteps: number
  readonly programAwareProposer: boolean
  readonly dataAwareProposer: boolean
  /** Trainset examples per dataset-summary call. */
  readonly viewDataBatchSize: number
  readonly tipAwareProposer: boolean
  readonly fewshotAwareProposer: boolean
}

const name = "MIPROv2"

/**
 * DSPy's trial count for a number of candidates: `int(max(2·V·log2(n), 1.5·n))`, V the predictors (twice
 * as many variables when demos are searched too).
 *
 * @example
 * ```ts
 * import { MIPROv2 } from "@dspex/optimizers"
 *
 * MIPROv2.numTrialsFor({ predictors: 1, zeroshot: false, numCandidates: 6 }) // 10 (light)
 * MIPROv2.numTrialsFor({ predictors: 1, zeroshot: true, numCandidates: 6 }) // 9
 * ```
 */
export const numTrialsFor = (
  options: { readonly predictors: number; readonly zeroshot: boolean; readonly numCandidates: number }
): number => {
  const vars = options.zeroshot ? options.predictors : options.predictors * 2
  return Math.trunc(Math.max(2 * vars * Math.log2(options.numCandidates), 1.5 * options.numCandidates))
}

/**
 * DSPy's projection of a run's LM calls (`_estimate_lm_calls`): prompt-model calls (10 for the data summary,
 * one per instruction candidate and predictor, predictors + 1 for the program descriptions) and task-model
 * program runs (`minibatchSize·numTrials + |valset|·(numTrials // minibatchFullEvalSteps + 1)` with
 * minibatches, else `|valset|·numTrials`). Bootstrapping is not counted, as in DSPy.
 *
 * @example
 * ```ts
 * import { MIPROv2 } from "@dspex/optimizers"
 *
 * MIPROv2.estimateLmCalls({
 *   predictors: 1,
 *   numInstructCandidates: 6,
 *   programAwareProposer: true,
 *   numTrials: 9,
 *   minibatch: true,
 *   minibatchSize: 35,
 *   minibatchFullEvalSteps: 5,
 *   valsetSize: 60
 * }) // { promptModel: 18, taskModel: 435 }
 * ```
 */
export const estimateLmCalls = (options: {
  readonly predictors: number
  readonly numInstructCandidates: number
  readonly programAwareProposer: boolean
  readonly numTrials: number
  readonly minibatch: boolean
  readonly minibatchSize: number
  readonly minibatchFullEvalSteps: number
  readonly valsetSize: number
}): { readonly promptModel: number; readonly taskModel: number } => ({
  promptModel: 10 + options.numInstructCandidates * options.predictors +
    (options.programAwareProposer ? options.predictors + 1 : 0),
  taskModel: options.minibatch
    ? options.minibatchSize * options.numTrials +
      options.valsetSize * (Math.floor(options.numTrials / options.minibatchFullEvalSteps) + 1)
    : options.valsetSize * options.numTrials
})

const invalid = (option: string, value: unknown, expected: string) =>
  Effect.fail(new InvalidOption({ optimizer: name, option, value: String(value), expected }))

const checkConfig = (config: Config) => {
  if (config.auto !== null && !Object.hasOwn(AUTO_RUN_SETTINGS, config.auto)) {
    return invalid("auto", JSON.stringify(config.auto), "\"light\", \"medium\", \"heavy\" or null")
  }
  const ints: ReadonlyArray<readonly [string, number | undefined, number]> = [
    ["maxBootstrappedDemos", config.maxBootstrappedDemos, 0],
    ["maxLabeledDemos", config.maxLabeledDemos, 0],
    ["numCandidates", config.numCandidates, 1],
    ["numTrials", config.numTrials, 1],
    ["minibatchSize", config.minibatchSize, 1],
    ["minibatchFullEvalSteps", config.minibatchFullEvalSteps, 1],
    ["viewDataBatchSize", config.viewDataBatchSize, 1],
    ["maxErrors", config.maxErrors, 1],
    ["seed", config.seed, Number.MIN_SAFE_INTEGER]
  ]
  for (const [option, value, min] of ints) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) {
      return invalid(option, value, min === Number.MIN_SAFE_INTEGER ? "an integer" : `an integer ≥ ${min}`)
    }
  }
  if (!(config.initTemperature >= 0)) return invalid("initTemperature", config.initTemperature, "a number ≥ 0")
  const zeroshot = config.maxBootstrappedDemos === 0 && config.maxLabeledDemos === 0
  // DSPy's rules, in its order.
  if (config.auto === null && config.numCandidates !== undefined && config.numTrials === undefined) {
    return invalid(
      "numTrials",
      undefined,
      `a number of trials when auto is null (for numCandidates ${config.numCandidates}, DSPy recommends ~${
        numTrialsFor({ predictors: 1, zeroshot, numCandidates: config.numCandidates })
      } per predictor)`
    )
  }
  if (config.auto === null && (config.numCandidates === undefined || config.numTrials === undefined)) {
    return invalid("numCandidates", undefined, "a number of candidates (and numTrials) when auto is null")
  }
  if (config.auto !== null && (config.numCandidates !== undefined || config.numTrials !== undefined)) {
    const option = config.numTrials !== undefined ? "numTrials" : "numCandidates"
    return invalid(
      option,
      config.numTrials ?? config.numCandidates,
      `unset when auto is set (the "${config.auto}" preset decides it); set auto: null to choose it yourself`
    )
  }
  return Effect.void
}

/** DSPy's `_set_and_validate_datasets`: without a valset, the last 80% of the trainset (at most 1000). */
const splitDatasets = (compile: CompileOptions<any>) => {
  const { trainset, valset } = compile
  const bad = (dataset: string, size: number, reason: string) =>
    Effect.fail(new InvalidDataset({ optimizer: name, dataset, size, reason }))
  if (trainset.length === 0) return bad("trainset", 0, "is empty")
  if (valset === undefined) {
    if (trainset.length < 2) {
      return bad(
        "trainset",
        trainset.length,
        "needs at least 2 examples when no valset is given (one to learn from, one to score on)"
      )
    }
    const size = Math.min(1000, Math.max(1, Math.trunc(trainset.length * 0.8)))
    const cutoff = trainset.length - size
    return Effect.succeed({ trainset: trainset.slice(0, cutoff), valset: trainset.slice(cutoff) })
  }
  if (valset.length < 1) return bad("valset", 0, "is empty")
  const unmarked = valset.findIndex((e) => e.inputKeys === undefined)
  if (unmarked >= 0) {
    return bad("valset", valset.length, `has no input keys on example ${unmarked} (call withInputs(...))`)
  }
  return Effect.succeed({ trainset: [...trainset], valset: [...valset] })
}

/** DSPy's `create_minibatch`: `min(size, n)` examples drawn with `rng.sample(range(n), ...)`. */
const minibatchOf = (examples: ReadonlyArray<Example.Example>, size: number, rng: PyRandom) =>
  rng.sample(
    Array.from({ length: examples.length }, (_, i) => i),
    Math.min(size, examples.length)
  ).map((i) => examples[i]!)

interface SearchInput {
  readonly session: Session
  readonly program: Module.Module
  readonly instructions: ReadonlyArray<ReadonlyArray<string>>
  readonly demoSets: ReadonlyArray<ReadonlyArray<ReadonlyArray<Record<string, unknown>>>> | undefined
  readonly valset: ReadonlyArray<Example.Example>
  readonly numTrials: number
  readonly minibatch: boolean
  readonly seed: number
  readonly rng: PyRandom
  readonly config: Config
  readonly compile: CompileOptions<any>
}

interface Tried {
  readonly score: number
  readonly program: Module.Module
  readonly params: Params
}

/** DSPy's `get_program_with_highest_avg_score`: best mean first, ties in first-seen order. */
const highestMean = (scores: ReadonlyMap<string, ReadonlyArray<Tried>>, done: ReadonlySet<string>) => {
  const ranked = [...scores].map(([key, tried]) => ({
    key,
    mean: tried.reduce((a, t) => a + t.score, 0) / tried.length,
    first: tried[0]!
  })).sort((a, b) => b.mean - a.mean)
  return ranked.find((r) => !done.has(r.key))
}

/** Step 3: DSPy's `_optimize_prompt_parameters`. */
const search = (input: SearchInput): Effect.Effect<Module.Module, any, any> =>
  Effect.gen(function*() {
    const { compile, config, demoSets, instructions, minibatch, numTrials, program, rng, session, valset } = input
    const steps = config.minibatchFullEvalSteps
    const adjusted = minibatch
      ? numTrials + Math.floor(numTrials / steps) + 1 + (numTrials % steps !== 0 ? 1 : 0)
      : numTrials
    // An evaluation that fails as a whole (DSPy's exception: here the error budget) scores 0, as in DSPy.
    const evaluate = (candidate: Module.Module, examples: ReadonlyArray<Example.Example>, label: string) =>
      input.session.evaluate(candidate, examples, {
        label,
        metric: compile.metric,
        metricName: compile.metricName,
        numThreads: compile.numThreads,
        maxErrors: config.maxErrors ?? compile.maxErrors
      }).pipe(
        Effect.catchIf((e) => (e as { _tag?: unknown })._tag === "ErrorBudgetExceeded", (e) =>
          Effect.as(
            Effect.logError(`${label}: the evaluation failed (${String(e)}); its score is 0, as in DSPy.`),
            undefined
          ))
      )
    let best = program.deepCopy()
    let bestScore = 0
    session.fallback = () => best.deepCopy()
    // A full evaluation is offered to the session (the budget stop's answer) only when it beats DSPy's best
    // score: after a baseline that failed (score 0) DSPy keeps the baseline over later zeros, and so do we.
    const improve = (evaluation: Evaluation | undefined, candidate: Module.Module, label: string) =>
      Effect.gen(function*() {
        const score = evaluation?.score ?? 0
        if (!(score > bestScore)) return
        bestScore = score
        best = candidate.deepCopy()
        if (evaluation !== undefined) yield* session.offerBest(evaluation, label, best)
        yield* Effect.logInfo(`New best full score: ${score}`)
      })

    const baseLabel = `trial 1/${adjusted}: full evaluation of the default program`
    const baseline = yield* evaluate(program, valset, baseLabel)
    bestScore = baseline?.score ?? 0
    if (baseline !== undefined) yield* session.offerBest(baseline, baseLabel, best)
    yield* Effect.logInfo(`Default program score: ${bestScore}`)

    const params = program.predictors().flatMap((_, i) => [
      { name: `${i}_predictor_instruction`, choices: instructions[i]!.length },
      ...(demoSets === undefined ? [] : [{ name: `${i}_predictor_demos`, choices: demoSets[i]!.length }])
    ])
    const study = makeStudy({ seed: input.seed, params })
    study.addTrial(Object.fromEntries(params.map((p) => [p.name, 0])), bestScore)

    const tried = new Map<string, Array<Tried>>()
    const fullyEvaluated = new Set<string>()
    // Optuna numbers trials in creation order, the injected ones included: the baseline is 0.
    let nextNumber = 1
    for (let t = 0; t < numTrials; t++) {
      const trialNum = ++nextNumber
      const suggested = study.ask()
      const candidate = program.deepCopy()
      const chosen: Array<string> = []
      candidate.predictors().forEach((predictor, i) => {
        const ii = suggested[`${i}_predictor_instruction`]!
        predictor.signature = predictor.signature.withInstructions(instructions[i]![ii]!)
        chosen.push(`Predictor ${i}: Instruction ${ii}`)
        if (demoSets !== undefined) {
          const di = suggested[`${i}_predictor_demos`]!
          predictor.demos = demoSets[i]![di]!.map((d) => ({ ...d }))
          chosen.push(`Predictor ${i}: Few-Shot Set ${di}`)
        }
      })
      const batchSize = minibatch ? config.minibatchSize : valset.length
      const batch = batchSize >= valset.length ? valset : minibatchOf(valset, batchSize, rng)
      const label = `trial ${trialNum}/${adjusted}${minibatch ? " (minibatch)" : ""}: ${chosen.join(", ")}`
      const evaluation = yield* evaluate(candidate, batch, label)
      const score = evaluation?.score ?? 0
      if (!minibatch) yield* improve(evaluation, candidate, label)
      const key = chosen.join(",")
      const entries = tried.get(key) ?? []
      entries.push({ score, program: candidate, params: suggested })
      tried.set(key, entries)
      study.tell(suggested, score)

      if (minibatch && (trialNum % (steps + 1) === 0 || trialNum === adjusted - 1)) {
        const pick = highestMean(tried, fullyEvaluated)
        if (pick === undefined) {
          // DSPy raises here; every combination tried is already fully evaluated, so there is nothing to add.
          yield* Effect.logWarning("No combination left to evaluate fully; skipping this full evaluation.")
          continue
        }
        const fullLabel = `trial ${trialNum + 1}/${adjusted}: full evaluation of ${
          pick.key.replaceAll(",", ", ")
        } (mean minibatch score ${pick.mean})`
        const full = yield* evaluate(pick.first.program, valset, fullLabel)
        const fullScore = full?.score ?? 0
        study.addTrial(pick.first.params, fullScore)
        nextNumber++
        fullyEvaluated.add(pick.key)
        yield* improve(full, pick.first.program, fullLabel)
      }
    }
    yield* Effect.logInfo(`Returning best identified program with score ${bestScore}!`)
    return best
  })

/**
 * @example
 * ```ts
 * import { Example, LM, Metrics, Predict } from "@dspex/core"
 * import { MIPROv2 } from "@dspex/optimizers"
 *
 * const trainset = Array.from({ length: 20 }, (_, i) =>
 *   Example.make({ question: `What is ${i} + 1?`, answer: String(i + 1) }).withInputs("question"))
 * const compiled = MIPROv2.make({
 *   auto: "light",
 *   promptModel: LM.make("openai/gpt-4o", { temperature: 1 }),
 *   maxBootstrappedDemos: 2,
 *   maxLabeledDemos: 2
 * }).compile(Predict.make("question -> answer"), { trainset, metric: Metrics.answerExactMatch })
 * ```
 */
export const make = (options: Partial<Config> = {}): Optimizer<Config> => {
  const config: Config = {
    promptModel: options.promptModel,
    taskModel: options.taskModel,
    teacherSettings: options.teacherSettings,
    maxBootstrappedDemos: options.maxBootstrappedDemos ?? 4,
    maxLabeledDemos: options.maxLabeledDemos ?? 4,
    auto: options.auto === undefined ? "light" : options.auto,
    numCandidates: options.numCandidates,
    maxErrors: options.maxErrors,
    seed: options.seed ?? 9,
    initTemperature: options.initTemperature ?? 1.0,
    metricThreshold: options.metricThreshold,
    numTrials: options.numTrials,
    minibatch: options.minibatch ?? true,
    minibatchSize: options.minibatchSize ?? 35,
    minibatchFullEvalSteps: options.minibatchFullEvalSteps ?? 5,
    programAwareProposer: options.programAwareProposer ?? true,
    dataAwareProposer: options.dataAwareProposer ?? true,
    viewDataBatchSize: options.viewDataBatchSize ?? 10,
    tipAwareProposer: options.tipAwareProposer ?? true,
    fewshotAwareProposer: options.fewshotAwareProposer ?? true
  }
  return define(name, config, (session, student, compile) =>
    Effect.gen(function*() {
      yield* checkConfig(config)
      const zeroshot = config.maxBootstrappedDemos === 0 && config.maxLabeledDemos === 0
      // DSPy's `seed or self.seed`: a compile seed of 0 counts as unset.
      const seed = compile.seed || config.seed
      const rng = new PyRandom(seed)
      const split = yield* splitDatasets(compile)
      const trainset = split.trainset
      let valset = split.valset
      let numTrials = config.numTrials ?? 0
      let minibatch = config.minibatch
      let numInstruct = config.numCandidates ?? 0
      let numFewshot = config.numCandidates ?? 0
      const predictors = student.predictors().length
      if (predictors === 0) {
        return yield* new InvalidProgram({ optimizer: name, reason: "the program has no predictors" })
      }
      if (student.compiled) {
        return yield* new InvalidProgram({ optimizer: name, reason: "the student must be uncompiled" })
      }
      if (config.auto !== null) {
        const preset = AUTO_RUN_SETTINGS[config.auto]
        valset = minibatchOf(valset, preset.valSize, rng)
        minibatch = valset.length > MIN_MINIBATCH_SIZE
        // Half as many instructions when demos are searched too: DSPy finds the budget better spent on demos.
        numInstruct = zeroshot ? preset.n : Math.trunc(preset.n * 0.5)
        numFewshot = preset.n
        numTrials = numTrialsFor({ predictors, zeroshot, numCandidates: preset.n })
        yield* Effect.logInfo(
          `RUNNING WITH THE FOLLOWING ${config.auto.toUpperCase()} AUTO RUN SETTINGS: num_trials: ${numTrials}, minibatch: ${minibatch}, num_fewshot_candidates: ${numFewshot}, num_instruct_candidates: ${numInstruct}, valset size: ${valset.length}`
        )
      }
      if (minibatch && config.minibatchSize > valset.length) {
        return yield* invalid(
          "minibatchSize",
          config.minibatchSize,
          `at most the valset size (${valset.length}), or minibatch: false`
        )
      }
      if (!zeroshot && config.maxBootstrappedDemos === 0 && numFewshot > 3) {
        return yield* invalid(
          "maxBootstrappedDemos",
          0,
          "an integer ≥ 1 when maxLabeledDemos > 0 (each shuffled demo set draws 1 to maxBootstrappedDemos demos; DSPy fails here too)"
        )
      }
      const current = yield* LM.CurrentLM
      const taskModel = config.taskModel ?? current
      const promptModel = config.promptModel ?? current
      if (taskModel === undefined || promptModel === undefined) {
        return yield* new LMError.LMConfigurationError({
          model: "(none)",
          detail:
            "MIPROv2 needs a prompt model and a task model: pass promptModel and taskModel, or provide LM.CurrentLM"
        })
      }
      const maxErrors = config.maxErrors ?? compile.maxErrors
      const program = student.deepCopy()
      session.fallback = () => program.deepCopy()

      // Step 1: demo candidates (in zero-shot mode, only to show the proposer bootstrapped demos).
      const demoSets = yield* createDemoSets(
        session,
        program,
        trainset,
        {
          numCandidateSets: numFewshot,
          maxBootstrappedDemos: zeroshot ? BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT : config.maxBootstrappedDemos,
          maxLabeledDemos: zeroshot ? LABELED_FEWSHOT_EXAMPLES_IN_CONTEXT : config.maxLabeledDemos,
          metricThreshold: config.metricThreshold,
          teacherSettings: config.teacherSettings,
          maxErrors
        },
        { ...compile, maxErrors },
        rng
      ).pipe(Effect.provideService(LM.CurrentLM, taskModel))

      // Step 2: instruction candidates. Candidate 0 was proposed (and paid for) and is then replaced by the
      // original instruction, as DSPy does.
      const instructions = yield* proposeInstructions(session, program, trainset, demoSets, numInstruct, rng, {
        promptModel,
        initTemperature: config.initTemperature,
        viewDataBatchSize: config.viewDataBatchSize,
        programAware: config.programAwareProposer,
        dataAware: config.dataAwareProposer,
        fewshotAware: config.fewshotAwareProposer,
        tipAware: config.tipAwareProposer,
        demosInContext: BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT,
        concurrency: compile.trialConcurrency ?? 4
      })
      program.predictors().forEach((p, i) => (instructions[i]![0] = p.signature.instructions))

      // Step 3: the search, over instructions only in zero-shot mode.
      return yield* search({
        session,
        program,
        instructions,
        demoSets: zeroshot ? undefined : demoSets,
        valset,
        numTrials,
        minibatch,
        seed,
        rng,
        config,
        compile
      }).pipe(Effect.provideService(LM.CurrentLM, taskModel))
    }))
}
