/**
 * Anthropic Messages wire format (`POST /v1/messages`), shaped after the `@anthropic-ai/sdk` Message and
 * RawMessageStreamEvent types and the API's real error bodies. Streams use named SSE events, which the SDK
 * requires (it skips events without a name).
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

const errorBody = (type: string, message: string, requestId: string) => ({
  type: "error",
  error: { type, message },
  request_id: requestId
})

export const anthropicError = (
  kind: ErrorKind,
  info: ErrorInfo,
  requestId: string
): { status: number; body: unknown } => {
  switch (kind) {
    case "auth_missing":
      return { status: 401, body: errorBody("authentication_error", "x-api-key header is required", requestId) }
    case "auth_invalid":
      return { status: 401, body: errorBody("authentication_error", "invalid x-api-key", requestId) }
    case "bad_json":
      return {
        status: 400,
        body: errorBody(
          "invalid_request_error",
          `There was an issue with the format of your request: invalid JSON: ${info.message ?? ""}`,
          requestId
        )
      }
    case "invalid":
      return { status: 400, body: errorBody("invalid_request_error", info.message ?? "Invalid request", requestId) }
    case "rate_limit":
      return {
        status: 429,
        body: errorBody(
          "rate_limit_error",
          "This request would exceed the rate limit for your organization (simulator) of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.",
          requestId
        )
      }
    case "quota":
      return {
        status: 400,
        body: errorBody(
          "invalid_request_error",
          "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
          requestId
        )
      }
    case "server":
      return { status: 500, body: errorBody("api_error", "Internal server error", requestId) }
    case "overloaded":
      return { status: 529, body: errorBody("overloaded_error", "Overloaded", requestId) }
    case "context":
      return {
        status: 400,
        body: errorBody(
          "invalid_request_error",
          `prompt is too long: ${info.promptTokens ?? 0} tokens > ${info.limit ?? 0} maximum`,
          requestId
        )
      }
    case "not_found":
      return { status: 404, body: errorBody("not_found_error", info.message ?? "Not found", requestId) }
  }
}

/** Text of content blocks: text, tool results (recursively) and tool inputs; media become placeholders. */
const blocksText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content
    .map((b) => {
      if (!isObj(b)) return ""
      switch (b["type"]) {
        case "text":
          return String(b["text"] ?? "")
        case "tool_result":
          return blocksText(b["content"])
        case "tool_use":
          return JSON.stringify(b["input"] ?? {})
        case "image":
          return "[image]"
        case "document":
          return "[document]"
        default:
          return ""
      }
    })
    .join("")
}

const validate = (body: Json): ErrorInfo | undefined => {
  if (typeof body["model"] !== "string" || body["model"] === "") return { message: "model: Field required" }
  if (body["max_tokens"] === undefined) return { message: "max_tokens: Field required" }
  if (typeof body["max_tokens"] !== "number" || !Number.isInteger(body["max_tokens"]) || body["max_tokens"] < 1) {
    return { message: "max_tokens: Input should be a valid integer greater than or equal to 1" }
  }
  const messages = body["messages"]
  if (messages === undefined) return { message: "messages: Field required" }
  if (!Array.isArray(messages)) return { message: "messages: Input should be a valid list" }
  if (messages.length === 0) return { message: "messages: at least one message is required" }
  for (let i = 0; i < messages.length; i++) {
    const role: unknown = isObj(messages[i]) ? (messages[i] as Json)["role"] : undefined
    if (role !== "user" && role !== "assistant") {
      return { message: `messages.${i}.role: Input should be 'user' or 'assistant'` }
    }
  }
  return undefined
}

const conversation = (body: Json) => {
  const messages: Array<SimMessage> = []
  const system = body["system"]
  if (system !== undefined) messages.push({ role: "system", text: blocksText(system) })
  for (const m of body["messages"] as Array<Json>) {
    const content = m["content"]
    const onlyResults = Array.isArray(content) && content.length > 0 &&
      content.every((b) => isObj(b) && b["type"] === "tool_result")
    messages.push({
      role: onlyResults ? "tool" : m["role"] === "assistant" ? "assistant" : "user",
      text: blocksText(content)
    })
  }
  const tools: Array<ToolSpec> = []
  for (const t of Array.isArray(body["tools"]) ? body["tools"] : []) {
    if (!isObj(t) || typeof t["name"] !== "string" || t["input_schema"] === undefined) continue
    tools.push({ name: t["name"], description: String(t["description"] ?? ""), parameters: t["input_schema"] })
  }
  const choice = body["tool_choice"]
  const type = isObj(choice) ? choice["type"] : undefined
  const toolMode: ToolMode = type === "none"
    ? "none"
    : type === "any"
    ? "required"
    : type === "tool" && isObj(choice)
    ? { name: String(choice["name"]) }
    : "auto"
  const outputConfig = body["output_config"] ?? body["output_format"]
  const format = isObj(outputConfig) && isObj(outputConfig["format"]) ? outputConfig["format"] : outputConfig
  const responseFormat = isObj(format) && format["type"] === "json_schema"
    ? { type: "json_schema", json_schema: { schema: format["schema"] } }
    : undefined
  const stop = body["stop_sequences"]
  return {
    model: String(body["model"]),
    messages,
    tools,
    toolMode,
    responseFormat,
    n: 1,
    temperature: typeof body["temperature"] === "number" ? body["temperature"] : 1,
    stop: Array.isArray(stop) ? stop.filter((s): s is string => typeof s === "string") : [],
    maxTokens: body["max_tokens"] as number,
    stream: body["stream"] === true
  }
}

const STOP_REASONS: Record<Choice["finish"], string> = {
  stop: "end_turn",
  stop_sequence: "stop_sequence",
  length: "max_tokens",
  tool_calls: "tool_use"
}

const contentOf = (c: Choice): Array<Json> =>
  c.toolCalls.length > 0
    ? c.toolCalls.map((t) => ({
      type: "tool_use",
      id: t.id,
      name: t.name,
      input: t.arguments,
      caller: { type: "direct" }
    }))
    : c.text === ""
    ? []
    : [{ type: "text", text: c.text, citations: null }]

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  server_tool_use: null,
  service_tier: "standard",
  inference_geo: null,
  output_tokens_details: null,
  speed: null
})

const respond = (ctx: RequestContext, outcome: Outcome): void => {
  const c = outcome.choices[0]!
  const id = ctx.newId("msg")
  const headers = { "request-id": ctx.requestId }
  const message = {
    id,
    type: "message",
    role: "assistant",
    model: outcome.model,
    content: contentOf(c),
    stop_reason: STOP_REASONS[c.finish],
    stop_sequence: c.stopSequence,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: usage(outcome.promptTokens, c.outputTokens)
  }
  if (!outcome.conversation.stream) {
    sendText(ctx, 200, "application/json", JSON.stringify(message), headers)
    return
  }
  const events: Array<string> = []
  const event = (name: string, data: Json) =>
    events.push(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`)
  event("message_start", {
    message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: usage(outcome.promptTokens, 1) }
  })
  event("ping", {})
  contentOf(c).forEach((block, index) => {
    if (block["type"] === "tool_use") {
      event("content_block_start", { index, content_block: { ...block, input: {} } })
      for (const part of splitDeltas(JSON.stringify(block["input"]))) {
        event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: part } })
      }
    } else {
      event("content_block_start", { index, content_block: { type: "text", text: "", citations: null } })
      for (const part of splitDeltas(c.text)) {
        event("content_block_delta", { index, delta: { type: "text_delta", text: part } })
      }
    }
    event("content_block_stop", { index })
  })
  event("message_delta", {
    delta: {
      stop_reason: message.stop_reason,
      stop_sequence: message.stop_sequence,
      stop_details: null,
      container: null
    },
    usage: {
      input_tokens: outcome.promptTokens,
      output_tokens: c.outputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      server_tool_use: null,
      output_tokens_details: null
    }
  })
  event("message_stop", {})
  startSse(ctx, headers)
  ctx.res.end(events.join(""))
}

const malformed = (ctx: RequestContext, stream: boolean): void => {
  const headers = { "request-id": ctx.requestId }
  if (!stream) {
    sendText(
      ctx,
      200,
      "application/json",
      "{\"id\": \"msg_malformed\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"[[ ## answ",
      headers
    )
    return
  }
  startSse(ctx, headers)
  ctx.res.end(
    "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_malformed\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"simulator\", \"content\": [], \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 1, \"output_tokens\": 1}}}\n\n" +
      "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n" +
      "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"[[ ## an\n\n"
  )
}

export const anthropicProvider: ProviderSpec = {
  name: "anthropic",
  requestIdHeader: "request-id",
  apiKey: (req: IncomingMessage) => {
    const key = req.headers["x-api-key"]
    if (typeof key === "string" && key.trim() !== "") return key.trim()
    const auth = req.headers["authorization"]
    const m = typeof auth === "string" ? /^Bearer\s+(.*)$/i.exec(auth.trim()) : null
    return m && m[1]!.trim() !== "" ? m[1]!.trim() : undefined
  },
  error: anthropicError,
  validate,
  conversation,
  respond,
  malformed
}

/** `GET /v1/models` in Anthropic's paginated list shape. */
export const anthropicModels = (ids: ReadonlyArray<string>) => ({
  data: ids.map((id) => ({ type: "model", id, display_name: id, created_at: "2025-01-01T00:00:00Z" })),
  has_more: false,
  first_id: ids[0] ?? null,
  last_id: ids.at(-1) ?? null
})
