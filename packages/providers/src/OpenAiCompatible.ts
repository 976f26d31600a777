/**
 * Any server speaking OpenAI's chat-completions API (Ollama, vLLM, llama.cpp, Gemini's OpenAI endpoint)
 * through the `openai` SDK pointed at its base URL. Presets read their base URL and key from config
 * (`OLLAMA_BASE_URL`, `VLLM_BASE_URL`, `LLAMACPP_BASE_URL`, `GEMINI_API_KEY`, …).
 */
import { type LanguageModel, type LMError, Providers } from "@dspex/core"
import { Effect, type Layer, Redacted } from "effect"
import OpenAI from "openai"
import { linkedFetch } from "./internal/abortLink.ts"
import { baseUrl, optionalKey, type Reader, requiredKey } from "./internal/env.ts"
import { makeChatProvider } from "./internal/openaiChat.ts"
import { contextWindowOf, costOf } from "./internal/prices.ts"

export interface Options {
  /** The provider prefix of model ids, e.g. "ollama" for "ollama/llama3.2". */
  readonly name: string
  readonly baseURL: string
  /** Local servers usually need none. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** What the server's models can do; unknown servers get plain prompting (no structured outputs, JSON mode or tools). */
  readonly capabilities?: Partial<LanguageModel.ModelCapabilities> | undefined
  /** The `@pydantic/genai-prices` provider id for costs (e.g. "google"); without it cost is unknown. */
  readonly pricing?: string | undefined
}

const conservative: LanguageModel.ModelCapabilities = { structuredOutputs: false, jsonObject: false, tools: false }

/**
 * A provider over an OpenAI-compatible server; a `baseURL` that is not an http(s) URL fails with
 * `LMError.LMConfigurationError`.
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 *
 * // models "ollama/llama3.2", ... (no key: local servers usually need none)
 * const local = OpenAiCompatible.provider({ name: "ollama", baseURL: "http://localhost:11434/v1" })
 * const ProvidersLive = Providers.layer(local)
 * ```
 */
export const provider = (options: Options): Effect.Effect<LanguageModel.Provider, LMError.LMConfigurationError> =>
  Effect.map(
    baseUrl(options.baseURL, undefined, undefined, { provider: options.name, call: "OpenAiCompatible.provider" }),
    () => {
      const key = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)
      const client = new OpenAI({
        // The SDK insists on a key; servers without auth ignore this placeholder.
        apiKey: key ?? "no-key",
        baseURL: options.baseURL,
        organization: null,
        project: null,
        maxRetries: 0,
        fetch: linkedFetch,
        ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } })
      })
      const pricing = options.pricing
      const capabilities = { ...conservative, ...options.capabilities }
      return makeChatProvider({
        name: options.name,
        client,
        baseURL: options.baseURL,
        secrets: key === undefined ? [] : [key],
        reasoningRules: false,
        capabilities: (model) =>
          pricing === undefined || capabilities.contextWindow !== undefined
            ? capabilities
            : { ...capabilities, contextWindow: contextWindowOf(pricing, model) },
        cost: pricing === undefined
          ? undefined
          : (model: string, usage: LanguageModel.LMUsage) => costOf(pricing, model, usage)
      })
    }
  )

/**
 * A `Providers` layer with one OpenAI-compatible server as its only provider.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * const LmLive = LanguageModel.layer().pipe(
 *   Layer.provide([OpenAiCompatible.layer({ name: "ollama", baseURL: "http://localhost:11434/v1" }), Cache.layerConfig])
 * )
 * ```
 */
export const layer = (options: Options): Layer.Layer<Providers.Providers, LMError.LMConfigurationError> =>
  Providers.layer(provider(options))

export interface PresetOptions {
  readonly baseURL?: string | undefined
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly capabilities?: Partial<LanguageModel.ModelCapabilities> | undefined
  /** Overrides the preset's provider prefix. */
  readonly name?: string | undefined
}

interface Preset {
  readonly name: string
  readonly baseURLConfig: string
  readonly defaultBaseURL: string
  readonly keyConfig: string
  readonly keyRequired: boolean
  readonly capabilities: Partial<LanguageModel.ModelCapabilities>
  readonly pricing?: string | undefined
}

const fromPreset = (
  preset: Preset
): (options?: PresetOptions) => Effect.Effect<LanguageModel.Provider, LMError.LMConfigurationError> =>
  Effect.fn(`OpenAiCompatible.${preset.name}`)(function*(options: PresetOptions = {}) {
    const reader: Reader = { provider: options.name ?? preset.name, call: `OpenAiCompatible.${preset.name}` }
    const baseURL = yield* baseUrl(options.baseURL, preset.baseURLConfig, preset.defaultBaseURL, reader)
    const apiKey = preset.keyRequired
      ? yield* requiredKey(options.apiKey, preset.keyConfig, reader)
      : options.apiKey ?? (yield* optionalKey(preset.keyConfig, reader))
    return yield* provider({
      name: options.name ?? preset.name,
      baseURL,
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      capabilities: { ...preset.capabilities, ...options.capabilities },
      ...(preset.pricing === undefined ? {} : { pricing: preset.pricing })
    })
  })

/**
 * Ollama (`OLLAMA_BASE_URL`, default http://localhost:11434/v1; optional `OLLAMA_API_KEY`).
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 *
 * const ProvidersLive = Providers.layer(OpenAiCompatible.ollama()) // models "ollama/llama3.2", ...
 * ```
 */
export const ollama = fromPreset({
  name: "ollama",
  baseURLConfig: "OLLAMA_BASE_URL",
  defaultBaseURL: "http://localhost:11434/v1",
  keyConfig: "OLLAMA_API_KEY",
  keyRequired: false,
  capabilities: { structuredOutputs: true, jsonObject: true, tools: true }
})

/**
 * vLLM's OpenAI server (`VLLM_BASE_URL`, default http://localhost:8000/v1; optional `VLLM_API_KEY`).
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 *
 * const ProvidersLive = Providers.layer(OpenAiCompatible.vllm({ baseURL: "http://gpu-box:8000/v1" })) // models "vllm/<model>"
 * ```
 */
export const vllm = fromPreset({
  name: "vllm",
  baseURLConfig: "VLLM_BASE_URL",
  defaultBaseURL: "http://localhost:8000/v1",
  keyConfig: "VLLM_API_KEY",
  keyRequired: false,
  capabilities: { structuredOutputs: true, jsonObject: true, tools: true }
})

/**
 * llama.cpp's `llama-server` (`LLAMACPP_BASE_URL`, default http://localhost:8080/v1; optional `LLAMACPP_API_KEY`).
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 *
 * const ProvidersLive = Providers.layer(OpenAiCompatible.llamacpp()) // models "llamacpp/<model>"
 * ```
 */
export const llamacpp = fromPreset({
  name: "llamacpp",
  baseURLConfig: "LLAMACPP_BASE_URL",
  defaultBaseURL: "http://localhost:8080/v1",
  keyConfig: "LLAMACPP_API_KEY",
  keyRequired: false,
  capabilities: { structuredOutputs: true, jsonObject: true, tools: false }
})

/**
 * Gemini through Google's OpenAI-compatible endpoint (`GEMINI_API_KEY` required; `GEMINI_BASE_URL` optional).
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAiCompatible } from "@dspex/providers"
 *
 * // fails with LMConfigurationError when GEMINI_API_KEY is not set
 * const ProvidersLive = Providers.layer(OpenAiCompatible.gemini()) // models "gemini/gemini-2.5-flash", ...
 * ```
 */
export const gemini = fromPreset({
  name: "gemini",
  baseURLConfig: "GEMINI_BASE_URL",
  defaultBaseURL: "https://generativelanguage.googleapis.com/v1beta/openai/",
  keyConfig: "GEMINI_API_KEY",
  keyRequired: true,
  capabilities: { structuredOutputs: true, jsonObject: true, tools: true },
  pricing: "google"
})
