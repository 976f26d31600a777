import Anthropic from "@anthropic-ai/sdk"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Simulator } from "../src/index.ts"
import { dspyMessages } from "./helpers.ts"

let sim: Simulator.Simulator
let openai: OpenAI
let anthropic: Anthropic

beforeAll(async () => {
  sim = await Simulator.start()
  openai = new OpenAI({ apiKey: "sk-test", baseURL: sim.openaiBaseUrl, maxRetries: 0 })
  anthropic = new Anthropic({ apiKey: "sk-ant-test", baseURL: sim.anthropicBaseUrl, maxRetries: 0 })
})
afterAll(() => sim.close())

const MODEL = "gpt-4o-mini"
const CLAUDE = "claude-haiku-4-5"
const COT_42 = "[[ ## reasoning ## ]]\nComputing 12 + 30 gives 42.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"
const cotChat = () => dspyMessages("s2-cot-nodemos-chat", { "example question": "What is 12 + 30?" })
const ask = (content: string) => [{ role: "user" as const, content }]
const fault = (kind: string) => ({ headers: { "x-sim-fault": kind } })

/** Runs a promise expected to reject and returns the error. */
const failure = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected the call to fail")
}

describe("OpenAI chat completions through the openai SDK", () => {
  it("answers a DSPy ChatAdapter prompt in chat format, with usage and a request id", async () => {
    const messages = cotChat()
    const { data, response, request_id } = await openai.chat.completions.create({ model: MODEL, messages })
      .withResponse()
    expect(data.choices[0]!.message.content).toBe(COT_42)
    expect(data.choices[0]!.finish_reason).toBe("stop")
    expect(data.object).toBe("chat.completion")
    const chars = messages.map((m) => m.content).join("").length
    expect(data.usage).toMatchObject({
      prompt_tokens: Math.ceil(chars / 4),
      completion_tokens: Math.ceil(COT_42.length / 4)
    })
    expect(response.headers.get("x-request-id")).toMatch(/^req_/)
    expect(request_id).toBe(response.headers.get("x-request-id"))
  })

  it("ignores few-shot demos and answers the last user turn", async () => {
    const messages = dspyMessages("s2-cot-demos-chat", { "example question": "What is 12 + 30?" })
    const r = await openai.chat.completions.create({ model: MODEL, messages })
    expect(r.choices[0]!.message.content).toBe(COT_42)
  })

  it("answers JSONAdapter and XMLAdapter prompts in their formats", async () => {
    const json = await openai.chat.completions.create({
      model: MODEL,
      messages: dspyMessages("s5-cot-nodemos-json", { "example text": "I absolutely love this phone." })
    })
    const parsed = JSON.parse(json.choices[0]!.message.content!)
    expect(Object.keys(parsed)).toEqual(["reasoning", "sentiment"])
    expect(parsed.sentiment).toBe("positive")
    const xml = await openai.chat.completions.create({
      model: MODEL,
      messages: dspyMessages("s8-plain-nodemos-xml", { "[1, 2, 3]": "[4, 5, 6]" })
    })
    expect(xml.choices[0]!.message.content).toBe("<total>\n15\n</total>")
  })

  it("follows response_format json_schema and json_object", async () => {
    const schema = {
      type: "object",
      properties: {
        answer: { type: "string" },
        confidence: { type: "number" },
        tags: { type: "array", items: { type: "string" } }
      },
      required: ["answer", "confidence", "tags"],
      additionalProperties: false
    }
    const r = await openai.chat.completions.create({
      model: MODEL,
      messages: ask("What is the capital of Japan?"),
      response_format: { type: "json_schema", json_schema: { name: "qa", schema, strict: true } }
    })
    const obj = JSON.parse(r.choices[0]!.message.content!)
    expect(Object.keys(obj)).toEqual(["answer", "confidence", "tags"])
    expect(obj.answer).toBe("Tokyo")
    expect(typeof obj.confidence).toBe("number")
    expect(Array.isArray(obj.tags)).toBe(true)
    const o = await openai.chat.completions.create({
      model: MODEL,
      messages: ask("Who wrote Hamlet?"),
      response_format: { type: "json_object" }
    })
    expect(JSON.parse(o.choices[0]!.message.content!)).toEqual({ answer: "William Shakespeare" })
  })

  it("returns n choices, varied by index only when temperature > 0", async () => {
    const hot = await openai.chat.completions.create({ model: MODEL, messages: cotChat(), n: 3, temperature: 0.7 })
    expect(hot.choices.map((c) => c.index)).toEqual([0, 1, 2])
    expect(new Set(hot.choices.map((c) => c.message.content)).size).toBe(3)
    for (const c of hot.choices) expect(c.message.content).toContain("[[ ## answer ## ]]\n42\n")
    const cold = await openai.chat.completions.create({ model: MODEL, messages: cotChat(), n: 2, temperature: 0 })
    expect(cold.choices[0]!.message.content).toBe(COT_42)
    expect(cold.choices[1]!.message.content).toBe(COT_42)
  })

  it("streams chunks that add up to the same answer, with a usage chunk and [DONE]", async () => {
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: cotChat(),
      stream: true,
      stream_options: { include_usage: true }
    })
    let text = ""
    let contentChunks = 0
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | null | undefined
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk")
      const choice = chunk.choices[0]
      if (choice?.delta.content) {
        text += choice.delta.content
        contentChunks++
      }
      if (choice?.finish_reason) finish = choice.finish_reason
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe(COT_42)
    expect(contentChunks).toBeGreaterThan(2)
    expect(finish).toBe("stop")
    expect(usage?.completion_tokens).toBe(Math.ceil(COT_42.length / 4))
  })

  it("calls a fitting tool with real arguments, then answers from the tool result", async () => {
    const tools: Array<OpenAI.ChatCompletionTool> = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Current weather for a city",
          parameters: { type: "object", properties: { city: { type: "string" } } }
        }
      },
      {
        type: "function",
        function: {
          name: "calculator",
          description: "Evaluate arithmetic",
          parameters: {
            type: "object",
            properties: {
              a: { type: "number" },
              b: { type: "number" },
              operation: { type: "string", enum: ["add", "subtract", "multiply", "divide"] }
            },
            required: ["a", "b", "operation"]
          }
        }
      }
    ]
    const first = await openai.chat.completions.create({ model: MODEL, messages: ask("What is 6 * 7?"), tools })
    const call = first.choices[0]!.message.tool_calls![0]!
    expect(first.choices[0]!.finish_reason).toBe("tool_calls")
    expect(first.choices[0]!.message.content).toBeNull()
    expect(call.type === "function" && call.function.name).toBe("calculator")
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual({
      a: 6,
      b: 7,
      operation: "multiply"
    })
    const streamed = await openai.chat.completions.stream({ model: MODEL, messages: ask("What is 6 * 7?"), tools })
      .finalChatCompletion()
    expect(streamed.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { content: null } })
    const streamedCall = streamed.choices[0]!.message.tool_calls![0]!
    expect(streamedCall.type === "function" && JSON.parse(streamedCall.function.arguments)).toEqual({
      a: 6,
      b: 7,
      operation: "multiply"
    })
    const second = await openai.chat.completions.create({
      model: MODEL,
      tools,
      messages: [...ask("What is 6 * 7?"), first.choices[0]!.message, {
        role: "tool",
        tool_call_id: call.id,
        content: "42"
      }]
    })
    expect(second.choices[0]!.message.content).toBe("42")
    const none = await openai.chat.completions.create({
      model: MODEL,
      messages: ask("What is the capital of Italy?"),
      tools
    })
    expect(none.choices[0]!.message).toMatchObject({ content: "Rome" })
    expect(none.choices[0]!.message.tool_calls).toBeUndefined()
  })

  it("honours stop sequences and max_tokens", async () => {
    const stopped = await openai.chat.completions.create({ model: MODEL, messages: cotChat(), stop: ["[[ ## answer"] })
    expect(stopped.choices[0]!.message.content).toBe("[[ ## reasoning ## ]]\nComputing 12 + 30 gives 42.\n\n")
    const short = await openai.chat.completions.create({ model: MODEL, messages: cotChat(), max_completion_tokens: 3 })
    expect(short.choices[0]).toMatchObject({ finish_reason: "length", message: { content: COT_42.slice(0, 12) } })
  })

  it("lists models", async () => {
    const page = await openai.models.list()
    expect(page.data.map((m) => m.id)).toContain("gpt-4o-mini")
  })
})

describe("Anthropic messages through the @anthropic-ai/sdk", () => {
  const calc: Anthropic.Tool = {
    name: "calculator",
    description: "Evaluate an arithmetic expression",
    input_schema: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] }
  }

  it("answers with a system prompt in blocks, usage and request-id", async () => {
    const messages = cotChat()
    const { data, response } = await anthropic.messages
      .create({
        model: CLAUDE,
        max_tokens: 1024,
        system: [{ type: "text", text: messages[0]!.content }],
        messages: [{ role: "user", content: messages[1]!.content }]
      })
      .withResponse()
    expect(data.content).toEqual([{ type: "text", text: COT_42, citations: null }])
    expect(data).toMatchObject({
      type: "message",
      role: "assistant",
      model: CLAUDE,
      stop_reason: "end_turn",
      stop_sequence: null
    })
    expect(data.usage.input_tokens).toBe(Math.ceil(messages.map((m) => m.content).join("").length / 4))
    expect(data.usage.output_tokens).toBe(Math.ceil(COT_42.length / 4))
    expect(response.headers.get("request-id")).toMatch(/^req_/)
  })

  it("streams the real event sequence and the SDK assembles the same message", async () => {
    const params = {
      model: CLAUDE,
      max_tokens: 1024,
      messages: [{ role: "user" as const, content: "Who wrote Pride and Prejudice?" }]
    }
    const events: Array<string> = []
    for await (const e of await anthropic.messages.create({ ...params, stream: true })) events.push(e.type)
    expect(events[0]).toBe("message_start")
    expect(events[1]).toBe("content_block_start")
    expect(events.filter((t) => t === "content_block_delta").length).toBeGreaterThan(1)
    expect(events.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"])
    const final = await anthropic.messages.stream(params).finalMessage()
    expect(final.content).toMatchObject([{ type: "text", text: "Jane Austen" }])
    expect(final.stop_reason).toBe("end_turn")
    expect(final.usage.output_tokens).toBe(3)
  })

  it("returns tool_use blocks, streamed or not, and answers from tool_result", async () => {
    const params = {
      model: CLAUDE,
      max_tokens: 256,
      tools: [calc],
      messages: [{ role: "user" as const, content: "What is 100 divided by 4?" }]
    }
    const m = await anthropic.messages.create(params)
    expect(m.stop_reason).toBe("tool_use")
    expect(m.content[0]).toMatchObject({ type: "tool_use", name: "calculator", input: { expression: "100 / 4" } })
    const streamed = await anthropic.messages.stream(params).finalMessage()
    expect(streamed.content[0]).toMatchObject({
      type: "tool_use",
      name: "calculator",
      input: { expression: "100 / 4" }
    })
    const block = m.content[0] as Anthropic.ToolUseBlock
    expect(block.id).toMatch(/^toolu_/)
    const after = await anthropic.messages.create({
      ...params,
      messages: [...params.messages, { role: "assistant", content: m.content }, {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: block.id, content: "25" }]
      }]
    })
    expect(after.content).toMatchObject([{ type: "text", text: "25" }])
  })

  it("rejects a request without max_tokens (400) and honours stop_sequences", async () => {
    const noMax = { model: CLAUDE, messages: ask("hi") } as unknown as Anthropic.MessageCreateParamsNonStreaming
    const err = await failure(anthropic.messages.create(noMax))
    expect(err).toBeInstanceOf(Anthropic.BadRequestError)
    expect(err.error).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: "max_tokens: Field required" }
    })
    const stopped = await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      messages: ask("Who wrote War and Peace?"),
      stop_sequences: ["Tolstoy"]
    })
    expect(stopped).toMatchObject({
      stop_reason: "stop_sequence",
      stop_sequence: "Tolstoy",
      content: [{ text: "Leo " }]
    })
  })

  it("lists models in Anthropic's shape", async () => {
    const page = await anthropic.models.list()
    expect(page.data.map((m) => m.id)).toContain("claude-haiku-4-5")
  })
})

describe("faults map to each SDK's error classes", () => {
  it("401 for missing/invalid keys in each provider's error shape", async () => {
    const badOpenAi = new OpenAI({ apiKey: "sk-invalid-123456", baseURL: sim.openaiBaseUrl, maxRetries: 0 })
    const e1 = await failure(badOpenAi.chat.completions.create({ model: MODEL, messages: ask("hi") }))
    expect(e1).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(e1).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error", param: null })
    const badAnthropic = new Anthropic({ apiKey: "sk-invalid-1", baseURL: sim.anthropicBaseUrl, maxRetries: 0 })
    const e2 = await failure(badAnthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }))
    expect(e2).toBeInstanceOf(Anthropic.AuthenticationError)
    expect(e2.error).toMatchObject({ type: "error", error: { type: "authentication_error" } })
    const missing = await fetch(`${sim.openaiBaseUrl}/chat/completions`, { method: "POST", body: "{}" })
    expect(missing.status).toBe(401)
    expect(((await missing.json()) as { error: unknown }).error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_api_key",
      param: null
    })
  })

  it("accepts only configured apiKeys when given", async () => {
    const locked = await Simulator.start({ apiKeys: ["sk-good"] })
    try {
      const good = new OpenAI({ apiKey: "sk-good", baseURL: locked.openaiBaseUrl, maxRetries: 0 })
      const other = new OpenAI({ apiKey: "sk-other", baseURL: locked.openaiBaseUrl, maxRetries: 0 })
      expect(
        (await good.chat.completions.create({ model: MODEL, messages: ask("What is 1 + 1?") })).choices[0]!.message
          .content
      ).toBe("2")
      expect(await failure(other.chat.completions.create({ model: MODEL, messages: ask("hi") }))).toBeInstanceOf(
        OpenAI.AuthenticationError
      )
    } finally {
      await locked.close()
    }
  })

  it("429 with retry-after and rate-limit codes; quota errors", async () => {
    const e1 = await failure(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, fault("429")))
    expect(e1).toBeInstanceOf(OpenAI.RateLimitError)
    expect(e1).toMatchObject({ status: 429, code: "rate_limit_exceeded" })
    expect(e1.headers.get("retry-after")).toBe("1")
    const e2 = await failure(
      anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }, fault("429"))
    )
    expect(e2).toBeInstanceOf(Anthropic.RateLimitError)
    expect(e2.type).toBe("rate_limit_error")
    expect(e2.headers.get("retry-after")).toBe("1")
    expect(e2.requestID).toMatch(/^req_/)
    const q1 = await failure(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, fault("quota")))
    expect(q1).toMatchObject({ status: 429, code: "insufficient_quota", type: "insufficient_quota" })
    const q2 = await failure(
      anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }, fault("quota"))
    )
    expect(q2).toBeInstanceOf(Anthropic.BadRequestError)
    expect(q2.error.error.message).toMatch(/credit balance is too low/)
  })

  it("500 and overloaded map to InternalServerError", async () => {
    const e1 = await failure(openai.chat.completions.create({ model: `${MODEL}:fault=500`, messages: ask("hi") }))
    expect(e1).toBeInstanceOf(OpenAI.InternalServerError)
    expect(e1).toMatchObject({ status: 500, type: "server_error" })
    const e2 = await failure(
      anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }, fault("500"))
    )
    expect(e2).toBeInstanceOf(Anthropic.InternalServerError)
    expect(e2.type).toBe("api_error")
    const e3 = await failure(
      anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }, fault("overloaded"))
    )
    expect(e3).toMatchObject({ status: 529, type: "overloaded_error" })
  })

  it("context overflow: forced, and from a real prompt above the window", async () => {
    const e1 = await failure(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, fault("context")))
    expect(e1).toBeInstanceOf(OpenAI.BadRequestError)
    expect(e1).toMatchObject({ code: "context_length_exceeded", param: "messages" })
    sim.configure({ contextWindowTokens: 100 })
    try {
      const long = ask("word ".repeat(200))
      const e2 = await failure(openai.chat.completions.create({ model: MODEL, messages: long }))
      expect(e2.message).toContain(
        "maximum context length is 100 tokens. However, your messages resulted in 250 tokens"
      )
      const e3 = await failure(anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: long }))
      expect(e3).toBeInstanceOf(Anthropic.BadRequestError)
      expect(e3.error.error).toEqual({
        type: "invalid_request_error",
        message: "prompt is too long: 250 tokens > 100 maximum"
      })
    } finally {
      sim.configure({ contextWindowTokens: undefined })
    }
  })

  it("hang makes the client time out", async () => {
    const started = performance.now()
    const e = await failure(
      openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, { ...fault("hang"), timeout: 150 })
    )
    expect(e).toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    const e2 = await failure(
      anthropic.messages.create({ model: `${CLAUDE}:fault=hang`, max_tokens: 10, messages: ask("hi") }, {
        timeout: 100
      })
    )
    expect(e2).toBeInstanceOf(Anthropic.APIConnectionTimeoutError)
  })

  it("stall sends the status and the start of a body, then nothing", async () => {
    const controller = new AbortController()
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test", "content-type": "application/json", "x-sim-fault": "stall" },
      body: JSON.stringify({ model: MODEL, messages: ask("hi") }),
      signal: controller.signal
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe("{\"id\": ")
    const next = await Promise.race([
      reader.read().then(() => "data"),
      new Promise((r) => setTimeout(() => r("silence"), 200))
    ])
    expect(next).toBe("silence")
    controller.abort()
  })

  it("malformed bodies break JSON parsing, streamed or not", async () => {
    await expect(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, fault("malformed"))).rejects
      .toThrow(SyntaxError)
    await expect(anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") }, fault("malformed")))
      .rejects.toThrow(SyntaxError)
    const drain = async () => {
      const s = await openai.chat.completions.create(
        { model: MODEL, messages: ask("hi"), stream: true },
        fault("malformed")
      )
      for await (const _ of s) void _
    }
    await expect(drain()).rejects.toThrow(/malformed|JSON/)
    const drainAnthropic = async () => {
      const s = await anthropic.messages.create(
        { model: CLAUDE, max_tokens: 10, messages: ask("hi"), stream: true },
        fault("malformed")
      )
      for await (const _ of s) void _
    }
    await expect(drainAnthropic()).rejects.toThrow(SyntaxError)
  })

  it("truncated cuts the content with finish_reason length / stop_reason max_tokens", async () => {
    const r = await openai.chat.completions.create({ model: MODEL, messages: cotChat() }, fault("truncated"))
    expect(r.choices[0]!.finish_reason).toBe("length")
    expect(r.choices[0]!.message.content).toBe(COT_42.slice(0, Math.floor(COT_42.length / 2)))
    const m = await anthropic.messages.create(
      { model: CLAUDE, max_tokens: 1000, messages: ask("Who wrote Hamlet?") },
      fault("truncated")
    )
    expect(m).toMatchObject({ stop_reason: "max_tokens", content: [{ text: "William S" }] })
    const s = await openai.chat.completions.create(
      { model: MODEL, messages: cotChat(), stream: true },
      fault("truncated")
    )
    let finish: string | null = null
    for await (const c of s) finish = c.choices[0]?.finish_reason ?? finish
    expect(finish).toBe("length")
  })

  it("empty returns a 200 with no content", async () => {
    const r = await openai.chat.completions.create({ model: MODEL, messages: cotChat() }, fault("empty"))
    expect(r.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "" } })
    const m = await anthropic.messages.create({ model: CLAUDE, max_tokens: 100, messages: ask("hi") }, fault("empty"))
    expect(m.content).toEqual([])
  })

  it("unknown fault names are a 400, not a silent success", async () => {
    const e = await failure(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, fault("nonsense")))
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect(e.message).toContain("Unknown simulator fault \"nonsense\"")
  })

  it("x-sim-fault-once fails only the first request with that id, so SDK retries succeed", async () => {
    sim.configure({ faults: { retryAfterSeconds: 0.01 } })
    try {
      sim.resetStats()
      const retrying = new OpenAI({ apiKey: "sk-test", baseURL: sim.openaiBaseUrl, maxRetries: 2 })
      const opts = { headers: { "x-sim-fault-once": "retry-test-1:429" } }
      const r = await retrying.chat.completions.create({ model: MODEL, messages: ask("What is 2 + 2?") }, opts)
      expect(r.choices[0]!.message.content).toBe("4")
      expect(sim.stats()).toMatchObject({ totalRequests: 2, byStatus: { "429": 1, "200": 1 } })
      expect(sim.stats().faults["429"]).toBe(1)
      const once500 = { headers: { "x-sim-fault-once": "retry-test-2:500" } }
      expect(await failure(openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, once500)))
        .toBeInstanceOf(OpenAI.InternalServerError)
      await openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, once500)
    } finally {
      sim.configure({ faults: { retryAfterSeconds: 1 } })
    }
  })
})

describe("stats, latency, seeded rates and lifecycle", () => {
  it("counts requests by route, model, status and fault; /_sim/stats serves the same", async () => {
    sim.resetStats()
    await openai.chat.completions.create({ model: MODEL, messages: ask("hi") })
    await openai.chat.completions.create({ model: "gpt-4o", messages: ask("hi") })
    await anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") })
    await failure(openai.chat.completions.create({ model: `${MODEL}:fault=500`, messages: ask("hi") }))
    const stats = sim.stats()
    expect(stats).toMatchObject({
      totalRequests: 4,
      byRoute: { "POST /v1/chat/completions": 3, "POST /v1/messages": 1 },
      byModel: { [MODEL]: 2, "gpt-4o": 1, [CLAUDE]: 1 },
      byStatus: { "200": 3, "500": 1 },
      inFlight: 0
    })
    expect(stats.faults["500"]).toBe(1)
    expect(stats.faults["429"]).toBe(0)
    expect(await (await fetch(`${sim.url}/_sim/stats`)).json()).toEqual(stats)
  })

  it("tracks max concurrent in-flight requests", async () => {
    sim.resetStats()
    const slow = { headers: { "x-sim-latency-ms": "60" } }
    await Promise.all(
      Array.from({ length: 5 }, () => openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, slow))
    )
    expect(sim.stats()).toMatchObject({ totalRequests: 5, maxInFlight: 5, inFlight: 0 })
  })

  it("applies latency from options and from x-sim-latency-ms", async () => {
    let t = performance.now()
    await openai.chat.completions.create({ model: MODEL, messages: ask("hi") }, {
      headers: { "x-sim-latency-ms": "100" }
    })
    expect(performance.now() - t).toBeGreaterThanOrEqual(99)
    sim.configure({ latency: { fixedMs: 100, jitterMs: 20 } })
    try {
      t = performance.now()
      await anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask("hi") })
      const took = performance.now() - t
      expect(took).toBeGreaterThanOrEqual(99)
      expect(took).toBeLessThan(1000)
    } finally {
      sim.configure({ latency: { fixedMs: 0, jitterMs: 0 } })
    }
    t = performance.now()
    await openai.chat.completions.create({ model: MODEL, messages: ask("hi") })
    expect(performance.now() - t).toBeLessThan(100)
  })

  it("draws random faults from a seeded PRNG: same seed, same sequence", async () => {
    const seeded = await Simulator.start({ seed: 42, faults: { rateLimit429: 0.3, server500: 0.2 } })
    try {
      const client = new OpenAI({ apiKey: "sk-test", baseURL: seeded.openaiBaseUrl, maxRetries: 0 })
      const run = async () => {
        const statuses: Array<number> = []
        for (let i = 0; i < 30; i++) {
          try {
            await client.chat.completions.create({ model: MODEL, messages: ask("hi") })
            statuses.push(200)
          } catch (e) {
            statuses.push((e as { status: number }).status)
          }
        }
        return statuses
      }
      const first = await run()
      seeded.configure({ seed: 42 })
      expect(await run()).toEqual(first)
      seeded.configure({ seed: 43 })
      expect(await run()).not.toEqual(first)
      const count = (s: number) => first.filter((x) => x === s).length
      expect(count(429)).toBeGreaterThan(2)
      expect(count(500)).toBeGreaterThan(0)
      expect(count(200)).toBeGreaterThan(8)
      expect(seeded.stats().faults["429"]).toBeGreaterThan(2)
    } finally {
      await seeded.close()
    }
  })

  it("uses the answers hook when it returns text", async () => {
    const custom = await Simulator.start({
      answers: (r) => (r.prompt.inputs["question"] === "ping" ? `pong from ${r.model}` : undefined)
    })
    try {
      const client = new OpenAI({ apiKey: "sk-test", baseURL: custom.openaiBaseUrl, maxRetries: 0 })
      expect(
        (await client.chat.completions.create({ model: MODEL, messages: ask("ping") })).choices[0]!.message.content
      ).toBe(`pong from ${MODEL}`)
      expect(
        (await client.chat.completions.create({ model: MODEL, messages: ask("What is 3 + 4?") })).choices[0]!.message
          .content
      ).toBe("7")
    } finally {
      await custom.close()
    }
  })

  it("returns JSON errors for bad request JSON and unknown routes", async () => {
    const bad = await fetch(`${sim.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test", "content-type": "application/json" },
      body: "{not json"
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /could not parse the JSON body/
    )
    const missing = await fetch(`${sim.url}/v1/nope`, { headers: { authorization: "Bearer sk-test" } })
    expect(missing.status).toBe(404)
    expect(missing.headers.get("x-request-id")).toMatch(/^req_/)
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe("Invalid URL (GET /v1/nope)")
  })

  it("close() resolves promptly with a hanging request outstanding", async () => {
    const s = await Simulator.start()
    const pending = fetch(`${s.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test", "content-type": "application/json", "x-sim-fault": "hang" },
      body: JSON.stringify({ model: MODEL, messages: ask("hi") })
    }).then(
      () => "responded",
      () => "failed"
    )
    while (s.stats().inFlight === 0) await new Promise((r) => setTimeout(r, 5))
    const t = performance.now()
    await s.close()
    expect(performance.now() - t).toBeLessThan(500)
    expect(await pending).toBe("failed")
    expect(s.stats().inFlight).toBe(0)
  })

  it("CLI prints its URL as JSON and exits cleanly on SIGTERM", async () => {
    const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
    const child = spawn(process.execPath, [
      "--conditions=@dspex/source",
      bin,
      "--port",
      "0",
      "--latency-ms",
      "1",
      "--rate-429",
      "0",
      "--seed",
      "1"
    ], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString()
        if (out.includes("\n")) resolve(out.split("\n")[0]!)
      })
      child.once("exit", (code) => reject(new Error(`exited early with ${code}`)))
    })
    const info = JSON.parse(line) as { url: string; openaiBaseUrl: string }
    expect(info.openaiBaseUrl).toBe(`${info.url}/v1`)
    const client = new OpenAI({ apiKey: "sk-test", baseURL: info.openaiBaseUrl, maxRetries: 0 })
    expect(
      (await client.chat.completions.create({ model: MODEL, messages: ask("What is 5 * 5?") })).choices[0]!.message
        .content
    ).toBe("25")
    const exit = new Promise<number | null>((resolve) => child.once("exit", resolve))
    child.kill("SIGTERM")
    expect(await exit).toBe(0)
  })
})
