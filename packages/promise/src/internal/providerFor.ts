/**
 * The provider layer for a configured model id: its prefix names the provider ("openai/...", "anthropic/...",
 * the OpenAI-compatible presets), and any other prefix is an OpenAI-compatible server at the given base URL.
 */
import { LM, LMError, Providers } from "@dspex/core"
import { Anthropic, OpenAi, OpenAiCompatible } from "@dspex/providers"
import { Effect, type Layer, Redacted } from "effect"

export interface ProviderSettings {
  readonly model: string
  readonly apiKey?: string | undefined
  readonly baseURL?: string | undefined
}

const presets = {
  ollama: OpenAiCompatible.ollama,
  vllm: OpenAiCompatible.vllm,
  llamacpp: OpenAiCompatible.llamacpp,
  gemini: OpenAiCompatible.gemini
} as const

/**
 * @example
 * providerFor({ model: "openai/gpt-4o-mini" }) // OpenAi.layer(), key from OPENAI_API_KEY
 * providerFor({ model: "ollama/llama3.2" }) // the Ollama preset at OLLAMA_BASE_URL or localhost:11434
 */
export const providerFor = (settings: ProviderSettings): Layer.Layer<Providers.Providers, unknown> => {
  const { provider } = LM.splitModel(settings.model)
  const options = {
    ...(settings.apiKey === undefined ? {} : { apiKey: Redacted.make(settings.apiKey) }),
    ...(settings.baseURL === undefined ? {} : { baseURL: settings.baseURL })
  }
  switch (provider) {
    case "openai":
      return OpenAi.layer(options)
    case "anthropic":
      return Anthropic.layer(options)
    case "ollama":
    case "vllm":
    case "llamacpp":
    case "gemini":
      return Providers.layer(presets[provider](options))
  }
  if (settings.baseURL !== undefined) {
    return OpenAiCompatible.layer({ ...options, name: provider, baseURL: settings.baseURL })
  }
  return Providers.layer(Effect.fail(
    new LMError.LMConfigurationError({
      model: settings.model,
      detail:
        `no provider "${provider}": use an "openai/", "anthropic/", "ollama/", "vllm/", "llamacpp/" or "gemini/" model, or give the baseURL of the OpenAI-compatible server that serves "${provider}"`
    })
  ))
}
