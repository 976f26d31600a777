/**
 * The Embedder service (DSPy's `dspy.Embedder`): texts in, one vector per text out, for one embedding
 * model ("openai/text-embedding-3-small") or a function of your own. Retrievers and KNNFewShot use it.
 *
 * A call goes through the same machinery as LM calls: each text's vector is looked up in the `Cache`
 * (memory, then disk) under a key of model, text and settings namespaced by the provider's endpoint; the
 * texts not found (each distinct text once) are sent in batches of `batchSize` (default 200, as DSPy),
 * one request per batch, through the per-provider concurrency cap and requests-per-minute limit, the
 * per-request timeout and retries of retryable errors (the `DSPEX_LM_*` settings). DSPy caches whole
 * batches; caching per text means a second call that shares some texts requests only the others.
 *
 * Vectors are `Float32Array`s: DSPy returns float32 arrays too, a 1536-dimension vector is 6 KB instead
 * of a boxed-number array's 12 KB or more, OpenAI sends float32 bytes (base64) that decode straight
 * into one, and dot products over them are fast. Every call hands out arrays of its own (decoded afresh
 * from the cache), so a caller that changes one changes nobody else's.
 */
import { Context, Effect, Layer } from "effect"
import type { Cache } from "./Cache.ts"
import { callableKey, functionProvider } from "./internal/embedderFunction.ts"
import { makeEmbedder } from "./internal/embedderRuntime.ts"
import type { ModelUsage, ProviderOptions } from "./LanguageModel.ts"
import { LMConfigurationError, type LMError } from "./LMError.ts"

/** What a provider receives: one batch of texts, settings resolved. */
export interface EmbeddingRequest {
  /** The model name without the provider prefix ("text-embedding-3-small"). */
  readonly model: string
  /** At most the batch size; never empty. */
  readonly texts: ReadonlyArray<string>
  /** Requested vector length, for models that can shorten their vectors. */
  readonly dimensions?: number | undefined
  /** Extra request parameters, sent as they are. */
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
  readonly timeoutMs: number
}

export interface EmbeddingUsage {
  readonly promptTokens: number
  readonly totalTokens: number
}

/** A provider's answer to one batch: one vector per text, in the texts' order. */
export interface EmbeddingResponse {
  readonly vectors: ReadonlyArray<Float32Array>
  readonly usage?: EmbeddingUsage | undefined
  /** USD, when the price is known. */
  readonly cost?: number | undefined
  /** The model the provider says answered. */
  readonly responseModel?: string | undefined
  readonly requestId?: string | undefined
}

/** One embedding provider: the raw call, no cache, batching, retry or limits (the Embedder adds those). */
export interface EmbeddingProvider {
  /** The model prefix it serves ("openai" for "openai/text-embedding-3-small"). */
  readonly name: string
  /**
   * Where requests go (the base URL): cache entries are namespaced by it, so vectors from one server are
   * never served for the same model name on another. Undefined: keyed by model and text alone.
   */
  readonly endpoint?: string | undefined
  readonly embed: (request: EmbeddingRequest) => Effect.Effect<EmbeddingResponse, LMError>
  /** True when `embed` enforces `request.timeoutMs` itself (the Embedder then adds no timer of its own). */
  readonly handlesTimeout?: boolean | undefined
  /** Most texts one request may carry (OpenAI: 2048); larger batches are cut to fit. */
  readonly maxBatchSize?: number | undefined
}

/** Settings of one embedding call, over the Embedder's own. */
export interface EmbedOptions {
  /** Texts per request; default the Embedder's (200). */
  readonly batchSize?: number | undefined
  /** false: neither read nor write the cache for this call. */
  readonly cache?: boolean | undefined
  readonly dimensions?: number | undefined
  /** Merged over the Embedder's kwargs. */
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
}

/** An Embedder's settings (DSPy's `Embedder(model, batch_size=200, caching=True, **kwargs)`). */
export interface EmbedderOptions extends ProviderOptions {
  /** "provider/model", e.g. "openai/text-embedding-3-small"; a function provider's name alone also works. */
  readonly model: string
  /** Texts per request, default 200 (DSPy's). */
  readonly batchSize?: number | undefined
  /** Default true: vectors are cached per text like LM answers. */
  readonly cache?: boolean | undefined
  readonly dimensions?: number | undefined
  /** Extra request parameters, sent with every request and part of the cache key. */
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
  /** Batches in flight at once for one call, default 1 (DSPy sends them one after another). */
  readonly concurrency?: number | undefined
  /** Retries of retryable errors; default `DSPEX_LM_NUM_RETRIES`, else 3. */
  readonly numRetries?: number | undefined
  /** First backoff delay; doubles per retry, jittered (default 500). */
  readonly retryBaseDelayMs?: number | undefined
  /** Longest backoff delay (a provider's retry-after may still ask for longer); default 30000. */
  readonly retryMaxDelayMs?: number | undefined
}

export interface EmbedderShape {
  /** The model, "provider/model", as configured. */
  readonly model: string
  /** One vector per text, in order (an empty list makes no request). */
  readonly embed: (
    texts: ReadonlyArray<string>,
    options?: EmbedOptions
  ) => Effect.Effect<ReadonlyArray<Float32Array>, LMError>
  /**
   * Per model since the Embedder was built: tokens, cost and provider `calls` (one per batch sent), the
   * `retries` they needed, the calls that failed after their retries (`errors`) and the texts served
   * from the cache (`cacheHits`). Completion tokens are always zero.
   */
  readonly usage: () => Readonly<Record<string, ModelUsage>>
}

export class Embedder extends Context.Service<Embedder, EmbedderShape>()("@dspex/core/Embedder") {}

export interface EmbeddingProvidersShape {
  /** Registered provider names, sorted. */
  readonly names: ReadonlyArray<string>
  readonly lookup: (name: string) => EmbeddingProvider | undefined
}

/** The embedding providers an Embedder may route to, by model prefix (the `Providers` of embeddings). */
export class EmbeddingProviders
  extends Context.Service<EmbeddingProviders, EmbeddingProvidersShape>()("@dspex/core/EmbeddingProviders")
{}

type ProviderInput = EmbeddingProvider | Effect.Effect<EmbeddingProvider, any, any>
type InputError<P> = P extends Effect.Effect<EmbeddingProvider, infer E, infer _R> ? E : never
type InputServices<P> = P extends Effect.Effect<EmbeddingProvider, infer _E, infer R> ? R : never

/**
 * The registry layer: every embedding provider the program may use, each an `EmbeddingProvider` or an
 * effect building one; a later provider with the same name replaces an earlier one.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * const letters = Embedder.fromFunction("letters", (texts) => texts.map((t) => [t.length, t.split(" ").length]))
 * const EmbedderLive = Embedder.layer({ model: "openai/text-embedding-3-small" }).pipe(
 *   Layer.provide([Embedder.providers(OpenAiEmbeddings.provider(), letters), Cache.layerConfig])
 * )
 * ```
 */
export const providers = <const Ps extends ReadonlyArray<ProviderInput>>(
  ...list: Ps
): Layer.Layer<EmbeddingProviders, InputError<Ps[number]>, InputServices<Ps[number]>> =>
  Layer.effect(
    EmbeddingProviders,
    Effect.map(
      Effect.forEach(list, (p: ProviderInput) =>
        Effect.isEffect(p)
          ? p as Effect.Effect<EmbeddingProvider, any, any>
          : Effect.succeed(p as EmbeddingProvider)),
      (built): EmbeddingProvidersShape => {
        const byName = new Map<string, EmbeddingProvider>()
        for (const p of built) byName.set(p.name, p)
        return { names: [...byName.keys()].sort(), lookup: (name) => byName.get(name) }
      }
    )
  )

/**
 * An Embedder value over the `EmbeddingProviders` and `Cache` in context, for a program that uses more
 * than one model (the `layer` is the one-model case). An unknown provider prefix or an invalid setting
 * fails with `LMError.LMConfigurationError`.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const small = yield* Embedder.make({ model: "openai/text-embedding-3-small", dimensions: 256 })
 *   const large = yield* Embedder.make({ model: "openai/text-embedding-3-large" })
 *   const [a] = yield* small.embed(["What is the capital of France?"])
 *   const [b] = yield* large.embed(["What is the capital of France?"])
 *   return [a?.length, b?.length] // [256, 3072]
 * }).pipe(Effect.provide(Layer.mergeAll(OpenAiEmbeddings.layer(), Cache.layerMemory())))
 * ```
 */
export const make = (
  options: EmbedderOptions
): Effect.Effect<EmbedderShape, LMConfigurationError, EmbeddingProviders | Cache> =>
  EmbeddingProviders.use((registry) => makeEmbedder(options, registry))

/**
 * The Embedder layer for one model; provide it with an `EmbeddingProviders` layer (e.g.
 * `OpenAiEmbeddings.layer()`) and a `Cache` layer. Building it fails with `LMError.LMConfigurationError`
 * when no registered provider serves the model's prefix.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { OpenAiEmbeddings } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const EmbedderLive = Embedder.layer({ model: "openai/text-embedding-3-small", batchSize: 100 }).pipe(
 *   Layer.provide([OpenAiEmbeddings.layer(), Cache.layerConfig])
 * )
 * const vectors = Embedder.embed(["hello", "world"]).pipe(Effect.provide(EmbedderLive)) // two Float32Arrays
 * ```
 */
export const layer = (
  options: EmbedderOptions
): Layer.Layer<Embedder, LMConfigurationError, EmbeddingProviders | Cache> => Layer.effect(Embedder, make(options))

/**
 * Embeds `texts` with the Embedder in context.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { Effect, Layer } from "effect"
 *
 * const words = Embedder.fromFunction("words", (texts) => texts.map((t) => [t.split(" ").length]))
 * const program = Embedder.embed(["one two", "three"]).pipe(
 *   Effect.provide(Embedder.layer({ model: "words" }).pipe(Layer.provide([Embedder.providers(words), Cache.layerMemory()])))
 * )
 * const vectors = await Effect.runPromise(program) // [Float32Array [2], Float32Array [1]]
 * ```
 */
export const embed = (
  texts: ReadonlyArray<string>,
  options?: EmbedOptions
): Effect.Effect<ReadonlyArray<Float32Array>, LMError, Embedder> => Embedder.use((e) => e.embed(texts, options))

/** What an embedding function may return: one vector per text, as numbers or float32, directly or later. */
export type FunctionResult =
  | ReadonlyArray<ArrayLike<number>>
  | Promise<ReadonlyArray<ArrayLike<number>>>
  | Effect.Effect<ReadonlyArray<ArrayLike<number>>, LMError>

/**
 * An embedding provider over a function of your own (DSPy's `Embedder(callable)`: a local model, a
 * server DSPex has no provider for). It serves the model ids `"<name>"` and `"<name>/<anything>"`. The
 * function gets one batch of texts and returns one vector per text, as an array, a Promise or an Effect;
 * a thrown error or rejected Promise is a retryable `LMError.LMProviderError`, an Effect may fail with
 * any LM error (so it decides what is retried), and a wrong number of vectors or a non-finite number is
 * an `LMError.LMMalformedResponse`. Cached vectors are keyed by the function's source text, as DSPy keys
 * a callable, so editing the function never serves vectors of the old one.
 *
 * @example
 * ```ts
 * import { Cache, Embedder } from "@dspex/core"
 * import { Effect, Layer } from "effect"
 *
 * // Two features per text: a toy, but any local model fits here.
 * const shape = Embedder.fromFunction("shape", (texts) => texts.map((t) => [t.length, t.split(/\s+/).length]))
 * const EmbedderLive = Embedder.layer({ model: "shape", batchSize: 32 }).pipe(
 *   Layer.provide([Embedder.providers(shape), Cache.layerMemory()])
 * )
 * const vectors = await Effect.runPromise(Embedder.embed(["a b c"]).pipe(Effect.provide(EmbedderLive))) // [Float32Array [5, 3]]
 * ```
 */
export const fromFunction = (
  name: string,
  f: (texts: ReadonlyArray<string>, request: EmbeddingRequest) => FunctionResult
): EmbeddingProvider => {
  if (name === "" || name.includes("/")) {
    throw new LMConfigurationError({
      provider: name,
      detail: `an embedding function's name is a model prefix, so it cannot be empty or contain "/" (got ${
        JSON.stringify(name)
      })`,
      fix: "Name it like a provider, e.g. Embedder.fromFunction(\"local\", f), and use the model \"local\""
    })
  }
  return functionProvider(name, f, callableKey(f))
}

/**
 * Cosine similarity of two vectors of the same length (0 when either is all zeros): how KNNFewShot and
 * retrievers rank neighbours.
 *
 * @example
 * ```ts
 * import { Embedder } from "@dspex/core"
 *
 * Embedder.cosine(new Float32Array([1, 0]), new Float32Array([1, 1])) // ≈ 0.7071
 * ```
 */
export const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const n = Math.min(a.length, b.length)
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < n; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}
