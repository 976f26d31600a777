/**
 * OpenAI through the official `openai` SDK (chat completions). The key comes from `OPENAI_API_KEY`
 * (a `Redacted` config) unless passed in; `OPENAI_BASE_URL` overrides the endpoint. Reasoning models
 * (o1/o3/o4/gpt-5) get `max_completion_tokens` and temperature 1.0, as DSPy sends them.
 */
import { type LanguageModel, type LMError, Providers } from "@dspex/core"
import { Effect, type Layer, Redacted } from "effect"
import OpenAI from "openai"
import { linkedFetch } from "./internal/abortLink.ts"
import { baseUrl, optionalString, type Reader, requiredKey } from "./internal/env.ts"
import { makeChatProvider } from "./internal/openaiChat.ts"
import { contextWindowOf, costOf } from "./internal/prices.ts"

export const defaultBaseURL = "https://api.openai.com/v1"

export interface Options {
  /** Default: the `OPENAI_API_KEY` config. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default: the `OPENAI_BASE_URL` config, else https://api.openai.com/v1. */
  readonly baseURL?: string | undefined
  /** Default: the `OPENAI_ORG_ID` config. */
  readonly organization?: string | undefined
  /** Default: the `OPENAI_PROJECT_ID` config. */
  readonly project?: string | undefined
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** The provider prefix of model ids ("openai" by default, as in "openai/gpt-4o-mini"). */
  readonly name?: string | undefined
  /** Overrides of what the models can do (all OpenAI models get structured outputs, JSON mode and tools). */
  readonly capabilities?: Partial<LanguageModel.ModelCapabilities> | undefined
}

/**
 * The OpenAI provider, reading its key and base URL from config when not given. A missing key or a base
 * URL that is not an http(s) URL fails with `LMError.LMConfigurationError` naming the variable.
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Redacted } from "effect"
 *
 * const openai = OpenAi.provider() // the key from OPENAI_API_KEY: models "openai/gpt-4o-mini", ...
 * // another endpoint under its own name: models "local/<model>"
 * const local = OpenAi.provider({ name: "local", apiKey: Redacted.make("sk-..."), baseURL: "http://localhost:8080/v1" })
 * const ProvidersLive = Providers.layer(openai, local) // building it fails with LMConfigurationError if a key is missing
 * ```
 */
export const provider: (options?: Options) => Effect.Effect<LanguageModel.Provider, LMError.LMConfigurationError> =
  Effect.fn(
    "OpenAi.provider"
  )(function*(options: Options = {}) {
    const reader: Reader = { provider: options.name ?? "openai", call: "OpenAi.layer" }
    const apiKey = yield* requiredKey(options.apiKey, "OPENAI_API_KEY", reader)
    const baseURL = yield* baseUrl(options.baseURL, "OPENAI_BASE_URL", defaultBaseURL, reader)
    const key = Redacted.value(apiKey)
    const client = new OpenAI({
      apiKey: key,
      baseURL,
      organization: options.organization ?? (yield* optionalString("OPENAI_ORG_ID", reader)) ?? null,
      project: options.project ?? (yield* optionalString("OPENAI_PROJECT_ID", reader)) ?? null,
      maxRetries: 0,
      fetch: linkedFetch,
      ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } })
    })
    const overrides = options.capabilities ?? {}
    return makeChatProvider({
      name: options.name ?? "openai",
      client,
      baseURL,
      secrets: [key],
      reasoningRules: true,
      capabilities: (model): LanguageModel.ModelCapabilities => ({
        structuredOutputs: true,
        jsonObject: true,
        tools: true,
        contextWindow: contextWindowOf("openai", model),
        ...overrides
      }),
      cost: (model: string, usage: LanguageModel.LMUsage) => costOf("openai", model, usage)
    }) satisfies LanguageModel.Provider
  })

/**
 * A `Providers` layer with OpenAI as its only provider. To combine providers, list their `provider`
 * effects in one `Providers.layer(...)` instead (two Providers layers replace, not merge).
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, LM, Predict } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([OpenAi.layer(), Cache.layerConfig]))
 *
 * const answer = Predict.make("question -> answer").call({ question: "What is 2 + 2?" }).pipe(
 *   Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini")),
 *   Effect.provide(LmLive)
 * )
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<Providers.Providers, LMError.LMConfigurationError> =>
  Providers.layer(provider(options))
