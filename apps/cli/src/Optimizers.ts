/**
 * The optimizers `dspex optimize --optimizer` knows, by CLI name. Each is loaded on first use (a dynamic
 * import of its module in @dspex/optimizers), so the other commands never load the optimizers package.
 */
import type { Optimizer } from "@dspex/optimizers/Optimizer"

/** Builds the optimizer from `--config`'s hyperparameters (DSPy's defaults for those not given). */
export type Make = (config: Record<string, unknown>) => Optimizer<unknown>

export interface Entry {
  /** DSPy's class name. */
  readonly dspy: string
  readonly about: string
  readonly load: () => Promise<Make>
}

export const optimizers = {
  labeled: {
    dspy: "LabeledFewShot",
    about: "k labeled trainset examples as demos (no LM calls)",
    load: () => import("@dspex/optimizers/LabeledFewShot").then((m) => m.make as Make)
  },
  bootstrap: {
    dspy: "BootstrapFewShot",
    about: "demos from the program's own runs on the trainset that pass the metric",
    load: () => import("@dspex/optimizers/BootstrapFewShot").then((m) => m.make as Make)
  },
  "random-search": {
    dspy: "BootstrapFewShotWithRandomSearch",
    about: "bootstrapped demo sets from shuffled trainsets, the best on the valset kept",
    load: () => import("@dspex/optimizers/RandomSearch").then((m) => m.make as Make)
  }
} as const satisfies Record<string, Entry>

export type OptimizerName = keyof typeof optimizers

/** The CLI names, in the order the help lists them. */
export const optimizerNames = Object.keys(optimizers) as ReadonlyArray<OptimizerName>
