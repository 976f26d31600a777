/**
 * Predict: the leaf module that calls an LM through an adapter. It holds the learnable state that
 * optimizers edit and saved files carry: the signature (instructions, field prefixes and descriptions),
 * demos, and an optional LM of its own.
 */
import { Effect, type Fiber } from "effect"
import { type Adapter, CurrentAdapter, type Demo } from "./Adapter.ts"
import type { AdapterParseError, InputValidationError, StateLoadError } from "./Errors.ts"
import { adapterFor } from "./internal/moduleAdapter.ts"
import { validateInputs as validate } from "./internal/moduleInputs.ts"
import { CurrentRunScope, CurrentUsage } from "./internal/moduleRun.ts"
import { ParameterTypeId } from "./internal/moduleTree.ts"
import * as State from "./internal/stateCodec.ts"
import type { LanguageModel } from "./LanguageModel.ts"
import { CurrentLM, type LM } from "./LM.ts"
import { LMConfigurationError, type LMError } from "./LMError.ts"
import { type CallOptions, Module, type PredictConfig } from "./Module.ts"
import { fromCompletions, type Prediction } from "./Prediction.ts"
import type { LoadOptions } from "./ProgramState.ts"
import { ensure, type Signature } from "./Signature.ts"
import * as Trace from "./Trace.ts"

export type PredictError = InputValidationError | AdapterParseError | LMError

export interface PredictOptions {
  /** Replaces the signature's instructions. */
  readonly instructions?: string | undefined
  readonly demos?: ReadonlyArray<Demo> | undefined
  /** This predictor's own LM; otherwise the fiber's CurrentLM. */
  readonly lm?: LM | undefined
  /** Default LM request settings (n, temperature, rollout id, ...), overridable per call. */
  readonly config?: PredictConfig | undefined
}

/** DSPy keeps randomness when several completions are asked for at (near-)zero temperature. */
const effectiveConfig = (lm: LM, config: PredictConfig): PredictConfig => {
  const temperature = config.temperature ?? lm.temperature
  const kw = lm.kwargs ?? {}
  const n = config.n ?? lm.n ?? (typeof kw.n === "number" ? kw.n : undefined) ??
    (typeof kw.num_generations === "number" ? kw.num_generations : undefined) ?? 1
  return n > 1 && (temperature === undefined || temperature <= 0.15) ? { ...config, temperature: 0.7 } : config
}

/**
 * @example
 * ```ts
 * import { Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const qa = Predict.make("question -> answer", { instructions: "Be brief." })
 * const program = Effect.gen(function*() {
 *   const pred = yield* qa.call({ question: "What is 2+2?" })
 *   return pred.get("answer") // "4"
 * })
 * ```
 */
export class Predict extends Module {
  signature: Signature
  demos: Array<Demo>
  lm: LM | undefined
  config: PredictConfig
  /** Legacy DSPy state, kept so saved files round-trip. */
  traces: Array<unknown> = []
  /** Legacy DSPy state, kept so saved files round-trip. */
  train: Array<unknown> = []

  constructor(signature: Signature | string, options: PredictOptions = {}) {
    super()
    this.signature = ensure(signature, options.instructions)
    this.demos = (options.demos ?? []).map((d) => ({ ...d }))
    this.lm = options.lm
    this.config = { ...options.config }
  }

  get instructions(): string {
    return this.signature.instructions
  }

  /** A copy with other instructions. */
  withInstructions(instructions: string): Predict {
    const copy = this.deepCopy()
    copy.signature = copy.signature.withInstructions(instructions)
    return copy
  }

  /** A copy with other demos. */
  withDemos(demos: ReadonlyArray<Demo>): Predict {
    const copy = this.deepCopy()
    copy.demos = demos.map((d) => ({ ...d }))
    return copy
  }

  /** A copy with another signature (e.g. with edited fields); demos and LM are kept. */
  withSignature(signature: Signature): Predict {
    const copy = this.deepCopy()
    copy.signature = signature
    return copy
  }

  /** Merges default LM request settings (DSPy's `update_config`). */
  updateConfig(config: PredictConfig): this {
    this.config = { ...this.config, ...config }
    return this
  }

  /** Clears learned state: demos, LM and legacy traces (DSPy's `reset`). */
  reset(): void {
    this.lm = undefined
    this.traces = []
    this.train = []
    this.demos = []
  }

  /** This predictor's saved state in DSPy's layout (traces, train, demos, signature, lm). */
  override dumpState(): Record<string, unknown> {
    return State.encodePredictor(this)
  }

  /** Applies a predictor state (as in DSPy's predict.json); on error nothing changes. */
  override loadState(state: unknown, options: LoadOptions = {}): Effect.Effect<void, StateLoadError> {
    return State.loadModule(this, state, options)
  }

  /**
   * Validates inputs, resolves LM (call option, then this predictor's, then CurrentLM) and adapter
   * (CurrentAdapter, else ChatAdapter), calls the LM and records a trace step.
   */
  forward(
    inputs: Readonly<Record<string, unknown>>,
    options: CallOptions = {}
  ): Effect.Effect<Prediction, PredictError, LanguageModel> {
    return Effect.withFiber<Prediction, PredictError, LanguageModel>((fiber) => forwardIn(this, fiber, inputs, options))
  }

  override toString(): string {
    return `Predict(${this.signature.toString()})`
  }
}

/**
 * Checks inputs against a signature exactly as a Predict call does before it pays for a prompt: no missing
 * or unknown field, every value of its declared type (a `str` also takes numbers, booleans and lists of
 * strings, as DSPy renders them). `predictor` names the predictor in the error ("" for none).
 *
 * @example
 * ```ts
 * import { Predict, Signature } from "@dspex/core"
 *
 * const signature = Signature.make("context: list[str], question -> answer")
 * const check = Predict.validateInputs(signature, { context: 5, question: "Why?" })
 * // fails: InputValidationError 'Input field "context" has the wrong type: expected list[str], got number 5'
 * ```
 */
export const validateInputs = (
  signature: Signature,
  inputs: unknown,
  predictor: string = ""
): Effect.Effect<void, InputValidationError> => {
  const invalid = validate(signature, inputs, predictor)
  return invalid === undefined ? Effect.void : Effect.fail(invalid)
}

/**
 * Builds a predictor from a Signature or DSPy's string syntax (a bad string throws SignatureParseError).
 *
 * @example
 * ```ts
 * import { Predict } from "@dspex/core"
 *
 * const qa = Predict.make("question -> answer", { instructions: "Be brief." })
 * qa.signature.instructions // "Be brief."
 * ```
 */
export const make = (signature: Signature | string, options: PredictOptions = {}): Predict =>
  new Predict(signature, options)

// Everything fiber-local is read in one step (this runs once per LM call; see bench/predict-cpu.ts).
const forwardIn = (
  self: Predict,
  fiber: Fiber.Fiber<unknown, unknown>,
  inputs: Readonly<Record<string, unknown>>,
  options: CallOptions
): Effect.Effect<Prediction, PredictError, LanguageModel> => {
  const scope = fiber.getRef(CurrentRunScope)
  const path = scope?.predictorPath(self) ?? "self"
  const invalid = validate(self.signature, inputs, path)
  if (invalid !== undefined) return Effect.fail(invalid)

  const lm = options.lm ?? self.lm ?? fiber.getRef(CurrentLM)
  if (lm === undefined) {
    return Effect.fail(
      new LMConfigurationError({
        model: "(none)",
        detail:
          `predictor "${path}" has no LM: set one with Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini")), program.setLm(lm) or the lm option`
      })
    )
  }
  const config = effectiveConfig(lm, { ...self.config, ...options.config })
  const usageCollector = fiber.getRef(CurrentUsage)
  const trace = fiber.getRef(Trace.CurrentTrace)
  const run = (adapter: Adapter) =>
    Effect.map(
      adapter.call({ lm, signature: self.signature, demos: options.demos ?? self.demos, inputs, config }),
      (result) => {
        // Cache hits cost nothing and are left out of usage, as DSPy's usage tracker does.
        const usage = result.response.cacheHit ? {} : { [result.response.model]: result.response.usage }
        const prediction = fromCompletions(result.outputs, usage)
        if (usageCollector !== undefined) {
          usageCollector.add(usage)
          if (!result.response.cacheHit) usageCollector.addCall(result.response.cost ?? 0)
        }
        trace?.add({ path, predictor: self, inputs: { ...inputs }, outputs: prediction })
        return prediction
      }
    )
  const adapter = adapterFor(fiber.getRef(CurrentAdapter))
  return Effect.isEffect(adapter) ? Effect.flatMap(adapter, run) : run(adapter)
}

Object.defineProperty(Predict.prototype, ParameterTypeId, { value: true, enumerable: false })
