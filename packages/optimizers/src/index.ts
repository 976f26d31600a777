/**
 * @dspex/optimizers: compile DSPex programs, searching instructions and demos against a metric as DSPy's
 * optimizers do.
 */
export * as BootstrapFewShot from "./BootstrapFewShot.ts"
export * as Checkpoint from "./Checkpoint.ts"
export * as COPRO from "./COPRO.ts"
export * as Errors from "./Errors.ts"
export * as KNNFewShot from "./KNNFewShot.ts"
export * as LabeledFewShot from "./LabeledFewShot.ts"
export * as MIPROv2 from "./MIPROv2.ts"
export * as Optimizer from "./Optimizer.ts"
export * as Progress from "./Progress.ts"
export * as PyRandom from "./PyRandom.ts"
export * as RandomSearch from "./RandomSearch.ts"
export * as TrialLog from "./TrialLog.ts"
