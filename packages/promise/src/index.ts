/**
 * @dspex/promise — DSPex for code that does not use Effect: `DSPex.configure` an LM once, then `await`
 * program calls and evaluations. The namespaces a program is written with come along from @dspex/core, so
 * this one package is all such code imports.
 */
export * as ChainOfThought from "@dspex/core/ChainOfThought"
export * as Errors from "@dspex/core/Errors"
export * as Example from "@dspex/core/Example"
export * as LMError from "@dspex/core/LMError"
export * as Metrics from "@dspex/core/Metrics"
export * as Module from "@dspex/core/Module"
export * as Predict from "@dspex/core/Predict"
export * as Prediction from "@dspex/core/Prediction"
export * as Signature from "@dspex/core/Signature"
export * as DSPex from "./DSPex.ts"
