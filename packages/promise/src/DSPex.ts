/**
 * DSPex for code that does not use Effect. Configure the LM once; `program(module)` gives a handle whose `call`
 * returns a Promise, and `evaluate` runs an evaluation. Everything runs on one shared `ManagedRuntime` built
 * from DSPex's own layers — the LanguageModel service with its provider and cache, and the local Executor —
 * so calls behave exactly as they do from Effect (retries, rate limits, timeouts, cache, traces).
 *
 * A failure rejects with DSPex's own error: an `Error` subclass with `_tag`, `retryable` and `suggestion`
 * (`LMError.LMAuthError`, `Errors.InputValidationError`, ...), so `catch (e) { if (e._tag === "LMRateLimited") ... }`
 * and `e instanceof LMError.LMRateLimited` both work.
 *
 * @example
 * ```ts
 * import { ChainOfThought, DSPex } from "@dspex/promise"
 *
 * DSPex.configure({ model: "openai/gpt-4o-mini", temperature: 0 }) // key from OPENAI_API_KEY
 * const qa = DSPex.program(ChainOfThought.make("question -> answer: float"))
 * const prediction = await qa.call({ question: "What is 2 + 2?" })
 * prediction.get("answer") // 4
 * ```
 */
import {
  Cache,
  Evaluate,
  type Example,
  Executor,
  LanguageModel,
  LM,
  Module,
  type Prediction,
  ProgramState
} from "@dspex/core"
import { Cause, Effect, Exit, Layer, ManagedRuntime, Schema } from "effect"
import { providerFor } from "./internal/providerFor.ts"

export interface Config {
  /** "provider/model": "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "ollama/llama3.2", ... */
  readonly model: string
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  /** The provider's key; default from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...). */
  readonly apiKey?: string | undefined
  /** Another endpoint: an OpenAI-compatible server (vLLM, Ollama, the simulated provider) or a proxy. */
  readonly baseURL?: string | undefined
  /**
   * "config" (default): DSPy's memory + disk cache, set by DSPEX_CACHE / DSPEX_CACHE_DIR; "memory": memory
   * only; "off": none; `{ path }`: memory in front of a disk cache in that directory.
   */
  readonly cache?: "config" | "memory" | "off" | { readonly path: string } | undefined
  /** How many examples `evaluate` runs at once by default (default DSPEX_NUM_THREADS, else 8). */
  readonly numThreads?: number | undefined
}

/** A DSPex call before `configure`. */
export class NotConfigured extends Schema.TaggedError<NotConfigured>()("NotConfigured", {
  operation: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `DSPex is not configured: ${this.operation} needs an LM`
  }
  get suggestion() {
    return "Call DSPex.configure({ model: \"openai/gpt-4o-mini\" }) once before using programs."
  }
}

/** A failure that is not one of DSPex's typed errors (a defect: a bug, or a throw inside a metric). */
export class UnexpectedError extends Schema.TaggedError<UnexpectedError>()("UnexpectedError", {
  detail: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `unexpected failure: ${this.detail}`
  }
  get suggestion() {
    return "This is a bug or a throw in your own code (a metric, a module's forward); the detail says where."
  }
}

type Services = LanguageModel.LanguageModel | Executor.Executor

interface Configured {
  readonly runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
  readonly lm: LM.LM
}

let current: Configured | undefined

const cacheLayer = (cache: Config["cache"]): Layer.Layer<Cache.Cache, unknown> => {
  if (cache === undefined || cache === "config") return Cache.layerConfig
  if (cache === "memory") return Cache.layerMemory()
  if (cache === "off") return Cache.layerNone
  return Cache.layerTiered({}, { path: cache.path })
}

const servicesFor = (config: Config): Layer.Layer<Services, unknown> =>
  Layer.mergeAll(
    LanguageModel.layer().pipe(Layer.provide([providerFor(config), cacheLayer(config.cache)])),
    Executor.layerLocal(config.numThreads === undefined ? undefined : { concurrency: config.numThreads })
  )

/**
 * Sets the LM every program uses (DSPy's `dspy.configure(lm=...)`). Calling it again replaces the LM and its
 * services; calls already running finish on the old ones, which are then released.
 *
 * @example
 * ```ts
 * import { DSPex } from "@dspex/promise"
 *
 * DSPex.configure({ model: "anthropic/claude-haiku-4-5", apiKey: process.env.MY_KEY, cache: "memory" })
 * ```
 */
export const configure = (config: Config): void => {
  const previous = current
  current = {
    runtime: ManagedRuntime.make(servicesFor(config)),
    lm: LM.make(config.model, {
      ...(config.temperature === undefined ? {} : { temperature: config.temperature }),
      ...(config.maxTokens === undefined ? {} : { maxTokens: config.maxTokens })
    })
  }
  if (previous !== undefined) void previous.runtime.dispose()
}

/**
 * Releases the configured services (the disk cache's database, pooled connections). Optional at exit;
 * `configure` works again afterwards.
 *
 * @example
 * ```ts
 * import { DSPex, Predict } from "@dspex/promise"
 *
 * DSPex.configure({ model: "openai/gpt-4o-mini" })
 * await DSPex.program(Predict.make("question -> answer")).call({ question: "What is 2 + 2?" })
 * await DSPex.dispose() // releases the disk cache's database and pooled connections
 * ```
 */
export const dispose = async (): Promise<void> => {
  const previous = current
  current = undefined
  if (previous !== undefined) await previous.runtime.dispose()
}

/** The error a failed run rejects with: DSPex's own typed error as it is, anything else wrapped. */
const rejection = (cause: Cause.Cause<unknown>): Error => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error
  return new UnexpectedError({ detail: typeof error === "string" ? error : JSON.stringify(error) ?? String(error) })
}

/** Runs an effect on the configured runtime with the configured LM. */
const run = <A>(operation: string, effect: Effect.Effect<A, unknown, Services>): Promise<A> => {
  const configured = current
  if (configured === undefined) return Promise.reject(new NotConfigured({ operation }))
  return configured.runtime.runPromiseExit(Effect.provideService(effect, LM.CurrentLM, configured.lm)).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : Promise.reject(rejection(exit.cause))
  )
}

/** A module with Promise methods. The module itself stays available (`program.module`) for Effect code. */
export interface Program<M extends Module.Module> {
  readonly module: M
  /** Runs the module once. */
  readonly call: (inputs: Module.InputsOf<M>, options?: Module.CallOptions) => Promise<Module.OutputOf<M>>
  /** Saves its learnable state in DSPy's JSON layout. */
  readonly save: (path: string) => Promise<void>
  /** Loads a state saved by DSPex or DSPy; a file that does not fit leaves the program untouched. */
  readonly load: (path: string) => Promise<void>
}

/**
 * Wraps a module (a `Predict`, a `ChainOfThought`, or a class of your own whose `forward` only needs DSPex's
 * services) for Promise code.
 *
 * @example
 * ```ts
 * import { DSPex, Predict } from "@dspex/promise"
 *
 * DSPex.configure({ model: "openai/gpt-4o-mini" })
 * const classify = DSPex.program(Predict.make("text -> sentiment: Literal['positive', 'negative']"))
 * const { sentiment } = (await classify.call({ text: "I loved it" })).toJSON() // "positive"
 * ```
 */
export const program = <M extends Module.Module>(module: M): Program<M> => ({
  module,
  call: (inputs, options) =>
    run("program.call", module.call(inputs, options) as Effect.Effect<Module.OutputOf<M>, unknown, Services>),
  save: (path) => run("program.save", ProgramState.save(module, path)),
  load: (path) => run("program.load", ProgramState.load(module, path))
})

/** A metric for `evaluate`: a score (true counts 1), or a Promise of one. */
export type Metric = (
  example: Example.Example,
  prediction: Prediction.Prediction
) => number | boolean | Promise<number | boolean>

export interface EvaluateOptions<M extends Module.Module> {
  readonly program: Program<M> | M
  readonly devset: ReadonlyArray<Example.Example>
  readonly metric: Metric
  /** Examples at once; default the configured `numThreads`. */
  readonly numThreads?: number | undefined
  /** Failed examples after which the run stops (default 10). */
  readonly maxErrors?: number | undefined
  /** The score of a failed example (default 0). */
  readonly failureScore?: number | undefined
}

const isPromise = (u: unknown): u is Promise<number | boolean> =>
  typeof (u as { then?: unknown } | null)?.then === "function"

/**
 * Evaluates a program on a devset, as `Evaluate.run` does (DSPy's percentage score, a result per example).
 *
 * @example
 * ```ts
 * import { ChainOfThought, DSPex, Example } from "@dspex/promise"
 *
 * DSPex.configure({ model: "openai/gpt-4o-mini" })
 * const qa = DSPex.program(ChainOfThought.make("question -> answer: float"))
 * const devset = [Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question")]
 * const { score, results } = await DSPex.evaluate({ program: qa, devset, metric: (ex, pred) => pred.get("answer") === ex.get("answer") })
 * // score: the percentage of examples the metric accepted (100 when all do); results: one per example
 * ```
 */
export const evaluate = <M extends Module.Module>(options: EvaluateOptions<M>): Promise<Evaluate.EvaluationResult> => {
  const module = Module.isModule(options.program) ? options.program : options.program.module
  return run(
    "evaluate",
    Evaluate.run({
      program: module,
      devset: options.devset,
      metric: (example, prediction) => {
        const value = options.metric(example, prediction)
        return isPromise(value)
          // A rejection fails the example the way a synchronous throw in a metric does, with the metric's own error.
          ? Effect.promise(() => value)
          : value
      },
      ...(options.numThreads === undefined ? {} : { numThreads: options.numThreads }),
      ...(options.maxErrors === undefined ? {} : { maxErrors: options.maxErrors }),
      ...(options.failureScore === undefined ? {} : { failureScore: options.failureScore })
    }) as Effect.Effect<Evaluate.EvaluationResult, unknown, Services>
  )
}
