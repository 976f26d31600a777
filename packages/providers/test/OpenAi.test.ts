import { type LanguageModel, LMError } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { OpenAi } from "../src/index.ts"
import {
  calculator,
  closedPort,
  errorText,
  failureOf,
  goodKey,
  qa,
  recordingSimulator,
  request,
  secretKey
} from "./support.ts"

const recorded = recordingSimulator()
const bodies = recorded.bodies

const openai = (headers?: Record<string, string>, apiKey = goodKey) =>
  OpenAi.provider({
    apiKey: Redacted.make(apiKey),
    baseURL: recorded.sim.openaiBaseUrl,
    ...(headers === undefined ? {} : { headers })
  })

const complete = (provider: LanguageModel.Provider, ...args: Parameters<typeof request>) =>
  provider.complete(request(...args))

describe("OpenAi.provider", () => {
  it.live("answers a DSPy ChatAdapter prompt with usage, request id, response model and cost", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      const r = yield* complete(p, "gpt-4o-mini")
      expect(p.name).toBe("openai")
      expect(r.outputs).toHaveLength(1)
      expect(r.outputs[0]!.text).toBe("[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]")
      expect(r.outputs[0]!.finishReason).toBe("stop")
      expect(r.usage.promptTokens).toBeGreaterThan(0)
      expect(r.usage.totalTokens).toBe(r.usage.promptTokens + r.usage.completionTokens)
      expect(r.requestId).toMatch(/.+/)
      expect(r.responseModel).toBe("gpt-4o-mini")
      expect(r.cost).toBeGreaterThan(0)
    }))

  it.live("returns n choices for n > 1", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      const r = yield* complete(p, "gpt-4o-mini", { n: 3, temperature: 0.7, messages: qa("What is 2 + 3?") })
      expect(r.outputs).toHaveLength(3)
      for (const o of r.outputs) expect(o.text).toContain("5")
    }))

  it.live("sends a json_schema response_format and returns the JSON text", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      const schema = {
        type: "object",
        properties: { answer: { type: "string" } },
        required: ["answer"],
        additionalProperties: false
      }
      const r = yield* complete(p, "gpt-4o-mini", {
        responseFormat: { type: "json_schema", json_schema: { name: "output", schema, strict: true } }
      })
      expect(JSON.parse(r.outputs[0]!.text)).toEqual({ answer: "Paris" })
    }))

  it.live("maps tool calls", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      const r = yield* complete(p, "gpt-4o-mini", { messages: qa("What is 2 + 3?"), tools: [calculator] })
      const calls = r.outputs[0]!.toolCalls ?? []
      expect(calls).toHaveLength(1)
      expect(calls[0]!.name).toBe("calculator")
      expect(calls[0]!.id).toMatch(/.+/)
      expect(JSON.parse(calls[0]!.arguments)).toEqual({ expression: "2 + 3" })
      expect(r.outputs[0]!.finishReason).toBe("tool_calls")
    }))

  it.live("sends assistant tool calls and tool results back in OpenAI's shape", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      bodies.length = 0
      yield* complete(p, "gpt-4o-mini", {
        messages: [
          ...qa("What is 2 + 3?"),
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "call_1", name: "calculator", arguments: "{\"expression\":\"2 + 3\"}" }]
          },
          { role: "tool", content: "5", toolCallId: "call_1" },
          {
            role: "user",
            content: [{ type: "text", text: "And the capital of France?" }, {
              type: "image_url",
              image_url: { url: "data:image/png;base64,AAAA" }
            }]
          }
        ]
      })
      const messages = bodies[0]!.messages as Array<Record<string, unknown>>
      expect(messages[2]).toEqual({
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "calculator", arguments: "{\"expression\":\"2 + 3\"}" }
        }]
      })
      expect(messages[3]).toEqual({ role: "tool", tool_call_id: "call_1", content: "5" })
      expect(messages[4]!.content).toEqual([
        { type: "text", text: "And the capital of France?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }
      ])
    }))

  it.live("sends max_completion_tokens and temperature 1.0 to reasoning models, max_tokens otherwise; passes kwargs", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      bodies.length = 0
      yield* complete(p, "o4-mini", {
        temperature: 0,
        maxTokens: 20_000,
        kwargs: { seed: 7, api_key: "never-sent", rollout_id: 3 }
      })
      yield* complete(p, "gpt-4o-mini", { temperature: 0, maxTokens: 300, stop: ["\n\n[[ ## completed"] })
      const [reasoning, plain] = bodies
      expect(reasoning!.max_completion_tokens).toBe(20_000)
      expect(reasoning!.max_tokens).toBeUndefined()
      expect(reasoning!.temperature).toBe(1)
      expect(reasoning!.seed).toBe(7)
      expect(reasoning!.api_key).toBeUndefined()
      expect(reasoning!.rollout_id).toBeUndefined()
      expect(plain!.max_tokens).toBe(300)
      expect(plain!.max_completion_tokens).toBeUndefined()
      expect(plain!.temperature).toBe(0)
      expect(plain!.stop).toEqual(["\n\n[[ ## completed"])
    }))

  it("reports capabilities and cost from the price catalogue", () => {
    const p = Effect.runSync(OpenAi.provider({ apiKey: Redacted.make(goodKey), baseURL: "http://127.0.0.1:1/v1" }))
    expect(p.capabilities("gpt-4o-mini")).toMatchObject({
      structuredOutputs: true,
      jsonObject: true,
      tools: true,
      contextWindow: 128000
    })
    expect(p.cost?.("gpt-4o-mini", { promptTokens: 1_000_000, completionTokens: 0, totalTokens: 1_000_000 }))
      .toBeCloseTo(0.15)
    expect(p.cost?.("no-such-model-xyz", { promptTokens: 10, completionTokens: 10, totalTokens: 20 })).toBeUndefined()
  })

  it.effect("reads OPENAI_API_KEY and OPENAI_BASE_URL from config; a missing key or a bad URL is an LMConfigurationError naming the variable", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) =>
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
      const p = yield* OpenAi.provider().pipe(
        withEnv({ OPENAI_API_KEY: goodKey, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" })
      )
      const e = yield* failureOf(p.complete(request("gpt-4o-mini", { timeoutMs: 2_000 })))
      expect(e._tag).toBe("LMProviderError")
      expect((e as LMError.LMError & { detail: string }).detail).toContain("http://127.0.0.1:9/v1")
      const missing = yield* failureOf(OpenAi.provider().pipe(withEnv({})))
      expect(missing).toBeInstanceOf(LMError.LMConfigurationError)
      expect(missing).toBeInstanceOf(Error)
      expect(missing).toMatchObject({ provider: "openai", variable: "OPENAI_API_KEY", fatal: true, retryable: false })
      expect(missing.message).toContain("OPENAI_API_KEY is not set")
      expect(missing.suggestion).toContain("export OPENAI_API_KEY=")
      // An empty variable is as good as none.
      expect((yield* failureOf(OpenAi.provider().pipe(withEnv({ OPENAI_API_KEY: "" }))))._tag).toBe(
        "LMConfigurationError"
      )
      const badUrl = yield* failureOf(
        OpenAi.provider().pipe(withEnv({ OPENAI_API_KEY: goodKey, OPENAI_BASE_URL: "localhost:11434" }))
      )
      expect(badUrl).toMatchObject({ _tag: "LMConfigurationError", variable: "OPENAI_BASE_URL" })
      expect(badUrl.message).toContain("\"localhost:11434\" is not an http(s) URL")
    }))
})

describe("OpenAi errors", () => {
  const faultOf = (kind: string) =>
    Effect.gen(function*() {
      const p = yield* openai({ "x-sim-fault": kind })
      return yield* failureOf(complete(p, "gpt-4o-mini"))
    })

  it.live("429 → LMRateLimited with retry-after, status and request id", () =>
    Effect.gen(function*() {
      const e = yield* faultOf("429")
      expect(e._tag).toBe("LMRateLimited")
      if (e._tag !== "LMRateLimited") return
      expect(e.retryAfterMs).toBe(1000)
      expect(e.status).toBe(429)
      expect(e.requestId).toMatch(/.+/)
      expect(e.provider).toBe("openai")
      expect(e.model).toBe("gpt-4o-mini")
      expect(e.retryable).toBe(true)
    }))

  it.live("429 insufficient_quota → LMQuotaExceeded (not retryable)", () =>
    Effect.gen(function*() {
      const e = yield* faultOf("quota")
      expect(e._tag).toBe("LMQuotaExceeded")
      expect(e.retryable).toBe(false)
    }))

  it.live("400 context_length_exceeded → LMContextWindowExceeded", () =>
    Effect.gen(function*() {
      const e = yield* faultOf("context")
      expect(e._tag).toBe("LMContextWindowExceeded")
      expect((e as { status?: number }).status).toBe(400)
    }))

  it.live("500 and 503 → LMProviderError (not transport)", () =>
    Effect.gen(function*() {
      for (const [kind, status] of [["500", 500], ["overloaded", 503]] as const) {
        const e = yield* faultOf(kind)
        expect(e._tag).toBe("LMProviderError")
        if (e._tag !== "LMProviderError") return
        expect(e.status).toBe(status)
        expect(e.transport).not.toBe(true)
      }
    }))

  it.live("an unparseable 200 body and empty content → LMMalformedResponse", () =>
    Effect.gen(function*() {
      expect((yield* faultOf("malformed"))._tag).toBe("LMMalformedResponse")
      const empty = yield* faultOf("empty")
      expect(empty._tag).toBe("LMMalformedResponse")
      expect((empty as { detail: string }).detail).toContain("empty content")
      expect((empty as { requestId?: string }).requestId).toMatch(/.+/)
    }))

  it.live("a truncated answer comes back with finishReason length", () =>
    Effect.gen(function*() {
      const p = yield* openai({ "x-sim-fault": "truncated" })
      const r = yield* complete(p, "gpt-4o-mini")
      expect(r.outputs[0]!.finishReason).toBe("length")
      expect(r.outputs[0]!.text.length).toBeGreaterThan(0)
    }))

  it.live("a fault in the model name suffix is honoured (400 for a bad param → LMBadRequest)", () =>
    Effect.gen(function*() {
      const p = yield* openai()
      const e = yield* failureOf(complete(p, "gpt-4o-mini:fault=429"))
      expect(e._tag).toBe("LMRateLimited")
      const bad = yield* failureOf(complete(p, "gpt-4o-mini", { n: 500 }))
      expect(bad._tag).toBe("LMBadRequest")
      expect((bad as { param?: string }).param).toBe("n")
    }))

  it.live("a bad API key → LMAuthError that never contains the key", () =>
    Effect.gen(function*() {
      const p = yield* openai(undefined, secretKey)
      const e = yield* failureOf(complete(p, "gpt-4o-mini"))
      expect(e._tag).toBe("LMAuthError")
      expect(e.retryable).toBe(false)
      expect(errorText(e)).not.toContain(secretKey)
      expect(errorText(e)).not.toContain("DSPEX-SECRET")
    }))

  it.live("an unreachable base URL → LMProviderError transport naming the URL", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const baseURL = `http://127.0.0.1:${port}/v1`
      const p = yield* OpenAi.provider({ apiKey: Redacted.make(secretKey), baseURL })
      const e = yield* failureOf(complete(p, "gpt-4o-mini"))
      expect(e._tag).toBe("LMProviderError")
      if (e._tag !== "LMProviderError") return
      expect(e.transport).toBe(true)
      expect(e.detail).toContain(baseURL)
      expect(e.detail).toContain("ECONNREFUSED")
      expect(errorText(e)).not.toContain(secretKey)
    }))

  it.live("a hang → LMTimeout carrying the configured timeout", () =>
    Effect.gen(function*() {
      const p = yield* openai({ "x-sim-fault": "hang" })
      const e = yield* failureOf(complete(p, "gpt-4o-mini", { timeoutMs: 300 }))
      expect(e._tag).toBe("LMTimeout")
      if (e._tag !== "LMTimeout") return
      expect(e.timeoutMs).toBe(300)
      expect(e.retryable).toBe(true)
    }))
})
