/**
 * @dspex/simulator: a local HTTP server that speaks the OpenAI Chat Completions and Anthropic Messages
 * wire formats, answers DSPy-formatted prompts correctly and deterministically, and injects faults on
 * demand, so providers, adapters and retry logic can be tested end to end through the official SDKs
 * without network access or cost.
 */

/** Start here: `const sim = await startSimulator()` then point a client at `sim.openaiBaseUrl`. */
export { startSimulator, SIMULATED_MODELS, type Simulator } from "./Server.ts"

/** Options, stats and hook types (importable without starting a server). */
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultRates,
  type LatencyOptions,
  type SimRequest,
  type SimulatorOptions,
  type SimulatorStats
} from "./Types.ts"

/** The answer logic as pure functions, so tests compute expected outputs exactly as the server does. */
export { solveTask, analyze, planToolCall, UNKNOWN_ANSWER, type Analysis, type SolveOptions, type ToolSpec } from "./Tasks.ts"
export { type OutputFieldSpec, type TypeSpec, parseTypeName, typeFromSchema, fieldType } from "./FieldTypes.ts"

/** Ground-truth data the simulator answers perfectly (for evaluation and optimizer tests). */
export { facts, datasets, type Fact, type QaExample, type SentimentExample } from "./Facts.ts"

/** The individual skills, for tests that need one piece (e.g. the sentiment of a custom text). */
export {
  solveArithmetic,
  classifySentiment,
  lookupFact,
  answerFact,
  keywords,
  formatNumber,
  type ArithmeticResult,
  type SentimentResult,
  type Sentiment
} from "./TextTools.ts"

/** Reading and writing DSPy prompt formats, for tests of adapters against the simulator's view. */
export { readPrompt, renderOutputs, valueText, type ParsedPrompt, type PromptFormat, type SimMessage } from "./PromptReader.ts"

/** Fault selection helpers (parse a fault name, split a `model:fault=kind` name, seeded PRNG). */
export { parseFaultKind, splitModel, createPrng, UnknownFaultError } from "./Faults.ts"
export { estimateTokens } from "./Responder.ts"
