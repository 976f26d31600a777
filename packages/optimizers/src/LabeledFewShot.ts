/**
 * DSPy's LabeledFewShot: every predictor gets up to `k` labeled trainset examples as demos, drawn with
 * Python's `random.Random(seed).sample` (seed 0, as DSPy) or the first `k` with `sample: false`. No LM calls.
 */
import type { Example, Module } from "@dspex/core"
import { Effect } from "effect"
import { InvalidOption } from "./Errors.ts"
import { define } from "./internal/define.ts"
import { labeled } from "./internal/demos.ts"
import type { Optimizer } from "./Optimizer.ts"
import { PyRandom } from "./PyRandom.ts"

export interface Config {
  /** Demos per predictor (DSPy default 16). */
  readonly k: number
  /** Draw them at random (true, DSPy's default) or take the first k. */
  readonly sample: boolean
}

/**
 * The student's reset copy with labeled demos; the same draw as DSPy's for the same seed (default 0).
 * Exposed for the optimizers that start from it (BootstrapFewShot's teacher, random search's candidate).
 */
export const apply = <P extends Module.Module>(
  student: P,
  trainset: ReadonlyArray<Example.Example>,
  config: Config,
  seed = 0
): P => {
  const program = student.resetCopy()
  if (trainset.length === 0) return program
  const rng = new PyRandom(seed)
  const k = Math.min(config.k, trainset.length)
  for (const predictor of program.predictors()) {
    const chosen = config.sample ? rng.sample(trainset, k) : trainset.slice(0, k)
    predictor.demos = chosen.map(labeled)
  }
  return program
}

/**
 * @example
 * ```ts
 * import { Example, Metrics, Predict } from "@dspex/core"
 * import { LabeledFewShot } from "@dspex/optimizers"
 *
 * const trainset = [Example.make({ question: "2+2?", answer: "4" }).withInputs("question")]
 * const compiled = LabeledFewShot.make({ k: 4 }).compile(Predict.make("question -> answer"), {
 *   trainset,
 *   metric: Metrics.answerExactMatch
 * })
 * ```
 */
export const make = (options: Partial<Config> = {}): Optimizer<Config> => {
  const config: Config = { k: options.k ?? 16, sample: options.sample ?? true }
  return define("LabeledFewShot", config, (_session, student, compile) =>
    Number.isInteger(config.k) && config.k >= 0
      ? Effect.succeed(apply(student, compile.trainset, config, compile.seed ?? 0))
      : Effect.fail(
        new InvalidOption({
          optimizer: "LabeledFewShot",
          option: "k",
          value: String(config.k),
          expected: "an integer ≥ 0"
        })
      ))
}
