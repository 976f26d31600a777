/**
 * DSPy's BootstrapFewShot. A teacher (a copy of the student, given labeled demos by LabeledFewShot unless
 * it is compiled) runs on the trainset in order, each example with itself left out of the teacher's
 * demos, until `maxBootstrappedDemos` examples have succeeded (the metric, called with the run's trace,
 * passes); a failed example is retried for up to `maxRounds` rounds, rounds after the first with the LM at
 * temperature 1.0 and `rolloutId` = round so they are fresh samples. Each successful run's steps become
 * demos of their predictors (`augmented: true`). Every student predictor then gets its bootstrapped demos
 * first, then labeled examples drawn from those that did not bootstrap, as DSPy draws them.
 *
 * Each teacher run is an Executor task (kind "bootstrap", the teacher's state and the example in its
 * descriptor) and a checkpointed step.
 */
import { Evaluate, type Example, Executor, LM, LMError, type Module, ProgramState, Trace } from "@dspex/core"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import { BootstrapFailed, InvalidDataset, InvalidOption, InvalidProgram } from "./Errors.ts"
import { define } from "./internal/define.ts"
import { demosOfTrace, labeled, sameFields } from "./internal/demos.ts"
import type { Session } from "./internal/session.ts"
import { exampleKey } from "./internal/session.ts"
import * as LabeledFewShot from "./LabeledFewShot.ts"
import type { CompileOptions, Optimizer } from "./Optimizer.ts"
import { PyRandom } from "./PyRandom.ts"

export interface Config {
  /** A numeric metric passes at or above it (unset or 0: any truthy score passes, as DSPy). */
  readonly metricThreshold?: number | undefined
  /** The teacher's LM (DSPy's `teacher_settings`), else the fiber's CurrentLM. */
  readonly teacherSettings?: { readonly lm?: LM.LM | undefined } | undefined
  readonly maxBootstrappedDemos: number
  readonly maxLabeledDemos: number
  readonly maxRounds: number
  /** Failed teacher runs that stop the compile (DSPy: settings.max_errors, 10). */
  readonly maxErrors?: number | undefined
}

const name = "BootstrapFewShot"

/** The outcome of one teacher run, as stored in the checkpoint. */
interface Attempt {
  readonly success: boolean
  readonly demos: Record<string, ReadonlyArray<Record<string, unknown>>>
  readonly error?: string | undefined
  readonly fatal?: boolean | undefined
}

/** What a bootstrap produced: demos per predictor name, and the examples that did not bootstrap (shuffled). */
export interface Bootstrapped {
  readonly name2traces: Record<string, Array<Record<string, unknown>>>
  readonly validation: ReadonlyArray<Example.Example>
  /** Examples that bootstrapped, and the index the loop stopped at (DSPy's log line). */
  readonly bootstrapped: number
  readonly lastIndex: number
  readonly attempts: number
  readonly errors: number
}

const checkConfig = (config: Config) => {
  const ints: ReadonlyArray<readonly [string, number, number]> = [
    ["maxBootstrappedDemos", config.maxBootstrappedDemos, 0],
    ["maxLabeledDemos", config.maxLabeledDemos, 0],
    ["maxRounds", config.maxRounds, 1],
    ...(config.maxErrors === undefined ? [] : [["maxErrors", config.maxErrors, 1] as const])
  ]
  for (const [option, value, min] of ints) {
    if (!Number.isInteger(value) || value < min) {
      return Effect.fail(
        new InvalidOption({ optimizer: name, option, value: String(value), expected: `an integer ≥ ${min}` })
      )
    }
  }
  return Effect.void
}

/** Student and teacher must have the same predictors, names and signatures (DSPy's assertions). */
const checkShapes = (student: Module.Module, teacher: Module.Module) => {
  const s = student.namedPredictors()
  const t = teacher.namedPredictors()
  if (s.length === 0) {
    return Effect.fail(new InvalidProgram({ optimizer: name, reason: "the program has no predictors" }))
  }
  if (s.length !== t.length) {
    return Effect.fail(
      new InvalidProgram({
        optimizer: name,
        reason: `student and teacher must have the same number of predictors (${s.length} and ${t.length})`
      })
    )
  }
  for (let i = 0; i < s.length; i++) {
    const [sn, sp] = s[i]!
    const [tn, tp] = t[i]!
    if (sn !== tn) {
      return Effect.fail(
        new InvalidProgram({
          optimizer: name,
          reason: `predictor ${i} is "${sn}" in the student, "${tn}" in the teacher`
        })
      )
    }
    if (!sp.signature.equals(tp.signature)) {
      return Effect.fail(
        new InvalidProgram({ optimizer: name, reason: `predictor "${sn}" has another signature in the teacher` })
      )
    }
  }
  return Effect.void
}

/**
 * Runs the bootstrap phase on `trainset` (DSPy's `_bootstrap`), for this optimizer and the ones built on
 * it (random search, MIPROv2's demo candidates). `label` prefixes the steps' labels in the log.
 */
export const bootstrap = (
  session: Session,
  teacher: Module.Module,
  trainset: ReadonlyArray<Example.Example>,
  config: Config,
  options: CompileOptions<any>,
  label = ""
): Effect.Effect<Bootstrapped, any, any> =>
  Effect.gen(function*() {
    const names = teacher.namedPredictors().map(([n]) => n)
    const name2traces: Record<string, Array<Record<string, unknown>>> = Object.fromEntries(names.map((n) => [n, []]))
    const bootstrapped = new Set<number>()
    const maxErrors = config.maxErrors ?? 10
    const baseLm = config.teacherSettings?.lm ?? (yield* LM.CurrentLM)
    let attempts = 0
    let errors = 0
    let lastIndex = 0
    for (let i = 0; i < trainset.length; i++) {
      lastIndex = i
      if (bootstrapped.size >= config.maxBootstrappedDemos) break
      const example = trainset[i]!
      for (let round = 0; round < config.maxRounds; round++) {
        attempts++
        // The example is left out of the teacher's demos for its own run.
        const attemptTeacher = teacher.deepCopy()
        for (const p of attemptTeacher.predictors()) p.demos = p.demos.filter((d) => !sameFields(d, example))
        const lm = round > 0 && baseLm !== undefined ? LM.copy(baseLm, { rolloutId: round, temperature: 1.0 }) : baseLm
        const state = attemptTeacher.dumpState()
        const hash = ProgramState.hashState(state)
        const attempt = yield* session.step<Attempt>(
          "bootstrap",
          `${label}example ${i}, round ${round}`,
          hash,
          `${hash}/${exampleKey(example)}/${round}/${lm === undefined ? "" : ProgramState.hashState(lm).slice(0, 16)}`,
          runTeacher(attemptTeacher, example, lm, config, options, { hash, state, round }),
          { metricCalls: 1 }
        )
        if (attempt.fatal === true || (!attempt.success && attempt.error !== undefined && ++errors >= maxErrors)) {
          return yield* new BootstrapFailed({
            optimizer: name,
            errors: Math.max(errors, 1),
            maxErrors,
            error: attempt.error
          })
        }
        if (attempt.error !== undefined) {
          yield* Effect.logError(`Failed to run or to evaluate example ${i}: ${attempt.error}`)
        }
        if (attempt.success) {
          for (const [n, demos] of Object.entries(attempt.demos)) name2traces[n]?.push(...demos)
          bootstrapped.add(i)
          break
        }
      }
    }
    const validation = trainset.filter((_, i) => !bootstrapped.has(i))
    new PyRandom(options.seed ?? 0).shuffle(validation)
    return { name2traces, validation, bootstrapped: bootstrapped.size, lastIndex, attempts, errors }
  })

/** One teacher run through the Executor: the traced call, then the metric with the trace. */
const runTeacher = (
  teacher: Module.Module,
  example: Example.Example,
  lm: LM.LM | undefined,
  config: Config,
  options: CompileOptions<any>,
  descriptor: { readonly hash: string; readonly state: Record<string, unknown>; readonly round: number }
): Effect.Effect<Attempt, never, any> => {
  const run = Effect.gen(function*() {
    const [prediction, steps] = yield* Trace.capture(teacher.call(example.inputs()) as Effect.Effect<any, unknown, any>)
    const score = yield* Evaluate.runMetric(options.metric, example, prediction, steps)
    const success = config.metricThreshold ? score >= config.metricThreshold : score !== 0
    return { success, demos: success ? demosOfTrace(steps) : {} } satisfies Attempt
  })
  const task = {
    descriptor: {
      id: `bootstrap/${descriptor.hash.slice(0, 16)}/${exampleKey(example)}/${descriptor.round}`,
      kind: "bootstrap",
      program: { hash: descriptor.hash, state: descriptor.state },
      example: { data: example.data, inputKeys: example.inputKeys },
      payload: { round: descriptor.round, metric: options.metricName ?? options.metric.name, lm }
    },
    effect: lm === undefined ? run : Effect.provideService(run, LM.CurrentLM, lm)
  }
  return Executor.runBatch([task]).pipe(
    Stream.runHead,
    Effect.map((head): Attempt => {
      const exit = Option.getOrThrow(head).exit
      if (Exit.isSuccess(exit)) return exit.value
      const failure = Cause.findErrorOption(exit.cause)
      const error = Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)
      return { success: false, demos: {}, error: Evaluate.describeError(error), fatal: LMError.isFatal(error) }
    })
  )
}

/** DSPy's `_train`: bootstrapped demos first, then labeled ones drawn from the pool that did not bootstrap. */
export const train = <P extends Module.Module>(student: P, result: Bootstrapped, config: Config, seed = 0): P => {
  const rng = new PyRandom(seed)
  // As in DSPy, each predictor draws from the previous predictor's draw (the pool shrinks).
  let raw: ReadonlyArray<Example.Example> = result.validation
  for (const [n, predictor] of student.namedPredictors()) {
    const augmentedDemos = (result.name2traces[n] ?? []).slice(0, config.maxBootstrappedDemos)
    const size = Math.max(0, Math.min(config.maxLabeledDemos - augmentedDemos.length, raw.length))
    raw = rng.sample(raw, size)
    predictor.demos = [...augmentedDemos.map((d) => ({ ...d })), ...raw.map(labeled)]
  }
  student.compiled = true
  return student
}

/** Checks the compile options and prepares student and teacher as DSPy does. */
export const prepare = (student: Module.Module, options: CompileOptions<any>, config: Config) =>
  Effect.gen(function*() {
    yield* checkConfig(config)
    if (options.trainset.length === 0) {
      return yield* new InvalidDataset({ optimizer: name, dataset: "trainset", size: 0, reason: "is empty" })
    }
    const unmarked = options.trainset.findIndex((e) => e.inputKeys === undefined)
    if (unmarked >= 0) {
      return yield* new InvalidDataset({
        optimizer: name,
        dataset: "trainset",
        size: options.trainset.length,
        reason: `has no input keys on example ${unmarked} (call withInputs(...))`
      })
    }
    if (student.compiled) {
      return yield* new InvalidProgram({ optimizer: name, reason: "the student must be uncompiled" })
    }
    const fresh = student.resetCopy()
    let teacher = (options.teacher ?? student).deepCopy()
    if (config.maxLabeledDemos > 0 && !teacher.compiled) {
      teacher = LabeledFewShot.apply(
        teacher,
        options.trainset,
        { k: config.maxLabeledDemos, sample: true },
        options.seed ?? 0
      )
    }
    yield* checkShapes(fresh, teacher)
    return { student: fresh, teacher }
  })

/**
 * @example
 * ```ts
 * import { Example, Metrics, Predict } from "@dspex/core"
 * import { BootstrapFewShot } from "@dspex/optimizers"
 *
 * const trainset = [Example.make({ question: "2+2?", answer: "4" }).withInputs("question")]
 * const compiled = BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4 }).compile(
 *   Predict.make("question -> answer"),
 *   { trainset, metric: Metrics.answerExactMatch }
 * )
 * ```
 */
export const make = (options: Partial<Config> = {}): Optimizer<Config> => {
  const config: Config = {
    metricThreshold: options.metricThreshold,
    teacherSettings: options.teacherSettings,
    maxBootstrappedDemos: options.maxBootstrappedDemos ?? 4,
    maxLabeledDemos: options.maxLabeledDemos ?? 16,
    maxRounds: options.maxRounds ?? 1,
    maxErrors: options.maxErrors
  }
  return define(name, config, (session, student, compile) =>
    Effect.gen(function*() {
      const { student: fresh, teacher } = yield* prepare(student, compile, config)
      session.fallback = () => fresh.deepCopy()
      const result = yield* bootstrap(session, teacher, compile.trainset, config, compile)
      yield* Effect.logInfo(
        `Bootstrapped ${result.bootstrapped} full traces after ${result.lastIndex} examples for up to ${config.maxRounds} rounds, amounting to ${result.attempts} attempts.`
      )
      return train(fresh, result, config, compile.seed ?? 0)
    }))
}
