/**
 * DSPy's KNNFewShot: demos chosen per call. The compiled program is the student (a reset copy, with the
 * student's class, predictors and saved-state layout) whose `forward`, on every call, embeds the call's
 * inputs with the `Embedder` in context, takes the `k` trainset examples with the largest dot product (the
 * trainset is embedded once per embedding model, on the first call), runs BootstrapFewShot with the
 * optimizer's settings on those examples, and answers with the program that produced.
 *
 * Unlike DSPy, which bootstraps again on every call, the program keeps the bootstrapped program of the last
 * `maxCachedPrograms` neighbour sets (keyed by the neighbours, the program's own state and the teacher's
 * LM), so repeated or similar inputs pay for no bootstrap; `maxCachedPrograms: 0` bootstraps every call.
 */
import {
  Embedder,
  type Example,
  type Executor,
  type LanguageModel,
  LM,
  type LMError,
  type Module,
  ProgramState
} from "@dspex/core"
import { Effect, type Stream } from "effect"
import * as BootstrapFewShot from "./BootstrapFewShot.ts"
import * as Checkpoint from "./Checkpoint.ts"
import { InvalidDataset, InvalidOption, InvalidProgram, type OptimizerError } from "./Errors.ts"
import { define } from "./internal/define.ts"
import { exampleText, inputsText, Memo, nearest } from "./internal/knn.ts"
import { Session } from "./internal/session.ts"
import type { CompileContext, CompileError, CompileOptions, CompileResult, Finished, Optimizer } from "./Optimizer.ts"
import type * as Progress from "./Progress.ts"

export interface Config extends BootstrapFewShot.Config {
  /** Trainset examples retrieved per call (DSPy's `k`; fewer when the trainset is smaller). */
  readonly k: number
  /** Bootstrapped programs kept per neighbour set (default 100); 0 bootstraps on every call, as DSPy. */
  readonly maxCachedPrograms: number
}

const name = "KNNFewShot"

/** How a call of the compiled program can fail besides the student's own errors: embedding, bootstrapping. */
export type CallError = OptimizerError | LMError.LMError

/** What a call of the compiled program needs besides the student's services and the metric's. */
export type CallContext = Embedder.Embedder | LanguageModel.LanguageModel | Executor.Executor

/**
 * The compiled program: the student's type, with a `forward` (and so a `call`) that also needs an
 * `Embedder` and the bootstrap's services, and can fail with their errors.
 */
export type Program<P extends Module.Module, R = never> = P & {
  forward(
    inputs: Module.InputsOf<P>,
    options?: Module.CallOptions
  ): Effect.Effect<Module.OutputOf<P>, Module.ErrorOf<P> | CallError, Module.ContextOf<P> | R | CallContext>
}

/** The Optimizer shape, with the compiled program typed as a KNNFewShot program. */
export interface KNNFewShot extends Optimizer<Config> {
  readonly compile: <P extends Module.Module, R = never>(
    student: P,
    options: CompileOptions<R>
  ) => Effect.Effect<CompileResult<Program<P, R>>, CompileError, CompileContext<P, R>>
  readonly stream: <P extends Module.Module, R = never>(
    student: P,
    options: CompileOptions<R>
  ) => Stream.Stream<Progress.Event | Finished<Program<P, R>>, CompileError, CompileContext<P, R>>
}

const StateKey: unique symbol = Symbol.for("@dspex/optimizers/KNNFewShot")

/**
 * What a compiled program carries besides its predictors. A class instance, so `deepCopy` shares it: copies
 * of a program share its trainset vectors and bootstrapped programs (the keys include the program's state).
 */
class KnnState {
  readonly vectors = new Memo<string, ReadonlyArray<Float32Array>, LMError.LMError>(4)
  readonly programs: Memo<string, Module.Module, CallError>
  readonly texts: ReadonlyArray<string>
  readonly config: Config
  readonly trainset: ReadonlyArray<Example.Example>
  /** The compile options each call's bootstrap runs with (metric, teacher, seed...), its trainset aside. */
  readonly options: CompileOptions<any>
  /** The student's prototype: a call bootstraps a copy of the program turned back into a plain student. */
  readonly base: object

  constructor(config: Config, options: CompileOptions<any>, base: object) {
    this.config = config
    this.trainset = [...options.trainset]
    this.texts = this.trainset.map(exampleText)
    this.options = {
      ...options,
      trainset: [],
      valset: undefined,
      budget: undefined,
      teacher: options.teacher?.deepCopy()
    }
    this.base = base
    this.programs = new Memo(config.maxCachedPrograms)
  }
}

const stateOf = (program: object): KnnState | undefined => (program as { [StateKey]?: KnnState })[StateKey]

/**
 * Whether `program` is a program KNNFewShot compiled.
 *
 * @example
 * ```ts
 * import { Predict } from "@dspex/core"
 * import { KNNFewShot } from "@dspex/optimizers"
 *
 * KNNFewShot.isProgram(Predict.make("question -> answer")) // false
 * ```
 */
export const isProgram = (program: unknown): boolean =>
  typeof program === "object" && program !== null && stateOf(program) !== undefined

/** A copy of the program as the student it was: its own class and predictors, no KNN forward. */
const plainCopy = (program: Module.Module, state: KnnState): Module.Module => {
  const copy = program.deepCopy()
  delete (copy as { [StateKey]?: KnnState })[StateKey]
  Object.setPrototypeOf(copy, state.base)
  return copy
}

const neighbourIndices = (state: KnnState, inputs: Readonly<Record<string, unknown>>) =>
  Effect.gen(function*() {
    const embedder = yield* Embedder.Embedder
    const [query] = yield* embedder.embed([inputsText(inputs)])
    // Keyed by model and length rather than by Embedder instance: a layer provided per call builds a new
    // Embedder each time, and the same model shortened to other dimensions gives vectors of another length.
    const vectors = yield* state.vectors.get(`${embedder.model}/${query!.length}`, embedder.embed(state.texts))
    return nearest(vectors, query!, state.config.k)
  })

/**
 * The `k` trainset examples nearest to `inputs`, nearest first: the demos' source for a call with these
 * inputs (DSPy's `KNN(**inputs)`). Embeds the trainset on first use, as a call does.
 *
 * @example
 * ```ts
 * import { Cache, Embedder, Example, Metrics, Predict } from "@dspex/core"
 * import { KNNFewShot } from "@dspex/optimizers"
 * import { Effect, Layer } from "effect"
 *
 * // A toy embedder: one dimension per word of a small vocabulary.
 * const vocabulary = ["capital", "france", "germany", "sum"]
 * const words = Embedder.fromFunction("words", (texts) =>
 *   texts.map((t) => vocabulary.map((w) => (t.toLowerCase().includes(w) ? 1 : 0))))
 * const trainset = [
 *   Example.make({ question: "What is the capital of France?", answer: "Paris" }).withInputs("question"),
 *   Example.make({ question: "What is the sum of 2 and 2?", answer: "4" }).withInputs("question")
 * ]
 * const program = Effect.gen(function*() {
 *   const { program } = yield* KNNFewShot.make({ k: 1 }).compile(Predict.make("question -> answer"), {
 *     trainset,
 *     metric: Metrics.answerExactMatch
 *   })
 *   const [nearest] = yield* KNNFewShot.neighbors(program, { question: "What is the capital of Germany?" })
 *   return nearest?.get("answer") // "Paris"
 * }).pipe(Effect.provide(Embedder.layer({ model: "words" }).pipe(Layer.provide([Embedder.providers(words), Cache.layerMemory()]))))
 * ```
 */
export const neighbors = (
  program: Module.Module,
  inputs: Readonly<Record<string, unknown>>
): Effect.Effect<ReadonlyArray<Example.Example>, LMError.LMError | InvalidProgram, Embedder.Embedder> =>
  Effect.suspend(
    (): Effect.Effect<ReadonlyArray<Example.Example>, LMError.LMError | InvalidProgram, Embedder.Embedder> => {
      const state = stateOf(program)
      if (state === undefined) {
        return Effect.fail(
          new InvalidProgram({ optimizer: name, reason: "the program was not compiled by KNNFewShot" })
        )
      }
      return Effect.map(neighbourIndices(state, inputs), (indices) => indices.map((i) => state.trainset[i]!))
    }
  )

/** A session outside any compile: no budget, no checkpoint, no progress events (a call is not a run). */
const detachedSession = () =>
  new Session({
    optimizer: name,
    runKey: name,
    store: Checkpoint.none,
    budget: {},
    emit: () => Effect.void,
    used: () => ({ lmCalls: 0, tokens: 0, cost: 0, byModel: {} })
  })

/** BootstrapFewShot compiled on the neighbours, as DSPy's forward does on each call. */
const bootstrapOn = (
  state: KnnState,
  student: Module.Module,
  trainset: ReadonlyArray<Example.Example>
): Effect.Effect<Module.Module, CallError, any> =>
  Effect.gen(function*() {
    const options: CompileOptions<any> = { ...state.options, trainset }
    const prepared = yield* BootstrapFewShot.prepare(student, options, state.config)
    const result = yield* BootstrapFewShot.bootstrap(
      detachedSession(),
      prepared.teacher,
      trainset,
      state.config,
      options
    )
    yield* Effect.logDebug(
      `KNNFewShot: bootstrapped ${result.bootstrapped} of ${trainset.length} neighbours in ${result.attempts} attempts`
    )
    return BootstrapFewShot.train(prepared.student, result, state.config, options.seed ?? 0)
  })

const run = (
  program: Module.Module,
  inputs: Readonly<Record<string, unknown>>,
  options: Module.CallOptions | undefined
): Effect.Effect<unknown, unknown, any> =>
  Effect.gen(function*() {
    const state = stateOf(program)!
    const indices = yield* neighbourIndices(state, inputs)
    const student = plainCopy(program, state)
    const lm = state.config.teacherSettings?.lm ?? (yield* LM.CurrentLM)
    const key = ProgramState.hashState({
      neighbours: indices,
      student: ProgramState.stateHash(student),
      lm: lm ?? null
    })
    const compiled = yield* state.programs.get(
      key,
      bootstrapOn(state, student, indices.map((i) => state.trainset[i]!))
    )
    return yield* compiled.call(inputs, options)
  })

const programClasses = new WeakMap<object, object>()

/**
 * The prototype of compiled programs of one student class: a subclass whose `forward` is KNNFewShot's, so
 * the program keeps the student's class, predictors, named paths and saved-state layout (DSPy swaps the
 * `forward` of the student's copy the same way).
 */
const programPrototype = (base: object): object => {
  const known = programClasses.get(base)
  if (known !== undefined) return known
  const Base = (base as { readonly constructor: abstract new(...args: Array<any>) => Module.Module }).constructor
  class KNNFewShotProgram extends Base {
    forward(inputs: Readonly<Record<string, unknown>>, options?: Module.CallOptions) {
      return run(this, inputs, options)
    }
  }
  // Callbacks and spans name the module by its class: the student's, as in DSPy.
  Object.defineProperty(KNNFewShotProgram, "name", { value: Base.name })
  programClasses.set(base, KNNFewShotProgram.prototype)
  return KNNFewShotProgram.prototype
}

/** BootstrapFewShot's checks, reported as this optimizer's. */
const renamed = <E>(e: E): E =>
  (e instanceof InvalidOption
    ? new InvalidOption({ optimizer: name, option: e.option, value: e.value, expected: e.expected })
    : e instanceof InvalidProgram
    ? new InvalidProgram({ optimizer: name, reason: e.reason })
    : e instanceof InvalidDataset
    ? new InvalidDataset({ optimizer: name, dataset: e.dataset, size: e.size, reason: e.reason })
    : e) as E

const check = (config: Config) => {
  if (!Number.isInteger(config.k) || config.k < 1) {
    return Effect.fail(
      new InvalidOption({ optimizer: name, option: "k", value: String(config.k), expected: "an integer ≥ 1" })
    )
  }
  if (!Number.isInteger(config.maxCachedPrograms) || config.maxCachedPrograms < 0) {
    return Effect.fail(
      new InvalidOption({
        optimizer: name,
        option: "maxCachedPrograms",
        value: String(config.maxCachedPrograms),
        expected: "an integer ≥ 0"
      })
    )
  }
  return Effect.void
}

/**
 * DSPy's `KNNFewShot(k, trainset, vectorizer, **bootstrap_args)`: `k` and BootstrapFewShot's settings here,
 * the trainset and metric (and an optional teacher) in `compile`'s options, the vectorizer as the `Embedder`
 * the compiled program finds in its context when called. Compiling makes no LM or embedding call; it checks
 * the settings, the trainset and the program. A trainset smaller than `k` is fine (all of it is used).
 *
 * @example
 * ```ts
 * import { Cache, Embedder, Example, Metrics, Predict } from "@dspex/core"
 * import { KNNFewShot } from "@dspex/optimizers"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const trainset = [
 *   Example.make({ question: "What is the capital of France?", answer: "Paris" }).withInputs("question"),
 *   Example.make({ question: "What is the capital of Italy?", answer: "Rome" }).withInputs("question")
 * ]
 * const EmbedderLive = Embedder.layer({ model: "openai/text-embedding-3-small" }).pipe(
 *   Layer.provide([OpenAiEmbeddings.layer(), Cache.layerConfig])
 * )
 * const answer = Effect.gen(function*() {
 *   const { program } = yield* KNNFewShot.make({ k: 3, maxBootstrappedDemos: 2 }).compile(
 *     Predict.make("question -> answer"),
 *     { trainset, metric: Metrics.answerExactMatch }
 *   )
 *   // Each call bootstraps on the trainset examples nearest to its question.
 *   const prediction = yield* program.call({ question: "What is the capital of Belgium?" })
 *   return prediction.get("answer")
 * }).pipe(Effect.provide(EmbedderLive))
 * ```
 */
export const make = (options: Partial<Config> & { readonly k: number }): KNNFewShot => {
  const config: Config = {
    k: options.k,
    maxCachedPrograms: options.maxCachedPrograms ?? 100,
    metricThreshold: options.metricThreshold,
    teacherSettings: options.teacherSettings,
    maxBootstrappedDemos: options.maxBootstrappedDemos ?? 4,
    maxLabeledDemos: options.maxLabeledDemos ?? 16,
    maxRounds: options.maxRounds ?? 1,
    maxErrors: options.maxErrors
  }
  return define(name, config, (_session, student, compile) =>
    Effect.gen(function*() {
      yield* check(config)
      // The checks (and the copies) of a BootstrapFewShot compile on the whole trainset; each call repeats
      // them on its neighbours, which then cannot fail.
      yield* Effect.mapError(BootstrapFewShot.prepare(student, compile, config), renamed)
      const base = Object.getPrototypeOf(student) as object
      const program = student.resetCopy()
      Object.setPrototypeOf(program, programPrototype(base))
      Object.defineProperty(program, StateKey, {
        value: new KnnState(config, compile, base),
        enumerable: false,
        writable: false,
        configurable: true
      })
      return program
    })) as KNNFewShot
}
