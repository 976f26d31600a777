/**
 * The providers under DSPex's LanguageModel service (cache, retries, limits) via `Providers` layers,
 * against the simulator over HTTP.
 */
import { Cache, LanguageModel, LM, Providers } from "@dspex/core"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { LanguageModel as AiLanguageModel } from "effect/ai"
import { Anthropic, EffectAi, OpenAi } from "../src/index.ts"
import { goodKey, qa, secretKey, Simulator } from "./support.ts"

type Sim = Simulator.Simulator
let sim: Sim

beforeAll(async () => {
  // A short retry-after keeps the retry test fast while still exercising the header.
  sim = await Simulator.start({ faults: { retryAfterSeconds: 0.05 } })
})
afterAll(() => sim.close())

const lmLayer = <E>(providers: Layer.Layer<Providers.Providers, E>) =>
  LanguageModel.layer({ retryBaseDelayMs: 10, retryMaxDelayMs: 100 }).pipe(
    Layer.provide([providers, Cache.layerMemory()])
  )

const ask: LanguageModel.LMRequest = { messages: qa("What is the capital of France?") }
const generate = (model: string, request: LanguageModel.LMRequest = ask) =>
  LanguageModel.LanguageModel.use((lm) => lm.generate(LM.make(model), request))

describe("providers under LanguageModel.layer", () => {
  it.live("an injected 429 is retried after retry-after, then the answer is cached", () =>
    Effect.gen(function*() {
      sim.resetStats()
      const first = yield* generate("openai/gpt-4o-mini")
      expect(first.outputs[0]!.text).toContain("Paris")
      expect(first.cacheHit).toBe(false)
      expect(first.model).toBe("openai/gpt-4o-mini")
      expect(first.requestId).toMatch(/.+/)
      expect(sim.stats().faults["429"]).toBe(1)
      expect(sim.stats().totalRequests).toBe(2)
      const history = yield* LanguageModel.LanguageModel.use((lm) => Effect.succeed(lm.history()))
      expect(history.at(-1)!.retries).toBe(1)

      const again = yield* generate("openai/gpt-4o-mini")
      expect(again.cacheHit).toBe(true)
      expect(sim.stats().totalRequests).toBe(2)
    }).pipe(
      Effect.provide(lmLayer(OpenAi.layer({
        apiKey: Redacted.make(goodKey),
        baseURL: sim.openaiBaseUrl,
        headers: { "x-sim-fault-once": "lm-retry-openai:429" }
      })))
    ))

  it.live("one Providers layer routes openai/ and anthropic/ models to their providers", () =>
    Effect.gen(function*() {
      const o = yield* generate("openai/gpt-4o-mini", { messages: qa("What is 2 + 3?") })
      const a = yield* generate("anthropic/claude-haiku-4-5", { messages: qa("What is 2 + 3?") })
      expect(o.outputs[0]!.text).toContain("5")
      expect(a.outputs[0]!.text).toContain("5")
      expect(a.responseModel).toBe("claude-haiku-4-5")
      expect(a.cost).toBeGreaterThan(0)
    }).pipe(
      Effect.provide(lmLayer(Providers.layer(
        OpenAi.provider({ apiKey: Redacted.make(goodKey), baseURL: sim.openaiBaseUrl }),
        Anthropic.provider({ apiKey: Redacted.make(goodKey), baseURL: sim.anthropicBaseUrl })
      )))
    ))

  it.live("a non-retryable auth error is not retried and keeps the key out of the error", () =>
    Effect.gen(function*() {
      sim.resetStats()
      const e = yield* Effect.flip(generate("openai/gpt-4o-mini"))
      expect(e._tag).toBe("LMAuthError")
      expect(JSON.stringify(e) + e.message).not.toContain(secretKey)
      expect(sim.stats().totalRequests).toBe(1)
    }).pipe(Effect.provide(lmLayer(OpenAi.layer({ apiKey: Redacted.make(secretKey), baseURL: sim.openaiBaseUrl })))))

  it.live("EffectAi.layer plugs an effect/ai model in without an outer Scope", () => {
    const staticModel = Layer.effect(
      AiLanguageModel.LanguageModel,
      AiLanguageModel.make({
        generateText: () =>
          Effect.succeed([
            { type: "text", text: "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]" },
            { type: "finish", reason: "stop", usage: { inputTokens: { total: 12 }, outputTokens: { total: 3 } } }
          ]),
        streamText: () => Stream.empty
      })
    )
    return Effect.gen(function*() {
      const r = yield* generate("fixed/any-model")
      expect(r.outputs[0]!.text).toContain("Paris")
      expect(r.usage.totalTokens).toBe(15)
    }).pipe(Effect.provide(lmLayer(EffectAi.layer("fixed", staticModel))))
  })
})
