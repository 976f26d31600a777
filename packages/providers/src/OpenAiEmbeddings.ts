/**
 * OpenAI embeddings (`POST /v1/embeddings`) through the official `openai` SDK, as an embedding provider
 * for core's `Embedder`: models "openai/text-embedding-3-small", "openai/text-embedding-3-large", ...
 * The key, base URL, organization and project come from the same config as the `OpenAi` chat provider
 * (`OPENAI_API_KEY` as a `Redacted`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`), so any
 * OpenAI-compatible server with an embeddings endpoint works by base URL and name.
 */
import { Embedder, type LMError } from "@dspex/core"
import { Effect, type Layer, Redacted } from "effect"
import OpenAI from "openai"
import { linkedFetch } from "./internal/abortLink.ts"
import { baseUrl, optionalString, type Reader, requiredKey } from "./internal/env.ts"
import { makeEmbeddingProvider } from "./internal/openaiEmbeddings.ts"
import { costOf } from "./internal/prices.ts"

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
  /** The provider prefix of model ids ("openai" by default, as in "openai/text-embedding-3-small"). */
  readonly name?: string | undefined
  /** The `@pydantic/genai-prices` provider id for costs; default "openai" (only when `name` is too). */
  readonly pricing?: string | undefined
}

/**
 * The OpenAI embedding provider, reading its key and base URL from config when not given. A missing key
 * or a base URL that is not an http(s) URL fails with `LMError.LMConfigurationError` naming the variable.
 * Requests ask for base64 vectors (as the SDK does by default) and decode them straight into
 * Float32Arrays; a request carries at most 2048 texts (OpenAI's limit; the Embedder cuts larger batches).
 *
 * @example
 * ```ts
 * import { Embedder } from "@dspex/core"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Redacted } from "effect"
 *
 * const openai = OpenAiEmbeddings.provider() // the key from OPENAI_API_KEY
 * // an OpenAI-compatible server under its own name: models "local/<model>"
 * const local = OpenAiEmbeddings.provider({ name: "local", apiKey: Redacted.make("none"), baseURL: "http://localhost:11434/v1" })
 * const EmbeddingProvidersLive = Embedder.providers(openai, local)
 * ```
 */
export const provider: (
  options?: Options
) => Effect.Effect<Embedder.EmbeddingProvider, LMError.LMConfigurationError> = Effect.fn("OpenAiEmbeddings.provider")(
  function*(options: Options = {}) {
    const name = options.name ?? "openai"
    const reader: Reader = { provider: name, call: "OpenAiEmbeddings.layer" }
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
    const pricing = options.pricing ?? (name === "openai" ? "openai" : undefined)
    return makeEmbeddingProvider({
      name,
      client,
      baseURL,
      secrets: [key],
      cost: pricing === undefined ?
        undefined :
        (model, usage) =>
          costOf(pricing, model, {
            promptTokens: usage.promptTokens,
            completionTokens: 0,
            totalTokens: usage.totalTokens
          })
    })
  }
)

/**
 * An `EmbeddingProviders` layer with OpenAI as its only embedding provider. To combine providers, list
 * their `provider` effects in one `Embedder.providers(...)` instead.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const EmbedderLive = Embedder.layer({ model: "openai/text-embedding-3-small" }).pipe(
 *   Layer.provide([OpenAiEmbeddings.layer(), Cache.layerConfig])
 * )
 * const program = Effect.gen(function*() {
 *   const [query, ...docs] = yield* Embedder.embed(["capital of France", "Paris is in France", "2 + 2 = 4"])
 *   return docs.map((d) => Embedder.cosine(query!, d)) // the first document scores higher
 * }).pipe(Effect.provide(EmbedderLive))
 * ```
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Embedder.EmbeddingProviders, LMError.LMConfigurationError> => Embedder.providers(provider(options))
