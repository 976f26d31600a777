/**
 * The Embedder's implementation. One `embed` call:
 *   distinct texts → cache lookup of each (unless caching is off)
 *   → the misses cut into batches of `batchSize` (and the provider's `maxBatchSize`)
 *   → per batch, one request with retries of retryable errors, each attempt through the provider's
 *     concurrency cap → its requests-per-minute limit → the per-request timeout → provider.embed
 *   → usage/cost accounting and a cache write per text, then the vectors in the callers' order.
 * Settings (timeout, retries, limits) come from the options, then the `DSPEX_LM_*` environment, exactly
 * as the LanguageModel runtime reads them; the limits are counted apart from the LanguageModel's own.
 */
import { Effect, Option } from "effect"
import { RateLimiter } from "effect/persistence"
import { hash } from "node:crypto"
import { Cache } from "../Cache.ts"
import type {
  EmbedderOptions,
  EmbedderShape,
  EmbeddingProvider,
  EmbeddingProvidersShape,
  EmbeddingRequest,
  EmbeddingResponse,
  EmbedOptions
} from "../Embedder.ts"
import { splitModel } from "../LM.ts"
import { LMConfigurationError, type LMError, LMMalformedResponse, LMTimeout } from "../LMError.ts"
import * as Tracing from "../Tracing.ts"
import { canonicalJson, dspyKwargs, namespacedKey } from "./cacheKey.ts"
import { resolveSettings } from "./lmConfig.ts"
import { UsageLedger } from "./lmHistory.ts"
import { makeGate } from "./lmLimits.ts"
import { withRetries } from "./lmRetry.ts"
import { timeoutFail } from "./lmTimeout.ts"
import { fromEntry, toEntry } from "./vectorCodec.ts"

export const defaultBatchSize = 200

const positiveInteger = (value: number | undefined, setting: string, model: string): LMConfigurationError | undefined =>
  value === undefined || (Number.isInteger(value) && value >= 1) ? undefined : new LMConfigurationError({
    model,
    detail: `${setting} must be a whole number of at least 1 (got ${value})`,
    fix: `Pass a positive whole number as ${setting}`
  })

/**
 * The provider of `model`: by its prefix, or, for a bare name, the provider of that name (a function's)
 * before the "openai" default of bare LM names.
 */
const route = (
  model: string,
  registry: EmbeddingProvidersShape
): { readonly provider: EmbeddingProvider; readonly name: string } | LMConfigurationError => {
  const bare = model.includes("/") ? undefined : registry.lookup(model)
  if (bare !== undefined) return { provider: bare, name: model }
  const { provider, name } = splitModel(model)
  const found = registry.lookup(provider)
  if (found !== undefined) return { provider: found, name }
  return new LMConfigurationError({
    model,
    detail: registry.names.length === 0
      ? `no embedding provider is registered (model prefix "${provider}")`
      : `unknown embedding provider "${provider}"; registered: ${registry.names.join(", ")}`,
    fix:
      "Provide one with Embedder.providers(...), e.g. OpenAiEmbeddings.layer() for \"openai/text-embedding-3-small\", or Embedder.fromFunction(name, f)"
  })
}

/**
 * Builds an Embedder over `registry` and the Cache in context.
 *
 * @example
 * const embedder = yield* makeEmbedder({ model: "openai/text-embedding-3-small" }, registry)
 */
export const makeEmbedder = (
  options: EmbedderOptions,
  registry: EmbeddingProvidersShape
): Effect.Effect<EmbedderShape, LMConfigurationError, Cache> =>
  Effect.gen(function*() {
    const cache = yield* Cache
    const model = options.model
    const routed = route(model, registry)
    if (routed instanceof LMConfigurationError) return yield* routed
    const { provider, name: providerModel } = routed
    for (const [setting, value] of [["batchSize", options.batchSize], ["concurrency", options.concurrency]] as const) {
      const invalid = positiveInteger(value, setting, model)
      if (invalid !== undefined) return yield* invalid
    }
    const settings = yield* resolveSettings(
      {
        timeoutMs: options.timeoutMs,
        maxConcurrency: options.maxConcurrency,
        requestsPerMinute: options.requestsPerMinute,
        numRetries: options.numRetries,
        retryBaseDelayMs: options.retryBaseDelayMs,
        retryMaxDelayMs: options.retryMaxDelayMs
      },
      [provider.name]
    )
    const existingLimiter = yield* Effect.serviceOption(RateLimiter.RateLimiter)
    const limiter = Option.isSome(existingLimiter)
      ? existingLimiter.value
      : yield* Effect.provide(RateLimiter.make, RateLimiter.layerStoreMemory)
    const gate = makeGate(limiter, settings.limitsOf)(provider.name, model)
    const { timeoutMs } = settings.limitsOf(provider.name)
    const policy = {
      times: settings.numRetries,
      baseDelayMs: settings.retryBaseDelayMs,
      maxDelayMs: settings.retryMaxDelayMs
    }
    const ledger = new UsageLedger()
    const maxBatch = provider.maxBatchSize !== undefined && provider.maxBatchSize >= 1
      ? Math.floor(provider.maxBatchSize)
      : Number.POSITIVE_INFINITY

    /** One request for one batch, retried; checked to hold one vector per text inside the retries. */
    const requestBatch = (request: EmbeddingRequest): Effect.Effect<EmbeddingResponse, LMError> =>
      Effect.suspend(() => {
        let attempts = 0
        const once = Effect.flatMap(
          Effect.suspend(() => {
            attempts++
            return provider.embed(request)
          }),
          (response) =>
            response.vectors.length === request.texts.length ? Effect.succeed(response) : Effect.fail(
              new LMMalformedResponse({
                provider: provider.name,
                model,
                ...(response.requestId === undefined ? {} : { requestId: response.requestId }),
                detail: `${response.vectors.length} vectors for ${request.texts.length} texts`
              })
            )
        )
        const attempt = gate(
          provider.handlesTimeout === true ? once : timeoutFail(
            once,
            timeoutMs,
            () =>
              new LMTimeout({ provider: provider.name, model, timeoutMs, detail: `no response within ${timeoutMs} ms` })
          )
        )
        return Effect.tapError(
          Effect.tap(withRetries(attempt, policy), (response) =>
            Effect.sync(() => {
              const usage = response.usage ?? { promptTokens: 0, totalTokens: 0 }
              ledger.add(
                model,
                { promptTokens: usage.promptTokens, completionTokens: 0, totalTokens: usage.totalTokens },
                response.cost,
                attempts - 1
              )
            })),
          () => Effect.sync(() => ledger.failed(model, Math.max(0, attempts - 1)))
        )
      })

    const embed = (
      texts: ReadonlyArray<string>,
      callOptions: EmbedOptions = {}
    ): Effect.Effect<ReadonlyArray<Float32Array>, LMError> =>
      Effect.suspend(() => {
        if (texts.length === 0) return Effect.succeed([])
        const batchSize = callOptions.batchSize ?? options.batchSize ?? defaultBatchSize
        const invalid = positiveInteger(callOptions.batchSize, "batchSize", model)
        if (invalid !== undefined) return Effect.fail(invalid)
        const useCache = (callOptions.cache ?? options.cache) !== false
        const dimensions = callOptions.dimensions ?? options.dimensions
        const kwargs = options.kwargs === undefined
          ? callOptions.kwargs
          : callOptions.kwargs === undefined
          ? options.kwargs
          : { ...options.kwargs, ...callOptions.kwargs }
        // The key: model, text and every setting that changes the vector (never keys or endpoints, which
        // dspyKwargs leaves out), under the provider's endpoint.
        const settingsKey = { ...dspyKwargs({ kwargs }), ...(dimensions === undefined ? {} : { dimensions }) }
        const keyOf = (text: string) =>
          namespacedKey(
            provider.endpoint,
            hash("sha256", canonicalJson({ kind: "embedding", model, input: text, ...settingsKey }), "hex")
          )
        const distinct = [...new Set(texts)]
        const found = new Map<string, Float32Array>()

        const lookups = useCache
          ? Effect.forEach(distinct, (text) =>
            Effect.map(cache.get(keyOf(text)), (entry) => {
              const vector = Option.isSome(entry) ? fromEntry(entry.value) : undefined
              if (vector !== undefined) {
                found.set(text, vector)
                ledger.hit(model)
              }
            }), { discard: true })
          : Effect.void

        const fetchMissing = Effect.suspend(() => {
          const missing = distinct.filter((t) => !found.has(t))
          const size = Math.min(batchSize, maxBatch)
          const batches: Array<ReadonlyArray<string>> = []
          for (let i = 0; i < missing.length; i += size) batches.push(missing.slice(i, i + size))
          return Effect.forEach(
            batches,
            (batch) =>
              Effect.flatMap(
                requestBatch({
                  model: providerModel,
                  texts: batch,
                  ...(dimensions === undefined ? {} : { dimensions }),
                  ...(kwargs === undefined ? {} : { kwargs }),
                  timeoutMs
                }),
                (response) => {
                  batch.forEach((text, i) => found.set(text, response.vectors[i]!))
                  return useCache
                    ? Effect.forEach(batch, (text, i) => cache.set(keyOf(text), toEntry(model, response.vectors[i]!)), {
                      discard: true
                    })
                    : Effect.void
                }
              ),
            { concurrency: options.concurrency ?? 1, discard: true }
          )
        })

        // Each position gets an array of its own, even for a text given twice.
        const assemble = Effect.sync(() => {
          const handedOut = new Set<Float32Array>()
          return texts.map((text) => {
            const vector = found.get(text)!
            if (handedOut.has(vector)) return vector.slice()
            handedOut.add(vector)
            return vector
          })
        })

        return Tracing.withSpan(
          Effect.andThen(Effect.andThen(lookups, fetchMissing), assemble),
          "Embedder.embed",
          () => ({
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": provider.name,
            "gen_ai.request.model": providerModel,
            "dspex.texts": texts.length
          })
        )
      })

    const service: EmbedderShape = { model, embed, usage: () => ledger.snapshot() }
    return service
  })
