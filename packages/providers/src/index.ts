/**
 * @dspex/providers — DSPex providers over the official SDKs: OpenAI, Anthropic, any OpenAI-compatible
 * server (Ollama, vLLM, llama.cpp, Gemini), and any `effect/ai` LanguageModel.
 */
export * as Anthropic from "./Anthropic.ts"
export * as EffectAi from "./EffectAi.ts"
export * as OpenAi from "./OpenAi.ts"
export * as OpenAiCompatible from "./OpenAiCompatible.ts"
export * as OpenAiEmbeddings from "./OpenAiEmbeddings.ts"
