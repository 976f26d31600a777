/**
 * ChainOfThought: a Predict whose signature gets a `reasoning` output before the others, so the model
 * thinks before it answers. The inner predictor is the attribute `predict`, which is why DSPy's saved
 * files name it `<attribute>.predict`.
 */
import type { Effect } from "effect"
import type { LanguageModel } from "./LanguageModel.ts"
import { type CallOptions, Module } from "./Module.ts"
import { Predict, type PredictError, type PredictOptions } from "./Predict.ts"
import type { Prediction } from "./Prediction.ts"
import { ensure, type FieldInit, type Signature } from "./Signature.ts"

export interface ChainOfThoughtOptions extends PredictOptions {
  /** The reasoning field (its type, desc, prefix); defaults to a `str` with desc `${reasoning}`. */
  readonly rationaleField?: FieldInit | undefined
}

/** The signature ChainOfThought predicts: `reasoning` (desc `${reasoning}`, prefix `Reasoning:`) first. */
export const extendSignature = (signature: Signature, rationaleField?: FieldInit): Signature =>
  signature.prepend("reasoning", "output", rationaleField ?? { desc: "${reasoning}", prefix: "Reasoning:" })

/**
 * @example
 * ```ts
 * import { ChainOfThought } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const cot = ChainOfThought.make("question -> answer")
 * const program = Effect.gen(function*() {
 *   const pred = yield* cot.call({ question: "What is 7*6?" })
 *   return [pred.get("reasoning"), pred.get("answer")] // the model's reasoning, then its answer ("42")
 * })
 * ```
 */
export class ChainOfThought extends Module {
  predict: Predict

  constructor(signature: Signature | string, options: ChainOfThoughtOptions = {}) {
    super()
    const { rationaleField, ...predictOptions } = options
    this.predict = new Predict(extendSignature(ensure(signature, options.instructions), rationaleField), {
      ...predictOptions,
      instructions: undefined
    })
  }

  forward(
    inputs: Readonly<Record<string, unknown>>,
    options?: CallOptions
  ): Effect.Effect<Prediction, PredictError, LanguageModel> {
    return this.predict.call(inputs, options)
  }
}

/**
 * A ChainOfThought over a Signature or DSPy's string syntax (a bad string throws SignatureParseError).
 *
 * @example
 * ```ts
 * import { ChainOfThought } from "@dspex/core"
 *
 * const cot = ChainOfThought.make("question -> answer: float") // predicts `reasoning`, then `answer` (a number)
 * ```
 */
export const make = (signature: Signature | string, options: ChainOfThoughtOptions = {}): ChainOfThought =>
  new ChainOfThought(signature, options)
