/**
 * Shared set-up for end-to-end tests: a simulated provider on a free port and the real provider layers
 * pointed at it, so every test goes through the official SDK clients over HTTP.
 */
import { Cache, Executor, LanguageModel, Providers } from "@dspex/core"
import { Anthropic, OpenAi } from "@dspex/providers"
import { Simulator } from "@dspex/simulator"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const apiKey = "sk-e2e-DSPEX-KEY-5c1a7e"

/** A simulator for one test, closed when the test's scope ends. */
export const simulator = (options: Simulator.SimulatorOptions = {}) =>
  Effect.acquireRelease(Effect.promise(() => Simulator.start(options)), (s) => Effect.promise(() => s.close()))

export interface StackOptions {
  readonly lm?: LanguageModel.LanguageModelOptions
  readonly cache?: Layer.Layer<Cache.Cache> | undefined
  readonly headers?: Record<string, string>
  readonly key?: string
  readonly openaiBaseUrl?: string
  readonly threads?: number
}

/** LanguageModel (OpenAI + Anthropic providers over HTTP to the simulator) and a local Executor. */
export const stack = (sim: Simulator.Simulator, options: StackOptions = {}) => {
  const apiKeyRedacted = Redacted.make(options.key ?? apiKey)
  const headers = options.headers === undefined ? {} : { headers: options.headers }
  const providers = Providers.layer(
    OpenAi.provider({ apiKey: apiKeyRedacted, baseURL: options.openaiBaseUrl ?? sim.openaiBaseUrl, ...headers }),
    Anthropic.provider({ apiKey: apiKeyRedacted, baseURL: sim.anthropicBaseUrl, ...headers })
  )
  return Layer.mergeAll(
    LanguageModel.layer({ retryBaseDelayMs: 10, retryMaxDelayMs: 200, ...options.lm }).pipe(
      Layer.provide([providers, options.cache ?? Cache.layerMemory()])
    ),
    Executor.layerLocal({ concurrency: options.threads ?? 8 })
  )
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))
