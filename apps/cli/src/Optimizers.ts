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
  /**
   * Where the optimizer scores its candidates: on the valset when one is given (else on the trainset or a
   * part of it), always on the trainset, or not at all (the CLI then scores the result itself).
   */
  readonly scores: "valset" | "trainset" | "none"
  /** Hyperparameters DSPy has no default for, which `--config` must give. */
  readonly required?: ReadonlyArray<string>
  /** Needs an `Embedder` (`--embedder`) to compile and to run the compiled program. */
  readonly embeds?: boolean
}

/** The CLI names, in the order the help lists them. */
export const optimizerNames = ["labeled", "bootstrap", "random-search", "knn", "copro", "mipro"] as const

export type OptimizerName = typeof optimizerNames[number]

export const optimizers: Readonly<Record<OptimizerName, Entry>> = {
  labeled: {
    dspy: "LabeledFewShot",
    about: "k labeled trainset examples as demos (no LM calls)",
    load: () => import("@dspex/optimizers/LabeledFewShot").then((m) => m.make as Make),
    scores: "none"
  },
  bootstrap: {
    dspy: "BootstrapFewShot",
    about: "demos from the program's own runs on the trainset that pass the metric",
    load: () => import("@dspex/optimizers/BootstrapFewShot").then((m) => m.make as Make),
    scores: "none"
  },
  "random-search": {
    dspy: "BootstrapFewShotWithRandomSearch",
    about: "bootstrapped demo sets from shuffled trainsets, the best on the valset kept",
    load: () => import("@dspex/optimizers/RandomSearch").then((m) => m.make as Make),
    scores: "valset"
  },
  knn: {
    dspy: "KNNFewShot",
    about: "demos chosen per call: BootstrapFewShot on the k trainset examples nearest the inputs",
    load: () => import("@dspex/optimizers/KNNFewShot").then((m) => m.make as unknown as Make),
    scores: "none",
    required: ["k"],
    embeds: true
  },
  copro: {
    dspy: "COPRO",
    about: "instructions proposed by the LM and refined over rounds, scored on the trainset",
    load: () => import("@dspex/optimizers/COPRO").then((m) => m.make as Make),
    scores: "trainset"
  },
  mipro: {
    dspy: "MIPROv2",
    about: "instructions and demo sets proposed, then combined by a Bayesian (TPE) search; auto light by default",
    load: () => import("@dspex/optimizers/MIPROv2").then((m) => m.make as Make),
    scores: "valset"
  }
}
