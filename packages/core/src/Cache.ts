/**
 * The LM response cache (DSPy's `dspy.cache`): a service keyed by `cacheKey(request)` holding serialisable
 * `LMResponse`s. Layers: an in-memory LRU (`layerMemory`), a persistent SQLite file (`layerDisk`), both
 * tiered (`layerTiered`: memory in front of disk, a disk hit promoted, writes go to both), none
 * (`layerNone`), or one of these chosen by the environment (`layerConfig`). Being a service, a
 * cluster-wide store (NATS KV) can later take the disk layer's place, or sit behind it with `tiered`.
 *
 * Entries are immutable: the cache stores a frozen copy, so neither the writer nor any reader can change
 * what later callers get. A cache never fails a call because of its storage: storage errors are logged and
 * count as misses. The one exception is a disk cache on a Node without node:sqlite, which fails every call
 * with an LMConfigurationError saying so (no cache was asked for silently turning into none).
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { homedir } from "node:os"
import { join } from "node:path"
import { type DiskStore, openDiskStore } from "./internal/cacheDisk.ts"
import { cacheKeyOf, dspyKwargs, namespacedKey as namespaced } from "./internal/cacheKey.ts"
import { optionalChoice, optionalNumber, optionalString } from "./internal/envConfig.ts"
import { Lru } from "./internal/lru.ts"
import type { LMRequest, LMResponse } from "./LanguageModel.ts"
import { LMConfigurationError } from "./LMError.ts"

export interface CacheShape {
  readonly get: (key: string) => Effect.Effect<Option.Option<LMResponse>, LMConfigurationError>
  readonly set: (key: string, value: LMResponse) => Effect.Effect<void, LMConfigurationError>
}

/** A request with its model, the unit the cache key is computed over. */
export interface CacheKeyRequest extends Omit<LMRequest, "cache"> {
  /** "provider/model", prefix included: the same model name under two providers is two entries. */
  readonly model: string
}

export interface MemoryOptions {
  /** LRU capacity; default 100_000 entries. */
  readonly maxEntries?: number | undefined
}

export interface DiskOptions {
  /** Directory holding the cache database (`dspex-cache.sqlite`); created when absent. */
  readonly path: string
}

export const defaultMaxEntries = 100_000
export const defaultDirectory = (): string => join(homedir(), ".dspex", "cache")

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const k of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[k])
  }
  return value
}

/**
 * A deeply frozen copy (or the value itself when it is already frozen, e.g. read back from another tier):
 * what every store keeps, so no caller can change what later callers get.
 *
 * @example
 * ```ts
 * import { Cache, type LanguageModel } from "@dspex/core"
 *
 * const response: LanguageModel.LMResponse = {
 *   outputs: [{ text: "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]" }],
 *   usage: { promptTokens: 120, completionTokens: 12, totalTokens: 132 },
 *   model: "openai/gpt-4o-mini",
 *   cacheHit: false
 * }
 * const entry = Cache.immutableCopy(response)
 * Object.isFrozen(entry.outputs[0]) // true (`response` itself is left as it was)
 * ```
 */
export const immutableCopy = (
  value: LMResponse
): LMResponse => (Object.isFrozen(value) ? value : deepFreeze(structuredClone(value)))

/**
 * An LRU memory store (synchronous; the building block of `layerMemory` and `layerTiered`).
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const store = Cache.makeMemory({ maxEntries: 1000 }) // beyond 1000, the least recently used entry goes
 * const entry = await Effect.runPromise(store.get("no-such-key")) // Option.none()
 * ```
 */
export const makeMemory = (options: MemoryOptions = {}): CacheShape => {
  const lru = new Lru<string, LMResponse>(options.maxEntries ?? defaultMaxEntries)
  return {
    get: (key) => Effect.sync(() => Option.fromUndefinedOr(lru.get(key))),
    set: (key, value) => Effect.sync(() => lru.set(key, immutableCopy(value)))
  }
}

/** A store that never holds anything (caching off). */
export const noneShape: CacheShape = {
  get: () => Effect.succeedNone,
  set: () => Effect.void
}

/**
 * `front` first, then `back`; a `back` hit is promoted into `front`; writes go to both.
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 * import { Layer } from "effect"
 *
 * const shared = Cache.makeMemory() // stands in for a cluster-wide store (a NATS KV, say)
 * const store = Cache.tiered(Cache.makeMemory({ maxEntries: 1000 }), shared) // a hit in `shared` is copied in front
 * const CacheLive = Layer.succeed(Cache.Cache, store)
 * ```
 */
export const tiered = (front: CacheShape, back: CacheShape): CacheShape => ({
  get: (key) =>
    Effect.flatMap(front.get(key), (hit) =>
      Option.isSome(hit)
        ? Effect.succeed(hit)
        : Effect.tap(
          back.get(key),
          (promoted) => (Option.isSome(promoted) ? front.set(key, promoted.value) : Effect.void)
        )),
  set: (key, value) => Effect.andThen(front.set(key, value), back.set(key, value))
})

/**
 * A SQLite store under `options.path`, opened on first use and closed with the scope. When the path is
 * unusable (read-only, not a directory), a warning is logged once and `fallback` serves instead, as DSPy
 * falls back to memory-only. On a Node without node:sqlite, every use fails with an LMConfigurationError
 * naming the requirement.
 */
export const makeDisk = (options: DiskOptions, fallback: CacheShape): Effect.Effect<CacheShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    let state:
      | { readonly _tag: "closed" }
      | { readonly _tag: "open"; readonly store: DiskStore }
      | { readonly _tag: "failed" }
      | { readonly _tag: "unavailable"; readonly error: LMConfigurationError } = { _tag: "closed" }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (state._tag === "open") state.store.close()
        state = { _tag: "failed" }
      })
    )
    const store = Effect.suspend((): Effect.Effect<DiskStore | undefined, LMConfigurationError> => {
      if (state._tag === "open") return Effect.succeed(state.store)
      if (state._tag === "failed") return Effect.succeed(undefined)
      if (state._tag === "unavailable") return Effect.fail(state.error)
      try {
        const opened = openDiskStore(options.path)
        state = { _tag: "open", store: opened }
        return Effect.succeed(opened)
      } catch (e) {
        if (e instanceof LMConfigurationError) {
          state = { _tag: "unavailable", error: e }
          return Effect.fail(e)
        }
        state = { _tag: "failed" }
        return Effect.as(
          Effect.logWarning(
            `DSPex disk cache unusable at ${options.path} (${String(e)}); using the memory cache only.`
          ),
          undefined
        )
      }
    })
    const warn = (what: string, e: unknown) => Effect.logWarning(`DSPex disk cache ${what} failed: ${String(e)}`)
    return {
      get: (key) =>
        Effect.flatMap(store, (s) => {
          if (s === undefined) return fallback.get(key)
          try {
            const json = s.get(key)
            return Effect.succeed(
              json === undefined ? Option.none() : Option.some(deepFreeze(JSON.parse(json) as LMResponse))
            )
          } catch (e) {
            return Effect.as(warn("read", e), Option.none())
          }
        }),
      set: (key, value) =>
        Effect.flatMap(store, (s) => {
          if (s === undefined) return fallback.set(key, value)
          try {
            s.set(key, JSON.stringify(value))
            return Effect.void
          } catch (e) {
            return warn("write", e)
          }
        })
    }
  })

export class Cache extends Context.Service<Cache, CacheShape>()("@dspex/core/Cache") {}

/**
 * The cache key of a request, as DSPy computes it: same request, same key, whatever the order of object
 * keys; any change to messages or settings gives another key. The API key, base URL, num_retries and the
 * cache flag are never part of it; `rolloutId` is. The LanguageModel runtime stores an answer under this
 * key namespaced by the endpoint that gave it (see `namespacedKey`).
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 *
 * Cache.cacheKey({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }], temperature: 0 })
 * // => a SHA-256 in 64 hex chars; the same for the same request, whatever the order of its object keys
 * ```
 */
export const cacheKey = (request: CacheKeyRequest): string =>
  cacheKeyOf(request.model, request.messages, dspyKwargs(request))

/**
 * The key the LanguageModel runtime stores an answer under: DSPy's key (`cacheKey`) prefixed by the
 * provider's endpoint (`Provider.endpoint`, its base URL), so the same model name served by two endpoints
 * (a local vLLM and OpenAI, two Ollama hosts) never shares answers. DSPy keys by the request alone.
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 *
 * const request = { model: "openai/gpt-4o-mini", messages: [{ role: "user" as const, content: "hi" }], temperature: 0 }
 * const stored = Cache.namespacedKey("https://api.openai.com/v1", Cache.cacheKey(request)) // "https://api.openai.com/v1 <key>"
 * const entry = Cache.Cache.use((cache) => cache.get(stored)) // an Effect of Option<LMResponse>, needing the Cache
 * ```
 */
export const namespacedKey = (endpoint: string | undefined, key: string): string => namespaced(endpoint, key)

/**
 * An in-memory LRU cache (default 100_000 entries), lost when the process ends.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([OpenAi.layer(), Cache.layerMemory({ maxEntries: 10_000 })]))
 * ```
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<Cache> =>
  Layer.sync(Cache, () => makeMemory(options))

/**
 * A persistent cache in `<path>/dspex-cache.sqlite` alone (no memory tier); memory-only when the path is
 * unusable.
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 *
 * const DiskCache = Cache.layerDisk({ path: "/var/cache/dspex" }) // /var/cache/dspex/dspex-cache.sqlite
 * ```
 */
export const layerDisk = (options: DiskOptions): Layer.Layer<Cache> =>
  Layer.effect(Cache, Effect.suspend(() => makeDisk(options, makeMemory())))

/**
 * DSPy's default: memory in front of disk, a disk hit promoted into memory, writes to both.
 *
 * @example
 * ```ts
 * import { Cache } from "@dspex/core"
 * import { homedir } from "node:os"
 *
 * const DspyDefault = Cache.layerTiered({ maxEntries: 100_000 }, { path: `${homedir()}/.dspex/cache` })
 * ```
 */
export const layerTiered = (memoryOptions: MemoryOptions, diskOptions: DiskOptions): Layer.Layer<Cache> =>
  Layer.effect(
    Cache,
    Effect.suspend(() => {
      const front = makeMemory(memoryOptions)
      return Effect.map(makeDisk(diskOptions, noneShape), (back) => tiered(front, back))
    })
  )

/** No caching at all: every call reaches the provider. */
export const layerNone: Layer.Layer<Cache> = Layer.succeed(Cache, noneShape)

/**
 * The cache configured from the environment: `DSPEX_CACHE=off` disables it, `DSPEX_CACHE=memory` keeps it
 * in memory only; otherwise memory (`DSPEX_CACHE_MEMORY_ENTRIES`, default 100_000) in front of disk at
 * `DSPEX_CACHE_DIR` (default `~/.dspex/cache`).
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, Providers } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * // an invalid DSPEX_CACHE or DSPEX_CACHE_MEMORY_ENTRIES fails the layer with LMConfigurationError
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([Cache.layerConfig, Providers.layer(OpenAi.provider())]))
 * ```
 */
export const layerConfig: Layer.Layer<Cache, LMConfigurationError> = Layer.unwrap(
  Effect.gen(function*() {
    const mode = (yield* optionalChoice("DSPEX_CACHE", ["on", "off", "memory", "true", "false", "1", "0"])) ?? "on"
    const directory = (yield* optionalString("DSPEX_CACHE_DIR")) ?? ""
    const maxEntries = (yield* optionalNumber("DSPEX_CACHE_MEMORY_ENTRIES", {
      integer: true,
      min: 1,
      expected: "a whole number of entries of at least 1, e.g. 100000"
    })) ?? defaultMaxEntries
    if (mode === "off" || mode === "false" || mode === "0") return layerNone
    if (mode === "memory") return layerMemory({ maxEntries })
    return layerTiered({ maxEntries }, { path: directory === "" ? defaultDirectory() : directory })
  })
)
