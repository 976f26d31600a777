/**
 * OpenAI Chat Completions wire format (`POST /v1/chat/completions`), shaped after the `openai` SDK's
 * ChatCompletion / ChatCompletionChunk types and the API's real error bodies, so the official client
 * parses every response (and raises its own error classes for every fault).
 */
import type { IncomingMessage } from "node:http"
import type { SimMessage } from "../PromptReader.ts"
import type { ToolSpec } from "../Tasks.ts"
import {
  type ErrorInfo,
  type ErrorKind,
  isObj,
  type Json,
  type Outcome,
  type ProviderSpec,
  type RequestContext
} from "./completion.ts"
import { sendText, splitDeltas, startSse } from "./http.ts"
import type { Choice, ToolMode } from "./responder.ts"

const maskKey = (
  key: string
): string => (key.length <= 8
  ? "*".repeat(key.length)
  : `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 32))}${key.slice(-4)}`)

const errorBody = (message: string, type: string, param: string | null, code: string | null) => ({
  error: { message, type, param, code }
})

export const openAiError = (kind: ErrorKind, info: ErrorInfo): { status: number; body: unknown } => {
  switch (kind) {
    case "auth_missing":
      return {
        status: 401,
        body: errorBody(
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          "invalid_request_error",
          null,
          "invalid_api_key"
        )
      }
    case "auth_invalid":
      return {
        status: 401,
        body: errorBody(
          `Incorrect API key provided: ${
            maskKey(info.key ?? "")
          }. You can find your API key at https://platform.openai.com/account/api-keys.`,
          "invalid_request_error",
          null,
          "invalid_api_key"
        )
      }
    case "bad_json":
      return {
        status: 400,
        body: errorBody(
          `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON: ${
            info.message ?? "invalid JSON"
          })`,
          "invalid_request_error",
          null,
          null
        )
      }
    case "invalid":
      return {
        status: 400,
        body: errorBody(
          info.message ?? "Invalid request",
          "invalid_request_error",
          info.param ?? null,
          info.code ?? null
        )
      }
    case "rate_limit":
      return {
        status: 429,
        body: errorBody(
          `Rate limit reached for ${
            info.model ?? "model"
          } in organization org-simulator on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in ${
            info.retryAfterSeconds ?? 1
          }s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
          "requests",
          null,
          "rate_limit_exceeded"
        )
      }
    case "quota":
      return {
        status: 429,
        body: errorBody(
          "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
          "insufficient_quota",
          null,
          "insufficient_quota"
        )
      }
    case "server":
      return {
        status: 500,
        body: errorBody(
          "The server had an error while processing your request. Sorry about that!",
          "server_error",
          null,
          null
        )
      }
    case "overloaded":
      return {
        status: 503,
        body: errorBody("The engine is currently overloaded, please try again later.", "server_error", null, null)
      }
    case "context":
      return {
        status: 400,
        body: errorBody(
          `This model's maximum context length is ${info.limit ?? 0} tokens. However, your messages resulted in ${
            info.promptTokens ?? 0
          } tokens. Please reduce the length of the messages.`,
          "invalid_request_error",
          "messages",
          "context_length_exceeded"
        )
      }
    case "not_found":
      return { status: 404, body: errorBody(info.message ?? "Not found", "invalid_request_error", null, null) }
  }
}

/** Text of a message `content`: a string, or text/refusal parts joined; images count as a placeholder. */
const contentText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content
    .map((part) => {
      if (!isObj(part)) return ""
      if (typeof part["text"] === "string") return part["text"]
      if (typeof part["refusal"] === "string") return part["refusal"]
      return part["type"] === "image_url" ? "[image]" : ""
    })
    .join("")
}

const ROLES: Record<string, SimMessage["role"]> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
  tool: "tool",
  function: "tool"
}

const validate = (body: Json): ErrorInfo | undefined => {
  if (typeof body["model"] !== "string" || body["model"] === "") {
    return { message: "you must provide a model parameter", code: "missing_required_parameter", param: "model" }
  }
  const messages = body["messages"]
  if (messages === undefined) {
    return { message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter" }
  }
  if (!Array.isArray(messages)) {
    return { message: "Invalid type for 'messages': expected an array.", param: "messages", code: "invalid_type" }
  }
  if (messages.length === 0) {
    return { message: "[] is too short - 'messages'", param: "messages", code: "invalid_value" }
  }
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i]
    const role = isObj(m) ? m["role"] : undefined
    if (typeof role !== "string" || ROLES[role] === undefined) {
      return {
        message: `Invalid value: '${
          String(role)
        }'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        param: `messages[${i}].role`,
        code: "invalid_value"
      }
    }
  }
  const n = body["n"]
  if (n !== undefined && n !== null && (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 128)) {
    return {
      message: `${String(n)} is not a valid value for 'n': it must be an integer between 1 and 128.`,
      param: "n",
      code: "invalid_value"
    }
  }
  return undefined
}

const conversation = (body: Json) => {
  const messages: Array<SimMessage> = (body["messages"] as Array<Json>).map((m) => ({
    role: ROLES[String(m["role"])]!,
    text: contentText(m["content"])
  }))
  const tools: Array<ToolSpec> = []
  for (const t of Array.isArray(body["tools"]) ? body["tools"] : []) {
    const fn = isObj(t) ? t["function"] : undefined
    if (!isObj(fn) || typeof fn["name"] !== "string") continue
    tools.push({ name: fn["name"], description: String(fn["description"] ?? ""), parameters: fn["parameters"] ?? {} })
  }
  const choice = body["tool_choice"]
  const toolMode: ToolMode = choice === "none" || choice === "required"
    ? choice
    : isObj(choice) && isObj(choice["function"]) && typeof choice["function"]["name"] === "string"
    ? { name: choice["function"]["name"] }
    : "auto"
  const stop = body["stop"]
  const maxTokens = body["max_completion_tokens"] ?? body["max_tokens"]
  return {
    model: String(body["model"]),
    messages,
    tools,
    toolMode,
    responseFormat: body["response_format"],
    n: typeof body["n"] === "number" ? body["n"] : 1,
    temperature: typeof body["temperature"] === "number" ? body["temperature"] : 1,
    stop: typeof stop === "string"
      ? [stop]
      : Array.isArray(stop)
      ? stop.filter((s): s is string => typeof s === "string")
      : [],
    maxTokens: typeof maxTokens === "number" ? maxTokens : undefined,
    stream: body["stream"] === true
  }
}

const finishReason = (c: Choice): string => (c.finish === "stop_sequence" ? "stop" : c.finish)

const usageOf = (outcome: Outcome) => {
  const completion = outcome.choices.reduce((sum, c) => sum + c.outputTokens, 0)
  return {
    prompt_tokens: outcome.promptTokens,
    completion_tokens: completion,
    total_tokens: outcome.promptTokens + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0
    }
  }
}

const toolCallsOf = (c: Choice) =>
  c.toolCalls.map((t) => ({
    id: t.id,
    type: "function",
    function: { name: t.name, arguments: JSON.stringify(t.arguments) }
  }))

const respond = (ctx: RequestContext, outcome: Outcome): void => {
  const id = ctx.newId("chatcmpl")
  const created = Math.floor(Date.now() / 1000)
  const headers = { "x-request-id": ctx.requestId, "openai-model": outcome.model }
  if (!outcome.conversation.stream) {
    const body = {
      id,
      object: "chat.completion",
      created,
      model: outcome.model,
      choices: outcome.choices.map((c, index) => ({
        index,
        message: {
          role: "assistant",
          content: c.toolCalls.length > 0 ? null : c.text,
          refusal: null,
          annotations: [],
          ...(c.toolCalls.length > 0 ? { tool_calls: toolCallsOf(c) } : {})
        },
        logprobs: null,
        finish_reason: finishReason(c)
      })),
      usage: usageOf(outcome),
      service_tier: "default",
      system_fingerprint: "fp_simulator"
    }
    sendText(ctx, 200, "application/json", JSON.stringify(body), headers)
    return
  }
  const options = outcome.body["stream_options"]
  const includeUsage = isObj(options) && options["include_usage"] === true
  const base = {
    id,
    object: "chat.completion.chunk",
    created,
    model: outcome.model,
    service_tier: "default",
    system_fingerprint: "fp_simulator"
  }
  const events: Array<string> = []
  const chunk = (choices: Array<unknown>, extra: Json = {}) =>
    events.push(`data: ${JSON.stringify({ ...base, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`)
  outcome.choices.forEach((c, index) => {
    const opening = c.toolCalls.length > 0 ? null : ""
    chunk([{
      index,
      delta: { role: "assistant", content: opening, refusal: null },
      logprobs: null,
      finish_reason: null
    }])
    c.toolCalls.forEach((t, ti) => {
      chunk([{
        index,
        delta: { tool_calls: [{ index: ti, id: t.id, type: "function", function: { name: t.name, arguments: "" } }] },
        logprobs: null,
        finish_reason: null
      }])
      for (const part of splitDeltas(JSON.stringify(t.arguments))) {
        chunk([{
          index,
          delta: { tool_calls: [{ index: ti, function: { arguments: part } }] },
          logprobs: null,
          finish_reason: null
        }])
      }
    })
    for (const part of splitDeltas(c.text)) {
      chunk([{ index, delta: { content: part }, logprobs: null, finish_reason: null }])
    }
    chunk([{ index, delta: {}, logprobs: null, finish_reason: finishReason(c) }])
  })
  if (includeUsage) events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: usageOf(outcome) })}\n\n`)
  events.push("data: [DONE]\n\n")
  startSse(ctx, headers)
  ctx.res.end(events.join(""))
}

const malformed = (ctx: RequestContext, stream: boolean): void => {
  const headers = { "x-request-id": ctx.requestId }
  if (!stream) {
    sendText(
      ctx,
      200,
      "application/json",
      "{\"id\": \"chatcmpl-malformed\", \"object\": \"chat.completion\", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"[[ ## answ",
      headers
    )
    return
  }
  startSse(ctx, headers)
  ctx.res.end(
    `data: ${
      JSON.stringify({
        id: "chatcmpl-malformed",
        object: "chat.completion.chunk",
        created: 0,
        model: "simulator",
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]
      })
    }\n\n` +
      "data: {\"id\": \"chatcmpl-malformed\", \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"[[ ## an\n\n" +
      "data: [DONE]\n\n"
  )
}

export const openAiProvider: ProviderSpec = {
  name: "openai",
  requestIdHeader: "x-request-id",
  apiKey: (req: IncomingMessage) => {
    const auth = req.headers["authorization"]
    if (typeof auth !== "string") return undefined
    const m = /^Bearer\s+(.*)$/i.exec(auth.trim())
    return m && m[1]!.trim() !== "" ? m[1]!.trim() : undefined
  },
  error: (kind, info) => openAiError(kind, info),
  validate,
  conversation,
  respond,
  malformed
}

/** `GET /v1/models` in OpenAI's list shape. */
export const openAiModels = (ids: ReadonlyArray<string>) => ({
  object: "list",
  data: ids.map((id) => ({ id, object: "model", created: 1700000000, owned_by: "simulator" }))
})
