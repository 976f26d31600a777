import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { OpenAiCompatible } from "../src/index.ts"
import { closedPort, failureOf, request, secretKey, Simulator } from "./support.ts"

type Sim = Simulator.Simulator
let sim: Sim
const auth: Array<string | undefined> = []
const bodies: Array<Record<string, unknown>> = []

beforeAll(async () => {
  sim = await Simulator.start({
    answers: (req) => {
      auth.push(req.headers.authorization)
      bodies.push({ ...req.body })
      return undefined
    }
  })
})
afterAll(() => sim.close())

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("OpenAiCompatible.provider", () => {
  it.live("answers through any OpenAI-compatible base URL, without a key", () =>
    Effect.gen(function*() {
      const p = yield* OpenAiCompatible.provider({ name: "ollama", baseURL: sim.openaiBaseUrl })
      const r = yield* p.complete(request("llama3.2"))
      expect(p.name).toBe("ollama")
      expect(r.outputs[0]!.text).toContain("Paris")
      expect(r.usage.totalTokens).toBeGreaterThan(0)
      expect(r.cost).toBeUndefined()
      expect(p.capabilities("llama3.2")).toEqual({ structuredOutputs: false, jsonObject: false, tools: false })
    }))

  it.live("sends the given key and capabilities overrides; never OpenAI's reasoning rules", () =>
    Effect.gen(function*() {
      auth.length = 0
      bodies.length = 0
      const p = yield* OpenAiCompatible.provider({
        name: "vllm",
        baseURL: sim.openaiBaseUrl,
        apiKey: Redacted.make("sk-local-key"),
        capabilities: { structuredOutputs: true, contextWindow: 32_000 }
      })
      yield* p.complete(request("o3-mini", { maxTokens: 50, temperature: 0 }))
      expect(auth[0]).toBe("Bearer sk-local-key")
      expect(bodies[0]!.max_tokens).toBe(50)
      expect(bodies[0]!.max_completion_tokens).toBeUndefined()
      expect(bodies[0]!.temperature).toBe(0)
      expect(p.capabilities("any")).toEqual({
        structuredOutputs: true,
        jsonObject: false,
        tools: false,
        contextWindow: 32_000
      })
    }))

  it.live("an unreachable server → LMProviderError transport naming the base URL", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const baseURL = `http://127.0.0.1:${port}/v1`
      const p = yield* OpenAiCompatible.provider({ name: "llamacpp", baseURL, apiKey: Redacted.make(secretKey) })
      const e = yield* failureOf(p.complete(request("qwen")))
      expect(e._tag).toBe("LMProviderError")
      expect((e as { transport?: boolean }).transport).toBe(true)
      expect((e as { provider: string }).provider).toBe("llamacpp")
      expect((e as { detail: string }).detail).toContain(baseURL)
      expect(JSON.stringify(e) + e.message).not.toContain(secretKey)
    }))
})

describe("OpenAiCompatible presets", () => {
  it.live("ollama reads OLLAMA_BASE_URL from config", () =>
    Effect.gen(function*() {
      const p = yield* OpenAiCompatible.ollama().pipe(withEnv({ OLLAMA_BASE_URL: sim.openaiBaseUrl }))
      expect(p.name).toBe("ollama")
      expect(p.capabilities("llama3.2")).toMatchObject({ structuredOutputs: true, jsonObject: true, tools: true })
      const r = yield* p.complete(request("llama3.2"))
      expect(r.outputs[0]!.text).toContain("Paris")
    }))

  it.live("vllm and llamacpp take their base URL from config; options override the name", () =>
    Effect.gen(function*() {
      const v = yield* OpenAiCompatible.vllm({ name: "gpu" }).pipe(withEnv({ VLLM_BASE_URL: sim.openaiBaseUrl }))
      expect(v.name).toBe("gpu")
      expect((yield* v.complete(request("meta-llama/Llama-3.1-8B"))).outputs).toHaveLength(1)
      const l = yield* OpenAiCompatible.llamacpp().pipe(withEnv({ LLAMACPP_BASE_URL: sim.openaiBaseUrl }))
      expect((yield* l.complete(request("qwen"))).outputs).toHaveLength(1)
    }))

  it.live("gemini needs GEMINI_API_KEY, sends it as the bearer key and prices with Google's catalogue", () =>
    Effect.gen(function*() {
      const missing = yield* failureOf(OpenAiCompatible.gemini().pipe(withEnv({})))
      expect(missing).toMatchObject({ _tag: "LMConfigurationError", provider: "gemini", variable: "GEMINI_API_KEY" })
      expect(missing.suggestion).toContain("OpenAiCompatible.gemini")
      const badUrl = yield* failureOf(OpenAiCompatible.provider({ name: "local", baseURL: "not a url" }))
      expect(badUrl).toMatchObject({ _tag: "LMConfigurationError", provider: "local" })
      auth.length = 0
      const g = yield* OpenAiCompatible.gemini().pipe(
        withEnv({ GEMINI_API_KEY: "AIza-gemini-test", GEMINI_BASE_URL: sim.openaiBaseUrl })
      )
      const r = yield* g.complete(request("gemini-2.5-flash"))
      expect(g.name).toBe("gemini")
      expect(auth[0]).toBe("Bearer AIza-gemini-test")
      expect(r.cost).toBeGreaterThan(0)
      expect(g.capabilities("gemini-2.5-flash").contextWindow).toBeGreaterThan(100_000)
    }))
})
