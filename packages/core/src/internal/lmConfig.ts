/**
 * The LanguageModel runtime's settings: layer options first, then the environment (Config), then
 * defaults. Per-provider limits may also come from `DSPEX_LM_<PROVIDER>_MAX_CONCURRENCY`,
 * `..._REQUESTS_PER_MINUTE` and `..._TIMEOUT_MS` (provider name upper-cased, non-alphanumerics as `_`).
 */
import { Config, Effect, Option } from "effect"
import type { LanguageModelOptions, ProviderOptions } from "../LanguageModel.ts"
import type { ProviderLimits } from "./lmLimits.ts"

export interface ResolvedSettings {
  readonly numRetries: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
  readonly historySize: number
  readonly limitsOf: (provider: string) => ProviderLimits & { readonly timeoutMs: number }
}

export const defaults = {
  timeoutMs: 60_000,
  maxConcurrency: 64,
  numRetries: 3,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  historySize: 1000
} as const

const optionalNumber = (name: string) => Effect.map(Config.option(Config.Number(name)), Option.getOrUndefined)

const envName = (provider: string) => provider.toUpperCase().replace(/[^A-Z0-9]/g, "_")

/** Reads the settings for a runtime over `providerNames`. */
export const resolveSettings = (options: LanguageModelOptions, providerNames: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const env = {
      timeoutMs: yield* optionalNumber("DSPEX_LM_TIMEOUT_MS"),
      maxConcurrency: yield* optionalNumber("DSPEX_LM_MAX_CONCURRENCY"),
      requestsPerMinute: yield* optionalNumber("DSPEX_LM_REQUESTS_PER_MINUTE"),
      numRetries: yield* optionalNumber("DSPEX_LM_NUM_RETRIES"),
      historySize: yield* optionalNumber("DSPEX_LM_HISTORY_SIZE")
    }
    const perProviderEnv = new Map<string, ProviderOptions>()
    for (const name of providerNames) {
      const prefix = `DSPEX_LM_${envName(name)}_`
      perProviderEnv.set(name, {
        maxConcurrency: yield* optionalNumber(`${prefix}MAX_CONCURRENCY`),
        requestsPerMinute: yield* optionalNumber(`${prefix}REQUESTS_PER_MINUTE`),
        timeoutMs: yield* optionalNumber(`${prefix}TIMEOUT_MS`)
      })
    }
    const base = {
      timeoutMs: options.timeoutMs ?? env.timeoutMs ?? defaults.timeoutMs,
      maxConcurrency: options.maxConcurrency ?? env.maxConcurrency ?? defaults.maxConcurrency,
      requestsPerMinute: options.requestsPerMinute ?? env.requestsPerMinute
    }
    const cache = new Map<string, ProviderLimits & { readonly timeoutMs: number }>()
    const limitsOf = (provider: string) => {
      let l = cache.get(provider)
      if (l === undefined) {
        const o = options.providers?.[provider]
        const e = perProviderEnv.get(provider)
        l = {
          timeoutMs: o?.timeoutMs ?? e?.timeoutMs ?? base.timeoutMs,
          maxConcurrency: o?.maxConcurrency ?? e?.maxConcurrency ?? base.maxConcurrency,
          requestsPerMinute: o?.requestsPerMinute ?? e?.requestsPerMinute ?? base.requestsPerMinute
        }
        cache.set(provider, l)
      }
      return l
    }
    const settings: ResolvedSettings = {
      numRetries: options.numRetries ?? env.numRetries ?? defaults.numRetries,
      retryBaseDelayMs: options.retryBaseDelayMs ?? defaults.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? defaults.retryMaxDelayMs,
      historySize: options.historySize ?? env.historySize ?? defaults.historySize,
      limitsOf
    }
    return settings
  })
