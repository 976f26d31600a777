/** The LM stack optimizer tests run on: the real OpenAI provider over HTTP to the simulator, a local Executor. */
import { Cache, Executor, LanguageModel, Providers } from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { Simulator } from "@dspex/simulator"
import { Effect, Layer, Redacted } from "effect"

export const simulator = (options: Simulator.SimulatorOptions = {}) =>
  Effect.acquireRelease(Effect.promise(() => Simulator.start(options)), (s) => Effect.promise(() => s.close()))

export const stack = (
  sim: Simulator.Simulator,
  options: { readonly cache?: Layer.Layer<Cache.Cache>; readonly threads?: number } = {}
) =>
  Layer.mergeAll(
    LanguageModel.layer({ retryBaseDelayMs: 10, retryMaxDelayMs: 100 }).pipe(
      Layer.provide([
        Providers.layer(OpenAi.provider({ apiKey: Redacted.make("sk-optimizer-tests"), baseURL: sim.openaiBaseUrl })),
        options.cache ?? Cache.layerNone
      ])
    ),
    Executor.layerLocal({ concurrency: options.threads ?? 8 })
  )
