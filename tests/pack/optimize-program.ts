/**
 * A TypeScript program file for `npx dspex optimize --program` in .ci/pack-proof: the packed CLI imports it
 * on Node 22, which strips its types itself, and it reaches @dspex/core from the project's node_modules,
 * the CLI's own copy. The secret codes are case-sensitive, hence a metric of its own.
 */
import { type Example, Module, Predict, type Prediction } from "@dspex/core"

export default class SecretCodes extends Module.Module {
  answer = Predict.make("question -> answer")
  forward(inputs: { question: string }) {
    return this.answer.call(inputs)
  }
}

export const metric = (example: Example.Example, prediction: Prediction.Prediction): boolean =>
  String(prediction.get("answer") ?? "").trim() === example.get("answer")
