import type { LanguageModel } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { Anthropic } from "../src/index.ts"
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
const model = "claude-haiku-4-5"

const anthropic = (headers?: Record<string, string>, apiKey = goodKey) =>
  Anthropic.provider({
    apiKey: Redacted.make(apiKey),
    baseURL: recorded.sim.anthropicBaseUrl,
    ...(headers === undefined ? {} : { headers })
  })

const complete = (provider: LanguageModel.Provider, ...args: Parameters<typeof request>) =>
  provider.complete(request(...args))

describe("Anthropic.provider", () => {
  it.live("answers with usage, request id (request-id header), response model and cost", () =>
    Effect.gen(function*() {
      const p = yield* anthropic()
      const r = yield* complete(p, model)
      expect(p.name).toBe("anthropic")
      expect(r.outputs).toEqual([{ text: "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", finishReason: "stop" }])
      expect(r.usage.promptTokens).toBeGreaterThan(0)
      expect(r.usage.completionTokens).toBeGreaterThan(0)
      expect(r.requestId).toMatch(/.+/)
      expect(r.responseModel).toBe(model)
      expect(r.cost).toBeGreaterThan(0)
    }))

  it.live("moves system messages to `system`, merges same-role turns and defaults max_tokens to 4096", () =>
    Effect.gen(function*() {
      const p = yield* anthropic()
      bodies.length = 0
      const [system, user] = qa("What is the capital of France?")
      yield* complete(p, model, {
        messages: [system!, { role: "user", content: "Context first." }, user!],
        stop: ["[[ ## completed"]
      })
      const body = bodies[0]!
      expect(body.system).toBe(system!.content)
      expect(body.max_tokens).toBe(4096)
      expect(body.stop_sequences).toEqual(["[[ ## completed"])
      const messages = body.messages as Array<{ role: string; content: unknown }>
      expect(messages).toHaveLength(1)
      expect(messages[0]!.role).toBe("user")
      expect(messages[0]!.content).toEqual([
        { type: "text", text: "Context first." },
        { type: "text", text: user!.content }
      ])
    }))

  it.live("runs n requests for n > 1 and sums their usage", () =>
    Effect.gen(function*() {
      const p = yield* anthropic()
      const single = yield* complete(p, model, { messages: qa("What is 2 + 3?") })
      recorded.sim.resetStats()
      const r = yield* complete(p, model, { n: 3, messages: qa("What is 2 + 3?") })
      expect(r.outputs).toHaveLength(3)
      for (const o of r.outputs) expect(o.text).toContain("5")
      expect(recorded.sim.stats().byRoute["POST /v1/messages"]).toBe(3)
      expect(r.usage.promptTokens).toBe(3 * single.usage.promptTokens)
    }))

  it.live("maps tool_use blocks to tool calls and sends tool results back as tool_result blocks", () =>
    Effect.gen(function*() {
      const p = yield* anthropic()
      const r = yield* complete(p, model, { messages: qa("What is 2 + 3?"), tools: [calculator] })
      const calls = r.outputs[0]!.toolCalls ?? []
      expect(calls.map((c) => c.name)).toEqual(["calculator"])
      expect(JSON.parse(calls[0]!.arguments)).toEqual({ expression: "2 + 3" })
      expect(r.outputs[0]!.finishReason).toBe("tool_calls")

      bodies.length = 0
      yield* complete(p, model, {
        messages: [
          ...qa("What is 2 + 3?"),
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: calls[0]!.id, name: "calculator", arguments: calls[0]!.arguments }]
          },
          { role: "tool", content: "5", toolCallId: calls[0]!.id }
        ]
      })
      const messages = bodies[0]!.messages as Array<{ role: string; content: unknown }>
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"])
      expect(messages[1]!.content).toEqual([{
        type: "tool_use",
        id: calls[0]!.id,
        name: "calculator",
        input: { expression: "2 + 3" }
      }])
      expect(messages[2]!.content).toEqual([{ type: "tool_result", tool_use_id: calls[0]!.id, content: "5" }])
    }))

  it.live("asks for JSON in the system prompt for a JSON response format", () =>
    Effect.gen(function*() {
      const p = yield* anthropic()
      bodies.length = 0
      const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] }
      yield* complete(p, model, {
        responseFormat: { type: "json_schema", json_schema: { name: "out", schema, strict: true } }
      })
      const system = bodies[0]!.system as string
      expect(system).toContain("Respond with a single valid JSON object")
      expect(system).toContain(JSON.stringify(schema))
      expect(bodies[0]!.response_format).toBeUndefined()
      expect(p.capabilities(model)).toMatchObject({ structuredOutputs: false, jsonObject: false, tools: true })
    }))

  it.effect("reads ANTHROPIC_API_KEY from config and fails with an LMConfigurationError naming it without it", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) =>
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
      const p = yield* Anthropic.provider().pipe(withEnv({ ANTHROPIC_API_KEY: goodKey }))
      expect(p.name).toBe("anthropic")
      const missing = yield* failureOf(Anthropic.provider().pipe(withEnv({})))
      expect(missing).toMatchObject({
        _tag: "LMConfigurationError",
        provider: "anthropic",
        variable: "ANTHROPIC_API_KEY"
      })
      expect(missing.message).toContain("ANTHROPIC_API_KEY is not set")
      expect(missing.suggestion).toContain("Anthropic.layer")
    }))
})

describe("Anthropic errors", () => {
  const faultOf = (kind: string) =>
    Effect.gen(function*() {
      const p = yield* anthropic({ "x-sim-fault": kind })
      return yield* failureOf(complete(p, model))
    })

  it.live("429 → LMRateLimited with retry-after and request id", () =>
    Effect.gen(function*() {
      const e = yield* faultOf("429")
      expect(e._tag).toBe("LMRateLimited")
      if (e._tag !== "LMRateLimited") return
      expect(e.retryAfterMs).toBe(1000)
      expect(e.requestId).toMatch(/.+/)
      expect(e.provider).toBe("anthropic")
    }))

  it.live("credit balance too low → LMQuotaExceeded; prompt is too long → LMContextWindowExceeded", () =>
    Effect.gen(function*() {
      expect((yield* faultOf("quota"))._tag).toBe("LMQuotaExceeded")
      expect((yield* faultOf("context"))._tag).toBe("LMContextWindowExceeded")
    }))

  it.live("500 and 529 overloaded → LMProviderError", () =>
    Effect.gen(function*() {
      for (const [kind, status] of [["500", 500], ["overloaded", 529]] as const) {
        const e = yield* faultOf(kind)
        expect(e._tag).toBe("LMProviderError")
        expect((e as { status?: number }).status).toBe(status)
      }
    }))

  it.live("malformed and empty bodies → LMMalformedResponse", () =>
    Effect.gen(function*() {
      expect((yield* faultOf("malformed"))._tag).toBe("LMMalformedResponse")
      expect((yield* faultOf("empty"))._tag).toBe("LMMalformedResponse")
    }))

  it.live("a bad key → LMAuthError without the key; an unreachable URL → transport error; a hang → LMTimeout", () =>
    Effect.gen(function*() {
      const bad = yield* anthropic(undefined, secretKey)
      const auth = yield* failureOf(complete(bad, model))
      expect(auth._tag).toBe("LMAuthError")
      expect(errorText(auth)).not.toContain(secretKey)

      const port = yield* Effect.promise(closedPort)
      const baseURL = `http://127.0.0.1:${port}`
      const down = yield* Anthropic.provider({ apiKey: Redacted.make(secretKey), baseURL })
      const transport = yield* failureOf(complete(down, model))
      expect(transport._tag).toBe("LMProviderError")
      expect((transport as { transport?: boolean }).transport).toBe(true)
      expect((transport as { detail: string }).detail).toContain(baseURL)
      expect(errorText(transport)).not.toContain(secretKey)

      const hang = yield* anthropic({ "x-sim-fault": "hang" })
      const timeout = yield* failureOf(complete(hang, model, { timeoutMs: 300 }))
      expect(timeout._tag).toBe("LMTimeout")
      expect((timeout as { timeoutMs: number }).timeoutMs).toBe(300)
    }))
})
