/**
 * @dspex/core — the spec of DSPex: signatures, examples and predictions, modules, adapters, the
 * LanguageModel service, the cache, the executor and Evaluate.
 */
export * as FieldType from "./FieldType.ts"
export { Signature, type Field, type FieldInit, type FieldIO, defaultInstructions, inferPrefix } from "./Signature.ts"
export * from "./Errors.ts"
export * from "./LMError.ts"
export * as LM from "./LM.ts"
export { CurrentLM } from "./LM.ts"
export * from "./Message.ts"
export * from "./Adapter.ts"
export * from "./Example.ts"
export * as Callbacks from "./Callbacks.ts"
export {
  LanguageModel,
  zeroUsage,
  type LanguageModelOptions,
  type ProviderOptions,
  type LanguageModelService,
  type LMRequest,
  type LMResponse,
  type LMOutput,
  type LMUsage,
  type Provider,
  type ProviderRequest,
  type ModelCapabilities,
  type HistoryEntry,
  type ResponseFormat,
  type ToolDefinition
} from "./LanguageModel.ts"
export { Providers, type ProvidersShape } from "./Providers.ts"
export { Cache, type CacheShape } from "./Cache.ts"
export { cacheKey } from "./internal/cacheKey.ts"
export { Module, isModule, type CallOptions, type PredictConfig, type InputsOf, type OutputOf } from "./Module.ts"
export { Predict, type PredictError, type PredictOptions } from "./Predict.ts"
export { ChainOfThought, type ChainOfThoughtOptions } from "./ChainOfThought.ts"
export { ChatAdapter, type ChatAdapterOptions } from "./ChatAdapter.ts"
export { JSONAdapter, type JSONAdapterOptions } from "./JSONAdapter.ts"
export { XMLAdapter, type XMLAdapterOptions } from "./XMLAdapter.ts"
export * as Trace from "./Trace.ts"
export * as Tracing from "./Tracing.ts"
export * as ProgramState from "./ProgramState.ts"
export { ProgramFileError } from "./ProgramState.ts"
export * as Executor from "./Executor.ts"
export * as Services from "./Services.ts"
export * as Evaluate from "./Evaluate.ts"
export * as Metrics from "./Metrics.ts"
