/**
 * Anthropic through the official `@anthropic-ai/sdk` (Messages API). The key comes from
 * `ANTHROPIC_API_KEY` (a `Redacted` config) unless passed in; `ANTHROPIC_BASE_URL` overrides the
 * endpoint. Anthropic has no `n`, so n > 1 runs n requests in parallel and concatenates their outputs.
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { type LanguageModel, LMError, Providers, Tracing } from "@dspex/core"
import { Effect, type Layer, Redacted } from "effect"
import { abortWith, linkedFetch } from "./internal/abortLink.ts"
import { describeAnthropicError, parseMessage, toAnthropicBody } from "./internal/anthropicRequest.ts"
import { baseUrl, type Reader, requiredKey } from "./internal/env.ts"
import { type CallContext, toLMError } from "./internal/errors.ts"
import { contextWindowOf, costOf } from "./internal/prices.ts"
import { sdkCall } from "./internal/sdkCall.ts"

export const defaultBaseURL = "https://api.anthropic.com"

export interface Options {
  /** Default: the `ANTHROPIC_API_KEY` config. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default: the `ANTHROPIC_BASE_URL` config, else https://api.anthropic.com. */
  readonly baseURL?: string | undefined
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** The provider prefix of model ids ("anthropic" by default). */
  readonly name?: string | undefined
  readonly capabilities?: Partial<LanguageModel.ModelCapabilities> | undefined
}

const addUsage = (a: LanguageModel.LMUsage, b: LanguageModel.LMUsage): LanguageModel.LMUsage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  totalTokens: a.totalTokens + b.totalTokens
})

/**
 * The Anthropic provider, reading its key and base URL from config when not given. A missing key or a
 * base URL that is not an http(s) URL fails with `LMError.LMConfigurationError` naming the variable.
 *
 * @example
 * ```ts
 * import { Anthropic } from "@dspex/providers"
 * import { Effect } from "effect"
 *
 * // the raw call: no cache, retries or limits (the LanguageModel service adds those)
 * const program = Effect.gen(function*() {
 *   const anthropic = yield* Anthropic.provider() // the key from ANTHROPIC_API_KEY
 *   const messages = [{ role: "user" as const, content: "Say hello." }]
 *   const response = yield* anthropic.complete({ model: "claude-sonnet-4-5", messages, n: 1, timeoutMs: 30_000 })
 *   return response.outputs[0]?.text
 * })
 * ```
 */
export const provider: (options?: Options) => Effect.Effect<LanguageModel.Provider, LMError.LMConfigurationError> =
  Effect.fn(
    "Anthropic.provider"
  )(function*(options: Options = {}) {
    const name = options.name ?? "anthropic"
    const reader: Reader = { provider: name, call: "Anthropic.layer" }
    const apiKey = yield* requiredKey(options.apiKey, "ANTHROPIC_API_KEY", reader)
    const baseURL = yield* baseUrl(options.baseURL, "ANTHROPIC_BASE_URL", defaultBaseURL, reader)
    const key = Redacted.value(apiKey)
    const client = new AnthropicSdk({
      apiKey: key,
      baseURL,
      maxRetries: 0,
      fetch: linkedFetch,
      ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } })
    })
    const cost = (model: string, usage: LanguageModel.LMUsage) => costOf("anthropic", model, usage)

    type Once = {
      readonly output: LanguageModel.LMOutput
      readonly usage: LanguageModel.LMUsage
      readonly responseModel?: string | undefined
      readonly requestId: string | undefined
    }
    const once = (request: LanguageModel.ProviderRequest, ctx: CallContext) => {
      const body = toAnthropicBody(request)
      return sdkCall(
        (controller) =>
          client.messages.create(body, { ...abortWith(controller), timeout: request.timeoutMs, maxRetries: 0 })
            .withResponse(),
        request.timeoutMs,
        ({ data, response, request_id }): Once | LMError.LMError => {
          const requestId = request_id ?? response.headers.get("request-id") ?? undefined
          const parsed = parseMessage(data as unknown)
          const withId = requestId === undefined ? {} : { requestId }
          if (parsed._tag === "context") {
            return new LMError.LMContextWindowExceeded({
              provider: name,
              model: request.model,
              detail: parsed.detail,
              ...withId
            })
          }
          if (parsed._tag === "malformed") {
            return toLMError({ kind: "malformed", detail: parsed.detail, requestId }, ctx)
          }
          return { ...parsed, requestId }
        },
        (error) => toLMError(describeAnthropicError(error), ctx),
        () => toLMError({ kind: "timeout" }, ctx)
      )
    }

    const spanName = `${name}.complete`
    const complete = (request: LanguageModel.ProviderRequest) => {
      const ctx: CallContext = {
        provider: name,
        model: request.model,
        baseURL,
        timeoutMs: request.timeoutMs,
        secrets: [key]
      }
      const n = Math.max(1, request.n)
      const results = n === 1
        ? Effect.map(once(request, ctx), (r) => [r])
        : Effect.all(Array.from({ length: n }, () => once(request, ctx)), { concurrency: "unbounded" })
      const combined = Effect.map(results, (results) => {
        const usage = results.reduce((sum, r) => addUsage(sum, r.usage), {
          promptTokens: 0,
          completionTokens: 0,
          totalTokens: 0
        })
        const first = results[0]
        return {
          outputs: results.map((r) => r.output),
          usage,
          cost: cost(request.model, usage),
          ...(first?.responseModel === undefined ? {} : { responseModel: first.responseModel }),
          ...(first?.requestId === undefined ? {} : { requestId: first.requestId })
        }
      })
      // A span only when tracing (see core's Tracing), never Effect.fn's per-call stack capture.
      return Tracing.withSpan(combined, spanName, () => ({ "gen_ai.request.model": request.model }))
    }

    const overrides = options.capabilities ?? {}
    return {
      name,
      endpoint: baseURL,
      complete,
      handlesTimeout: true,
      capabilities: (model: string): LanguageModel.ModelCapabilities => ({
        structuredOutputs: false,
        jsonObject: false,
        tools: true,
        contextWindow: contextWindowOf("anthropic", model),
        ...overrides
      }),
      cost
    } satisfies LanguageModel.Provider
  })

/**
 * A `Providers` layer with Anthropic as its only provider (combine several with one `Providers.layer(...)`).
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel } from "@dspex/core"
 * import { Anthropic } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * // models "anthropic/claude-haiku-4-5", ...; building it fails with LMConfigurationError without ANTHROPIC_API_KEY
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([Anthropic.layer(), Cache.layerConfig]))
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<Providers.Providers, LMError.LMConfigurationError> =>
  Providers.layer(provider(options))
