/**
 * The EffectAi adapter over a real `effect/ai` LanguageModel: one built with `LanguageModel.make` whose
 * generateText speaks OpenAI's wire format to the simulator with `fetch`, the way an Effect AI provider
 * integration does (HTTP errors become AiError reasons via `AiError.reasonFromHttpStatus`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Stream } from "effect"
import { AiError, LanguageModel, type Prompt, type Response, Tool } from "effect/ai"
import { EffectAi } from "../src/index.ts"
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

const toWire = (prompt: Prompt.Prompt): Array<Record<string, unknown>> =>
  prompt.content.map((m) => {
    switch (m.role) {
      case "system":
        return { role: "system", content: m.content }
      case "user":
        return { role: "user", content: m.content.map((p) => (p.type === "text" ? p.text : "")).join("") }
      case "assistant": {
        const calls = m.content.filter((p) => p.type === "tool-call")
        return {
          role: "assistant",
          content: m.content.map((p) => (p.type === "text" ? p.text : "")).join("") || null,
          ...(calls.length === 0
            ? {}
            : {
              tool_calls: calls.map((c) => ({
                id: c.id,
                type: "function",
                function: { name: c.name, arguments: JSON.stringify(c.params) }
              }))
            })
        }
      }
      case "tool": {
        const result = m.content.find((p) => p.type === "tool-result")
        return { role: "tool", tool_call_id: result?.id ?? "", content: String(result?.result ?? "") }
      }
    }
  })

const fail = (reason: AiError.AiErrorReason) =>
  Effect.fail(AiError.make({ module: "SimModel", method: "generateText", reason }))

/** An Effect AI LanguageModel over the simulator's OpenAI endpoint. */
const simModel = (baseUrl: string, model: string, apiKey: string, headers: Record<string, string> = {}) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: (options) => {
        const url = `${baseUrl}/chat/completions`
        const body = {
          model,
          messages: toWire(options.prompt),
          ...(options.tools.length === 0 ? {} : {
            tools: options.tools.map((t) => ({
              type: "function",
              function: { name: t.name, description: Tool.getDescription(t) ?? "", parameters: Tool.getJsonSchema(t) }
            }))
          })
        }
        return Effect.tryPromise({
          try: async (signal) => {
            const response = await fetch(url, {
              method: "POST",
              signal,
              headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
              body: JSON.stringify(body)
            })
            return {
              status: response.status,
              headers: Object.fromEntries(response.headers),
              json: await response.json() as any
            }
          },
          catch: (e) =>
            AiError.make({
              module: "SimModel",
              method: "generateText",
              reason: new AiError.NetworkError({
                reason: "TransportError",
                method: "POST",
                url,
                description: String(e)
              })
            })
        }).pipe(
          Effect.flatMap(({ status, headers, json }): Effect.Effect<Array<Response.PartEncoded>, AiError.AiError> => {
            const http = { response: { status, headers } }
            if (status === 429 && json.error?.code === "insufficient_quota") {
              return fail(new AiError.QuotaExhaustedError({ http }))
            }
            if (status === 429) {
              return fail(
                new AiError.RateLimitError({ http, retryAfter: Duration.seconds(Number(headers["retry-after"] ?? 0)) })
              )
            }
            if (status !== 200) {
              return fail(AiError.reasonFromHttpStatus({ status, http, description: json.error?.message }))
            }
            const choice = json.choices[0]
            const parts: Array<Response.PartEncoded> = [{ type: "response-metadata", id: json.id, modelId: json.model }]
            if (choice.message.content) parts.push({ type: "text", text: choice.message.content })
            for (const c of choice.message.tool_calls ?? []) {
              parts.push({
                type: "tool-call",
                id: c.id,
                name: c.function.name,
                params: JSON.parse(c.function.arguments)
              })
            }
            parts.push({
              type: "finish",
              reason: choice.finish_reason === "tool_calls" ? "tool-calls" : choice.finish_reason,
              usage: {
                inputTokens: { total: json.usage.prompt_tokens },
                outputTokens: { total: json.usage.completion_tokens }
              },
              response: { status, headers }
            })
            return Effect.succeed(parts)
          })
        )
      },
      streamText: () => Stream.die("streaming is not used by the adapter")
    })
  )

const adapter = (headers: Record<string, string> = {}, apiKey = goodKey) =>
  EffectAi.provider("simai", simModel(recorded.sim.openaiBaseUrl, "gpt-4o-mini", apiKey, headers))

describe("EffectAi.provider", () => {
  it.live("answers through an effect/ai LanguageModel with usage, request id and response model", () =>
    Effect.gen(function*() {
      const p = yield* adapter()
      const r = yield* p.complete(request("gpt-4o-mini"))
      expect(p.name).toBe("simai")
      expect(r.outputs).toEqual([{ text: "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", finishReason: "stop" }])
      expect(r.usage.promptTokens).toBeGreaterThan(0)
      expect(r.usage.totalTokens).toBe(r.usage.promptTokens + r.usage.completionTokens)
      expect(r.requestId).toMatch(/^req_/)
      expect(r.responseModel).toBe("gpt-4o-mini")
      expect(p.capabilities("x")).toEqual({ structuredOutputs: false, jsonObject: false, tools: true })
    }))

  it.live("n > 1 makes n calls", () =>
    Effect.gen(function*() {
      const p = yield* adapter()
      recorded.sim.resetStats()
      const r = yield* p.complete(request("gpt-4o-mini", { n: 3, messages: qa("What is 2 + 3?") }))
      expect(r.outputs).toHaveLength(3)
      for (const o of r.outputs) expect(o.text).toContain("5")
      expect(recorded.sim.stats().byRoute["POST /v1/chat/completions"]).toBe(3)
    }))

  it.live("passes tools as dynamic Effect AI tools and maps tool calls back without running them", () =>
    Effect.gen(function*() {
      const p = yield* adapter()
      const r = yield* p.complete(request("gpt-4o-mini", { messages: qa("What is 2 + 3?"), tools: [calculator] }))
      const calls = r.outputs[0]!.toolCalls ?? []
      expect(calls.map((c) => c.name)).toEqual(["calculator"])
      expect(JSON.parse(calls[0]!.arguments)).toEqual({ expression: "2 + 3" })
      expect(r.outputs[0]!.finishReason).toBe("tool_calls")
    }))

  it.live("sends earlier tool calls and results as prompt parts, and JSON formats as an instruction", () =>
    Effect.gen(function*() {
      const p = yield* adapter()
      bodies.length = 0
      yield* p.complete(request("gpt-4o-mini", {
        messages: [
          ...qa("What is 2 + 3?"),
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "call_9", name: "calculator", arguments: "{\"expression\":\"2 + 3\"}" }]
          },
          { role: "tool", content: "5", toolCallId: "call_9" }
        ],
        responseFormat: { type: "json_object" }
      }))
      const messages = bodies[0]!.messages as Array<Record<string, unknown>>
      expect(messages[2]).toMatchObject({
        role: "assistant",
        tool_calls: [{ id: "call_9", function: { name: "calculator" } }]
      })
      expect(messages[3]).toEqual({ role: "tool", tool_call_id: "call_9", content: "5" })
      expect(messages.at(-1)).toEqual({
        role: "system",
        content: "Respond with a single valid JSON object and nothing else."
      })
    }))

  it.live("configure wraps each generateText call with the request's settings", () =>
    Effect.gen(function*() {
      const seen: Array<number | undefined> = []
      const p = yield* EffectAi.provider("simai", simModel(recorded.sim.openaiBaseUrl, "gpt-4o-mini", goodKey), {
        configure: (req) => (effect) => Effect.tap(effect, () => Effect.sync(() => seen.push(req.temperature))),
        capabilities: { jsonObject: true },
        cost: (_model, usage) => usage.totalTokens / 1000
      })
      const r = yield* p.complete(request("gpt-4o-mini", { n: 2, temperature: 0.4 }))
      expect(seen).toEqual([0.4, 0.4])
      expect(r.cost).toBeCloseTo(r.usage.totalTokens / 1000)
      expect(p.capabilities("m").jsonObject).toBe(true)
    }))

  it.live("maps AiError reasons onto LM errors", () =>
    Effect.gen(function*() {
      const rate = yield* failureOf((yield* adapter({ "x-sim-fault": "429" })).complete(request("gpt-4o-mini")))
      expect(rate._tag).toBe("LMRateLimited")
      expect((rate as { retryAfterMs?: number }).retryAfterMs).toBe(1000)
      expect((rate as { status?: number }).status).toBe(429)
      expect((rate as { requestId?: string }).requestId).toMatch(/^req_/)

      const quota = yield* failureOf((yield* adapter({ "x-sim-fault": "quota" })).complete(request("gpt-4o-mini")))
      expect(quota._tag).toBe("LMQuotaExceeded")
      const context = yield* failureOf((yield* adapter({ "x-sim-fault": "context" })).complete(request("gpt-4o-mini")))
      expect(context._tag).toBe("LMContextWindowExceeded")
      const server = yield* failureOf((yield* adapter({ "x-sim-fault": "500" })).complete(request("gpt-4o-mini")))
      expect(server._tag).toBe("LMProviderError")
      const empty = yield* failureOf((yield* adapter({ "x-sim-fault": "empty" })).complete(request("gpt-4o-mini")))
      expect(empty._tag).toBe("LMMalformedResponse")

      const auth = yield* failureOf((yield* adapter({}, secretKey)).complete(request("gpt-4o-mini")))
      expect(auth._tag).toBe("LMAuthError")
      expect(errorText(auth)).not.toContain(secretKey)
    }))

  it.live("a network failure → transport LMProviderError; a hang → LMTimeout", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const down = yield* EffectAi.provider("simai", simModel(`http://127.0.0.1:${port}/v1`, "gpt-4o-mini", goodKey))
      const e = yield* failureOf(down.complete(request("gpt-4o-mini")))
      expect(e._tag).toBe("LMProviderError")
      expect((e as { transport?: boolean }).transport).toBe(true)
      expect((e as { detail: string }).detail).toContain(`127.0.0.1:${port}`)

      const hang = yield* adapter({ "x-sim-fault": "hang" })
      const t = yield* failureOf(hang.complete(request("gpt-4o-mini", { timeoutMs: 300 })))
      expect(t._tag).toBe("LMTimeout")
      expect((t as { timeoutMs: number }).timeoutMs).toBe(300)
    }))
})
