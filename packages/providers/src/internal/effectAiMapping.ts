/**
 * Mapping between DSPex and `effect/ai`: our messages as a `Prompt`, a `GenerateTextResponse` as an
 * `LMOutput`, and `AiError` reasons as typed LM errors.
 */
import { type LanguageModel, LMError, type Message } from "@dspex/core"
import { Duration } from "effect"
import type { AiError, LanguageModel as AiLanguageModel, Prompt, Response } from "effect/ai"
import { scrub } from "./errors.ts"
import { jsonInstruction } from "./jsonInstruction.ts"

const textOf = (content: Message.Message["content"]): string =>
  typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("")

const parseParams = (args: string): unknown => {
  try {
    return JSON.parse(args === "" ? "{}" : args)
  } catch {
    return args
  }
}

const dataUrl = /^data:([^;,]+);base64,(.*)$/s

const userParts = (content: Message.Message["content"]): Array<Prompt.UserMessagePartEncoded> =>
  typeof content === "string"
    ? [{ type: "text", text: content }]
    : content.map((p): Prompt.UserMessagePartEncoded => {
      if (p.type === "text") return { type: "text", text: p.text }
      const m = dataUrl.exec(p.image_url.url)
      return m === null
        ? { type: "file", mediaType: "image/*", data: new URL(p.image_url.url) }
        : { type: "file", mediaType: m[1] ?? "image/*", data: m[2] ?? "" }
    })

/** Our messages as `effect/ai` prompt messages; a JSON response format becomes a system instruction. */
export const toPromptMessages = (
  messages: ReadonlyArray<Message.Message>,
  responseFormat?: LanguageModel.ResponseFormat | undefined
): Array<Prompt.MessageEncoded> => {
  const toolNames = new Map<string, string>()
  const out: Array<Prompt.MessageEncoded> = []
  for (const m of messages) {
    switch (m.role) {
      case "system":
        out.push({ role: "system", content: textOf(m.content) })
        break
      case "user":
        out.push({ role: "user", content: userParts(m.content) })
        break
      case "assistant": {
        const parts: Array<Prompt.AssistantMessagePartEncoded> = []
        const text = textOf(m.content)
        if (text !== "") parts.push({ type: "text", text })
        for (const call of m.toolCalls ?? []) {
          toolNames.set(call.id, call.name)
          parts.push({
            type: "tool-call",
            id: call.id,
            name: call.name,
            params: parseParams(call.arguments),
            providerExecuted: false
          })
        }
        out.push({ role: "assistant", content: parts })
        break
      }
      case "tool": {
        const id = m.toolCallId ?? ""
        out.push({
          role: "tool",
          content: [{
            type: "tool-result",
            id,
            name: toolNames.get(id) ?? "",
            isFailure: false,
            result: textOf(m.content)
          }]
        })
        break
      }
    }
  }
  if (responseFormat !== undefined) out.push({ role: "system", content: jsonInstruction(responseFormat) })
  return out
}

const finishReasons: Record<string, string> = { "tool-calls": "tool_calls", "content-filter": "content_filter" }

/** One generated response as an output, or why it is unusable. */
export const toOutput = (
  response: AiLanguageModel.GenerateTextResponse<any, any>
): { readonly _tag: "ok"; readonly output: LanguageModel.LMOutput } | {
  readonly _tag: "malformed"
  readonly detail: string
} => {
  const text = response.text
  const toolCalls = response.toolCalls.map((c: Response.ToolCallPartEncoded) => ({
    id: c.id,
    name: c.name,
    arguments: typeof c.params === "string" ? c.params : JSON.stringify(c.params ?? {})
  }))
  const reason = response.finishReason
  if (text === "" && toolCalls.length === 0) {
    return {
      _tag: "malformed",
      detail: reason === "length"
        ? "the output was cut off by max tokens before any text (finish reason \"length\")"
        : `the response has no text and no tool calls (finish reason "${reason}")`
    }
  }
  const reasoning = response.reasoningText
  return {
    _tag: "ok",
    output: {
      text,
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
      ...(reasoning === undefined || reasoning === "" ? {} : { reasoning }),
      finishReason: finishReasons[reason] ?? reason
    }
  }
}

export const usageOf = (response: AiLanguageModel.GenerateTextResponse<any, any>): LanguageModel.LMUsage => {
  const promptTokens = response.usage.inputTokens.total ?? 0
  const completionTokens = response.usage.outputTokens.total ?? 0
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
}

const headerValue = (headers: Record<string, unknown> | undefined, name: string): string | undefined => {
  const v = headers?.[name]
  return typeof v === "string" ? v : undefined
}

/** The model and request id a response reports (response-metadata part, or the finish part's HTTP headers). */
export const metadataOf = (
  response: AiLanguageModel.GenerateTextResponse<any, any>
): { readonly responseModel?: string; readonly requestId?: string } => {
  let responseModel: string | undefined
  let requestId: string | undefined
  for (const part of response.content) {
    if (part.type === "response-metadata") {
      responseModel ??= part.modelId
    } else if (part.type === "finish") {
      const headers = part.response?.headers as Record<string, unknown> | undefined
      requestId ??= headerValue(headers, "x-request-id") ?? headerValue(headers, "request-id")
    }
  }
  if (requestId === undefined) {
    for (const part of response.content) {
      if (part.type === "response-metadata" && part.id !== undefined) requestId = part.id
    }
  }
  return {
    ...(responseModel === undefined ? {} : { responseModel }),
    ...(requestId === undefined ? {} : { requestId })
  }
}

const contextPattern =
  /context[_ ]length|context window|prompt is too long|maximum context length|too many (input )?tokens/i

/** An `AiError` as the LM error a caller acts on. */
export const fromAiError = (error: AiError.AiError, provider: string, model: string): LMError.LMError => {
  const reason = error.reason
  const http = "http" in reason ? reason.http : undefined
  const status = http?.response?.status
  const headers = http?.response?.headers as Record<string, unknown> | undefined
  const requestId = headerValue(headers, "x-request-id") ?? headerValue(headers, "request-id")
  const fields = {
    provider,
    model,
    ...(status === undefined ? {} : { status }),
    ...(requestId === undefined ? {} : { requestId })
  }
  const detail = scrub(`${reason._tag}: ${reason.message}`, [])
  switch (reason._tag) {
    case "RateLimitError":
      return new LMError.LMRateLimited({
        ...fields,
        detail,
        ...(reason.retryAfter === undefined ? {} : { retryAfterMs: Duration.toMillis(reason.retryAfter) })
      })
    case "QuotaExhaustedError":
      return new LMError.LMQuotaExceeded({ ...fields, detail })
    case "AuthenticationError":
      return new LMError.LMAuthError({ ...fields, detail })
    case "InvalidRequestError":
      return contextPattern.test(reason.description ?? "") || contextPattern.test(reason.constraint ?? "")
        ? new LMError.LMContextWindowExceeded({ ...fields, detail })
        : new LMError.LMBadRequest({
          ...fields,
          detail,
          ...(reason.parameter === undefined ? {} : { param: reason.parameter })
        })
    case "InternalProviderError":
      return new LMError.LMProviderError({ ...fields, detail })
    case "NetworkError":
      return new LMError.LMProviderError({
        ...fields,
        transport: true,
        detail: scrub(`${reason.reason} for ${reason.method} ${reason.url}: ${reason.message}`, [])
      })
    case "InvalidResponseError":
    case "InvalidOutputError":
    case "StructuredOutputError":
      return new LMError.LMMalformedResponse({ ...fields, detail })
    case "UnknownError":
      return status !== undefined && status < 500 && status >= 400
        ? new LMError.LMBadRequest({ ...fields, detail })
        : new LMError.LMProviderError({ ...fields, detail })
    default:
      // Content policy, tool and user-input errors: the request itself cannot succeed as sent.
      return new LMError.LMBadRequest({ ...fields, detail })
  }
}
