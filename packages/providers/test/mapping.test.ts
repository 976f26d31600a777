/**
 * Unit tests of the translation and classification rules that the HTTP tests cannot reach through the
 * simulator (servers echoing keys, retry-after forms, every status, edge-case bodies).
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { LMError } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import OpenAI from "openai"
import {
  describeAnthropicError,
  parseMessage,
  toAnthropicBody,
  toAnthropicMessages
} from "../src/internal/anthropicRequest.ts"
import { type CallContext, retryAfterMs, scrub, toLMError } from "../src/internal/errors.ts"
import { describeOpenAiError } from "../src/internal/openaiChat.ts"
import { isReasoningModel, parseCompletion, toChatBody } from "../src/internal/openaiRequest.ts"
import { errorText, secretKey } from "./support.ts"

const ctx: CallContext = {
  provider: "openai",
  model: "gpt-4o-mini",
  baseURL: "http://127.0.0.1:1/v1",
  timeoutMs: 1234,
  secrets: [secretKey]
}
const http = (
  status: number,
  extra: Partial<{ code: string; type: string; message: string; headers: Headers; param: string }> = {}
) => toLMError({ kind: "http", status, message: extra.message ?? "boom", ...extra }, ctx)

describe("secrets", () => {
  it("scrub removes the key and key-shaped tokens", () => {
    expect(scrub(`bad key ${secretKey}!`, [secretKey])).toBe("bad key [redacted]!")
    expect(scrub("key sk-proj-abcdefghijkl leaked", [])).toBe("key [redacted] leaked")
    expect(scrub("nothing here", [secretKey])).toBe("nothing here")
  })

  it("an SDK error whose server echoed the full key becomes an LM error without it", () => {
    const headers = new Headers({ "x-request-id": "req_123" })
    const sdkError = OpenAI.APIError.generate(
      401,
      { error: { message: `Incorrect API key provided: ${secretKey}`, code: "invalid_api_key" } },
      undefined,
      headers
    )
    const e = toLMError(describeOpenAiError(sdkError), ctx)
    expect(e._tag).toBe("LMAuthError")
    expect((e as { requestId?: string }).requestId).toBe("req_123")
    expect(errorText(e)).not.toContain(secretKey)
    expect(errorText(e)).toContain("[redacted]")

    const anthropicError = AnthropicSdk.APIError.generate(
      403,
      { type: "error", error: { type: "permission_error", message: `key ${secretKey} may not use this model` } },
      undefined,
      new Headers({ "request-id": "req_a" })
    )
    const a = toLMError(describeAnthropicError(anthropicError), { ...ctx, provider: "anthropic" })
    expect(a._tag).toBe("LMAuthError")
    expect((a as { requestId?: string }).requestId).toBe("req_a")
    expect(errorText(a)).not.toContain(secretKey)
  })

  it("a connection error naming the key (e.g. in a URL) does not leak it", () => {
    const e = toLMError({
      kind: "connection",
      message: `failed to fetch http://x/?key=${secretKey}`,
      cause: { code: "ENOTFOUND" }
    }, ctx)
    expect(e._tag).toBe("LMProviderError")
    expect(errorText(e)).not.toContain(secretKey)
    expect((e as { detail: string }).detail).toContain("ENOTFOUND")
  })
})

describe("retryAfterMs", () => {
  it("reads retry-after-ms, retry-after seconds and HTTP dates", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }))).toBe(1500)
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000)
    expect(retryAfterMs(new Headers({ "retry-after": "0.5" }))).toBe(500)
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(retryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }), now)).toBe(3000)
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined()
    expect(retryAfterMs(new Headers())).toBeUndefined()
  })
})

describe("status classification", () => {
  it("maps each status and code to its LM error", () => {
    const limited = http(429, { headers: new Headers({ "retry-after-ms": "250" }) })
    expect(limited._tag).toBe("LMRateLimited")
    expect((limited as { retryAfterMs?: number }).retryAfterMs).toBe(250)
    expect(http(429, { code: "insufficient_quota" })._tag).toBe("LMQuotaExceeded")
    expect(http(402)._tag).toBe("LMQuotaExceeded")
    expect(http(401)._tag).toBe("LMAuthError")
    expect(http(403)._tag).toBe("LMAuthError")
    expect(http(400, { code: "context_length_exceeded" })._tag).toBe("LMContextWindowExceeded")
    expect(http(400, { message: "prompt is too long: 300000 tokens > 200000 maximum" })._tag).toBe(
      "LMContextWindowExceeded"
    )
    expect(http(400, { message: "This model's maximum context length is 8192 tokens" })._tag).toBe(
      "LMContextWindowExceeded"
    )
    const bad = http(400, { message: "Unsupported value: 'temperature'", param: "temperature" })
    expect(bad._tag).toBe("LMBadRequest")
    expect((bad as { param?: string }).param).toBe("temperature")
    expect(http(404)._tag).toBe("LMBadRequest")
    expect(http(422)._tag).toBe("LMBadRequest")
    for (const status of [500, 502, 503, 529]) expect(http(status)._tag).toBe("LMProviderError")
    const timeout = toLMError({ kind: "timeout" }, ctx)
    expect(timeout._tag).toBe("LMTimeout")
    expect((timeout as { timeoutMs: number }).timeoutMs).toBe(1234)
    const malformed = toLMError({ kind: "malformed", detail: "no choices", requestId: "req_9" }, ctx)
    expect(malformed._tag).toBe("LMMalformedResponse")
    expect((malformed as { requestId?: string }).requestId).toBe("req_9")
  })

  it("classifies SDK timeouts and connection errors", () => {
    expect(toLMError(describeOpenAiError(new OpenAI.APIConnectionTimeoutError()), ctx)._tag).toBe("LMTimeout")
    expect(toLMError(describeAnthropicError(new AnthropicSdk.APIConnectionTimeoutError()), ctx)._tag).toBe("LMTimeout")
    const refused = Object.assign(new TypeError("fetch failed"), {
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    })
    const e = toLMError(describeOpenAiError(new OpenAI.APIConnectionError({ cause: refused })), ctx)
    expect(e._tag).toBe("LMProviderError")
    expect((e as { transport?: boolean }).transport).toBe(true)
    expect((e as { detail: string }).detail).toContain("http://127.0.0.1:1/v1 (ECONNREFUSED)")
    // The code is kept, so the runtime can tell "nobody is there" (retried only briefly) from a reset.
    expect((e as { code?: string }).code).toBe("ECONNREFUSED")
    expect(LMError.isUnreachable(e)).toBe(true)
    const reset = toLMError({ kind: "connection", message: "socket hang up", cause: { code: "ECONNRESET" } }, ctx)
    expect(LMError.isUnreachable(reset)).toBe(false)
    expect(toLMError(describeOpenAiError(new SyntaxError("Unexpected end of JSON input")), ctx)._tag).toBe(
      "LMMalformedResponse"
    )
  })
})

describe("unknown models", () => {
  it("are LMModelNotFound, fatal, for each provider's way of saying so", () => {
    const openai = OpenAI.APIError.generate(
      404,
      {
        error: {
          message: "The model `gpt-9` does not exist or you do not have access to it.",
          type: "invalid_request_error",
          code: "model_not_found"
        }
      },
      undefined,
      new Headers()
    )
    const anthropic = AnthropicSdk.APIError.generate(
      404,
      { type: "error", error: { type: "not_found_error", message: "model: claude-9" } },
      undefined,
      new Headers()
    )
    const ollama = OpenAI.APIError.generate(
      404,
      { error: { message: "model \"llama9\" not found, try pulling it first", type: "api_error" } },
      undefined,
      new Headers()
    )
    for (
      const e of [
        toLMError(describeOpenAiError(openai), ctx),
        toLMError(describeAnthropicError(anthropic), { ...ctx, provider: "anthropic" }),
        toLMError(describeOpenAiError(ollama), { ...ctx, provider: "ollama" })
      ]
    ) {
      expect(e._tag).toBe("LMModelNotFound")
      expect(e.fatal).toBe(true)
      expect(e.retryable).toBe(false)
      expect(LMError.isFatal(e)).toBe(true)
    }
    // A 404 that is not about a model (a wrong path) stays a bad request.
    expect(http(404, { message: "Not Found" })._tag).toBe("LMBadRequest")
  })
})

describe("OpenAI request and response mapping", () => {
  it("recognises reasoning models as DSPy does", () => {
    for (
      const m of [
        "o1",
        "o1-pro",
        "o3-mini",
        "o4-mini-2025-04-16",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-2025-08-07",
        "openai/o3"
      ]
    ) {
      expect(isReasoningModel(m)).toBe(true)
    }
    for (const m of ["gpt-4o", "gpt-4o-mini", "gpt-5-chat-latest", "o2", "omni-moderation-latest", "gpt-4.1"]) {
      expect(isReasoningModel(m)).toBe(false)
    }
  })

  it("moves a max_tokens kwarg to max_completion_tokens for reasoning models and omits n = 1", () => {
    const body = toChatBody({
      model: "gpt-5",
      messages: [{ role: "user", content: "hi" }],
      n: 1,
      timeoutMs: 1,
      kwargs: { max_tokens: 16_000 }
    }, {
      reasoningRules: true
    }) as unknown as Record<string, unknown>
    expect(body.max_completion_tokens).toBe(16_000)
    expect(body.max_tokens).toBeUndefined()
    expect(body.n).toBeUndefined()
    const plain = toChatBody({ model: "gpt-5", messages: [], n: 2, timeoutMs: 1, maxTokens: 10, temperature: 0.3 }, {
      reasoningRules: false
    }) as unknown as Record<
      string,
      unknown
    >
    expect(plain.max_tokens).toBe(10)
    expect(plain.temperature).toBe(0.3)
    expect(plain.n).toBe(2)
  })

  it("rejects unusable bodies and reads reasoning content", () => {
    expect(parseCompletion("<html>oops</html>")._tag).toBe("malformed")
    expect(parseCompletion({ choices: [] })).toEqual({ _tag: "malformed", detail: "the response has no choices" })
    const cut = parseCompletion({ choices: [{ index: 0, message: { content: "" }, finish_reason: "length" }] })
    expect(cut._tag).toBe("malformed")
    expect(cut._tag === "malformed" && cut.detail).toContain("max tokens")
    const ok = parseCompletion({
      model: "deepseek-r1",
      choices: [
        { index: 1, message: { content: "second" }, finish_reason: "stop" },
        { index: 0, message: { content: "first", reasoning_content: "thinking..." }, finish_reason: "stop" }
      ]
    })
    expect(ok._tag).toBe("ok")
    if (ok._tag !== "ok") return
    expect(ok.outputs.map((o) => o.text)).toEqual(["first", "second"])
    expect(ok.outputs[0]!.reasoning).toBe("thinking...")
    expect(ok.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 })
  })
})

describe("Anthropic request and response mapping", () => {
  it("turns image URLs into url or base64 image blocks", () => {
    const { messages } = toAnthropicMessages([
      {
        role: "user",
        content: [
          { type: "text", text: "look" },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }
        ]
      }
    ])
    expect(messages[0]!.content).toEqual([
      { type: "text", text: "look" },
      { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }
    ])
  })

  it("keeps max_tokens given, never sends n, and passes other kwargs", () => {
    const body = toAnthropicBody({
      model: "claude-haiku-4-5",
      messages: [{ role: "user", content: "hi" }],
      n: 3,
      maxTokens: 100,
      timeoutMs: 1,
      kwargs: { top_k: 5, n: 3, api_key: "x" }
    }) as unknown as Record<string, unknown>
    expect(body.max_tokens).toBe(100)
    expect(body.n).toBeUndefined()
    expect(body.api_key).toBeUndefined()
    expect(body.top_k).toBe(5)
  })

  it("reads thinking, maps stop reasons, and flags context exhaustion", () => {
    const ok = parseMessage({
      model: "claude-haiku-4-5",
      content: [{ type: "thinking", thinking: "hmm" }, { type: "text", text: "hi" }],
      stop_reason: "max_tokens",
      usage: { input_tokens: 3, output_tokens: 2, cache_read_input_tokens: 5 }
    })
    expect(ok).toEqual({
      _tag: "ok",
      output: { text: "hi", reasoning: "hmm", finishReason: "length" },
      usage: { promptTokens: 8, completionTokens: 2, totalTokens: 10 },
      responseModel: "claude-haiku-4-5"
    })
    expect(parseMessage({ content: [], stop_reason: "model_context_window_exceeded" })._tag).toBe("context")
    expect(parseMessage({ content: [], stop_reason: "max_tokens" })._tag).toBe("malformed")
    expect(parseMessage({ type: "message" })._tag).toBe("malformed")
  })
})
