/**
 * @dspex/simulator: a local HTTP server that speaks the OpenAI Chat Completions, OpenAI Embeddings and
 * Anthropic Messages wire formats, answers DSPy-formatted prompts correctly and deterministically, and
 * injects faults on demand, so providers, adapters and retry logic can be tested end to end through the
 * official SDKs without network access or cost.
 *
 * - `Simulator`: start here (`const sim = await Simulator.start()`, then point a client at
 *   `sim.openaiBaseUrl`); its options, stats and hook types.
 * - `Tasks`, `FieldTypes`: the answer logic as pure functions, so tests compute expected outputs exactly as
 *   the server does.
 * - `Embeddings`: the vectors `POST /v1/embeddings` sends (a normalized bag of hashed words), as pure
 *   functions.
 * - `Facts`: ground-truth data the simulator answers perfectly (for evaluation and optimizer tests).
 * - `TextTools`: the individual skills (e.g. the sentiment of a custom text), and the token estimate.
 * - `PromptReader`: reading and writing DSPy prompt formats, as the simulator sees them.
 * - `Optimizable`: the optimizable mode's task families (a rule the instruction must state, codes only demos
 *   teach), their dataset generators and the mode's triggers.
 * - `Faults`: the fault kinds, parsing a fault name, splitting a `model:fault=kind` name, the seeded PRNG.
 */
export * as Embeddings from "./Embeddings.ts"
export * as Facts from "./Facts.ts"
export * as Faults from "./Faults.ts"
export * as FieldTypes from "./FieldTypes.ts"
export * as Optimizable from "./Optimizable.ts"
export * as PromptReader from "./PromptReader.ts"
export * as Simulator from "./Simulator.ts"
export * as Tasks from "./Tasks.ts"
export * as TextTools from "./TextTools.ts"
