/**
 * The LanguageModel service: one interface for every provider. A call goes through the cache
 * (memory, then disk; identical concurrent requests coalesced), the per-provider concurrency cap and
 * requests-per-minute limiter, a per-request timeout, and retries of retryable errors by Schedule.
 * Providers are plain objects registered through `Providers`, so any provider (or an `effect/ai`
 * LanguageModel) can be plugged in as a Layer.
 */
import { Context, type Effect, Layer, type Scope } from "effect"
import type { Cache } from "./Cache.ts"
import { makeRuntime } from "./internal/lmRuntime.ts"
import type { LM } from "./LM.ts"
import type { LMConfigurationError, LMError } from "./LMError.ts"
import type { Message, ToolCall } from "./Message.ts"
import type { Providers } from "./Providers.ts"

/** Limits and timeout of one provider's calls. */
export interface ProviderOptions {
  readonly maxConcurrency?: number | undefined
  /** Undefined or 0: unlimited. */
  readonly requestsPerMinute?: number | undefined
  readonly timeoutMs?: number | undefined
}

/** The LanguageModel runtime's settings (see `make`): each falls back to the environment, then a default. */
export interface LanguageModelOptions extends ProviderOptions {
  /** Retries of retryable errors when the LM sets no `numRetries` (DSPy's default: 3). */
  readonly numRetries?: number | undefined
  /** First backoff delay; doubles per retry, jittered. */
  readonly retryBaseDelayMs?: number | undefined
  /** Longest backoff delay (a provider's retry-after may still ask for longer). */
  readonly retryMaxDelayMs?: number | undefined
  /** Entries kept in `history()`. */
  readonly historySize?: number | undefined
  /** Per-provider overrides, by provider name ("openai", "anthropic", ...). */
  readonly providers?: Readonly<Record<string, ProviderOptions>> | undefined
}

export type ResponseFormat =
  | { readonly type: "json_object" }
  | {
    readonly type: "json_schema"
    readonly json_schema: { readonly name: string; readonly schema: Record<string, unknown>; readonly strict: boolean }
  }

export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly parameters: Record<string, unknown>
}

/** What a module asks of the LM for one call: messages plus overrides of the LM's settings. */
export interface LMRequest {
  readonly messages: ReadonlyArray<Message>
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly n?: number | undefined
  readonly stop?: ReadonlyArray<string> | undefined
  readonly rolloutId?: number | string | undefined
  readonly responseFormat?: ResponseFormat | undefined
  readonly tools?: ReadonlyArray<ToolDefinition> | undefined
  /** false: skip the cache for this call only. */
  readonly cache?: boolean | undefined
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
}

/** A fully resolved request as a provider receives it (LM settings merged, rollout id removed). */
export interface ProviderRequest {
  /** The model name without the provider prefix. */
  readonly model: string
  readonly messages: ReadonlyArray<Message>
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly n: number
  readonly stop?: ReadonlyArray<string> | undefined
  readonly responseFormat?: ResponseFormat | undefined
  readonly tools?: ReadonlyArray<ToolDefinition> | undefined
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
  readonly timeoutMs: number
}

export interface LMOutput {
  readonly text: string
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
  readonly reasoning?: string | undefined
  readonly finishReason?: string | undefined
}

export interface LMUsage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
}

export const zeroUsage: LMUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }

export interface LMResponse {
  /** One output per choice (n > 1 gives several). */
  readonly outputs: ReadonlyArray<LMOutput>
  /** Zero on a cache hit, as in DSPy. */
  readonly usage: LMUsage
  /** Cost in USD when the model's price is known (zero on a cache hit). */
  readonly cost?: number | undefined
  /** "provider/model" as requested. */
  readonly model: string
  /** The model the provider says answered. */
  readonly responseModel?: string | undefined
  readonly requestId?: string | undefined
  readonly cacheHit: boolean
}

/** What a provider can do, so adapters pick structured outputs only where they work. */
export interface ModelCapabilities {
  readonly structuredOutputs: boolean
  readonly jsonObject: boolean
  readonly tools: boolean
  readonly contextWindow?: number | undefined
}

/** One provider: the raw call, no cache/retry/limits (the LanguageModel service adds those). */
export interface Provider {
  readonly name: string
  /**
   * Where requests go (the base URL). Cache entries are namespaced by it: DSPy's key leaves the endpoint out,
   * so without it an answer cached from one server (a local model) would be served for the same model name
   * from another. Undefined: entries are keyed by DSPy's key alone.
   */
  readonly endpoint?: string | undefined
  readonly complete: (request: ProviderRequest) => Effect.Effect<Omit<LMResponse, "cacheHit" | "model">, LMError>
  readonly capabilities: (model: string) => ModelCapabilities
  /** Cost in USD of a call, when the price is known. */
  readonly cost?: ((model: string, usage: LMUsage) => number | undefined) | undefined
  /**
   * True when `complete` itself enforces `request.timeoutMs` (stops the request and fails with
   * LMTimeout); the LanguageModel runtime then adds no timeout of its own around it.
   */
  readonly handlesTimeout?: boolean | undefined
}

/** What `usage()` reports for one model. */
export interface ModelUsage extends LMUsage {
  /** USD, summed exactly (round it for display). */
  readonly cost: number
  /** Provider calls that succeeded. */
  readonly calls: number
  /** Attempts after the first, over all calls (the faults retries absorbed, and those they did not). */
  readonly retries: number
  /** Calls that failed after their retries. */
  readonly errors: number
  /** Answers served without a provider call: from the cache, or shared with an identical call in flight. */
  readonly cacheHits: number
}

/** An entry of the LM call history (DSPy's `lm.history`). */
export interface HistoryEntry {
  readonly id: string
  readonly timestamp: string
  readonly model: string
  readonly messages: ReadonlyArray<Message>
  readonly kwargs: Readonly<Record<string, unknown>>
  readonly outputs: ReadonlyArray<LMOutput>
  readonly usage: LMUsage
  readonly cost?: number | undefined
  readonly cacheHit: boolean
  readonly durationMs: number
  readonly retries: number
}

export interface LanguageModelShape {
  /** Calls `lm` (or the fiber's CurrentLM when undefined) with the request. */
  readonly generate: (lm: LM | undefined, request: LMRequest) => Effect.Effect<LMResponse, LMError>
  readonly capabilities: (lm: LM) => ModelCapabilities
  /** The most recent calls, newest last. */
  readonly history: (n?: number) => ReadonlyArray<HistoryEntry>
  /**
   * Per model since the service started: tokens, cost and successful provider `calls` (cache hits add
   * none), the `retries` those and the failed calls needed, the calls that failed after their retries
   * (`errors`), and the answers served without a provider call (`cacheHits`).
   */
  readonly usage: () => Readonly<Record<string, ModelUsage>>
}

export class LanguageModel extends Context.Service<LanguageModel, LanguageModelShape>()("@dspex/core/LanguageModel") {}

/**
 * The service over the `Providers` and `Cache` in context (and the `RateLimiter` when one is provided,
 * else an in-memory one). Settings come from `options`, then the environment (`DSPEX_LM_TIMEOUT_MS`
 * default 60000, `DSPEX_LM_MAX_CONCURRENCY` default 64 per provider, `DSPEX_LM_REQUESTS_PER_MINUTE`
 * default unlimited, `DSPEX_LM_NUM_RETRIES` default 3, `DSPEX_LM_HISTORY_SIZE` default 1000, and
 * `DSPEX_LM_<PROVIDER>_{MAX_CONCURRENCY,REQUESTS_PER_MINUTE,TIMEOUT_MS}` per provider).
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, LM, Providers } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const lm = yield* LanguageModel.make({ timeoutMs: 30_000 }) // released with the scope
 *   const response = yield* lm.generate(LM.make("openai/gpt-4o-mini"), { messages: [{ role: "user", content: "Say hi." }] })
 *   return response.outputs[0]?.text
 * }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Providers.layer(OpenAi.provider()), Cache.layerMemory())))
 * ```
 */
export const make = (
  options?: LanguageModelOptions
): Effect.Effect<LanguageModelShape, LMConfigurationError, Providers | Cache | Scope.Scope> => makeRuntime(options)

/**
 * The LanguageModel layer; provide it with a `Providers` layer and a `Cache` layer.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, LM, Providers } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const LmLive = LanguageModel.layer({ providers: { openai: { maxConcurrency: 16, requestsPerMinute: 500 } } }).pipe(
 *   Layer.provide([Providers.layer(OpenAi.provider()), Cache.layerConfig])
 * )
 * const messages = [{ role: "user" as const, content: "Say hi." }]
 * const answer = LanguageModel.LanguageModel.use((lm) => lm.generate(LM.make("openai/gpt-4o-mini"), { messages })).pipe(Effect.provide(LmLive))
 * ```
 */
export const layer = (
  options?: LanguageModelOptions
): Layer.Layer<LanguageModel, LMConfigurationError, Providers | Cache> =>
  Layer.effect(LanguageModel, makeRuntime(options))
