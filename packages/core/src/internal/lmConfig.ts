/**
 * The LanguageModel runtime's settings: layer options first, then the environment (Config), then
 * defaults. Per-provider limits may also come from `DSPEX_LM_<PROVIDER>_MAX_CONCURRENCY`,
 * `..._REQUESTS_PER_MINUTE` and `..._TIMEOUT_MS` (provider name upper-cased, non-alphanumerics as `_`).
 */
import { Effect } from "effect"
import type { LanguageModelOptions, ProviderOptions } from "../LanguageModel.ts"
import type { LMConfigurationError } from "../LMError.ts"
import { type NumberRule, optionalNumber } from "./envConfig.ts"
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

const rules = {
  timeoutMs: { min: 1, expected: "a timeout in milliseconds, e.g. 60000" },
  maxConcurrency: { integer: true, min: 1, expected: "a whole number of requests of at least 1, e.g. 64" },
  requestsPerMinute: { min: 0, expected: "requests per minute (0 for unlimited), e.g. 500" },
  numRetries: { integer: true, min: 0, expected: "a whole number of retries, e.g. 3" },
  historySize: { integer: true, min: 0, expected: "a whole number of history entries, e.g. 1000" }
} satisfies Record<string, NumberRule>

const envName = (provider: string) => provider.toUpperCase().replace(/[^A-Z0-9]/g, "_")

/** Reads the settings for a runtime over `providerNames`. */
export const resolveSettings = (
  options: LanguageModelOptions,
  providerNames: ReadonlyArray<string>
): Effect.Effect<ResolvedSettings, LMConfigurationError> =>
  Effect.gen(function*() {
    const env = {
      timeoutMs: yield* optionalNumber("DSPEX_LM_TIMEOUT_MS", rules.timeoutMs),
      maxConcurrency: yield* optionalNumber("DSPEX_LM_MAX_CONCURRENCY", rules.maxConcurrency),
      requestsPerMinute: yield* optionalNumber("DSPEX_LM_REQUESTS_PER_MINUTE", rules.requestsPerMinute),
      numRetries: yield* optionalNumber("DSPEX_LM_NUM_RETRIES", rules.numRetries),
      historySize: yield* optionalNumber("DSPEX_LM_HISTORY_SIZE", rules.historySize)
    }
    const perProviderEnv = new Map<string, ProviderOptions>()
    for (const name of providerNames) {
      const prefix = `DSPEX_LM_${envName(name)}_`
      perProviderEnv.set(name, {
        maxConcurrency: yield* optionalNumber(`${prefix}MAX_CONCURRENCY`, rules.maxConcurrency),
        requestsPerMinute: yield* optionalNumber(`${prefix}REQUESTS_PER_MINUTE`, rules.requestsPerMinute),
        timeoutMs: yield* optionalNumber(`${prefix}TIMEOUT_MS`, rules.timeoutMs)
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
