/**
 * Translation between DSPex requests (OpenAI-shaped messages) and Anthropic's Messages API: system
 * messages move to `system`, consecutive same-role turns merge, tool calls become tool_use/tool_result
 * blocks, and JSON response formats become an instruction (Anthropic has no json_object mode). SDK
 * errors are described here too, for the shared classifier in errors.ts.
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import type {
  ContentBlockParam,
  ImageBlockParam,
  MessageCreateParamsNonStreaming,
  MessageParam
} from "@anthropic-ai/sdk/resources/messages/messages"
import type { LanguageModel, Message } from "@dspex/core"
import type { CallFailure } from "./errors.ts"
import { jsonInstruction } from "./jsonInstruction.ts"
import { clientSettings } from "./notSent.ts"

export const defaultMaxTokens = 4096

const textOf = (content: Message.Message["content"]): string =>
  typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("")

const dataUrl = /^data:(image\/(?:jpeg|png|gif|webp));base64,(.*)$/s

const imageBlock = (url: string): ImageBlockParam => {
  const m = dataUrl.exec(url)
  return m === null
    ? { type: "image", source: { type: "url", url } }
    : { type: "image", source: { type: "base64", media_type: m[1] as "image/png", data: m[2] ?? "" } }
}

const parseArguments = (args: string): unknown => {
  try {
    return JSON.parse(args === "" ? "{}" : args)
  } catch {
    // Anthropic wants an object; keep unparseable arguments visible rather than dropping them.
    return { arguments: args }
  }
}

const blocksOf = (m: Message.Message): Array<ContentBlockParam> => {
  if (m.role === "tool") {
    return [{ type: "tool_result", tool_use_id: m.toolCallId ?? "", content: textOf(m.content) }]
  }
  const blocks: Array<ContentBlockParam> = []
  if (typeof m.content === "string") {
    if (m.content !== "") blocks.push({ type: "text", text: m.content })
  } else {
    for (const part of m.content) {
      if (part.type === "text") {
        if (part.text !== "") blocks.push({ type: "text", text: part.text })
      } else blocks.push(imageBlock(part.image_url.url))
    }
  }
  if (m.role === "assistant") {
    for (const call of m.toolCalls ?? []) {
      blocks.push({ type: "tool_use", id: call.id, name: call.name, input: parseArguments(call.arguments) })
    }
  }
  return blocks
}

/** The system prompt and the alternating user/assistant turns Anthropic expects. */
export const toAnthropicMessages = (
  messages: ReadonlyArray<Message.Message>,
  responseFormat?: LanguageModel.ResponseFormat | undefined
): { readonly system: string | undefined; readonly messages: Array<MessageParam> } => {
  const system: Array<string> = []
  const turns: Array<{ role: "user" | "assistant"; blocks: Array<ContentBlockParam>; plain: string | undefined }> = []
  for (const m of messages) {
    if (m.role === "system") {
      system.push(textOf(m.content))
      continue
    }
    const role = m.role === "assistant" ? "assistant" : "user"
    const blocks = blocksOf(m)
    const plain = typeof m.content === "string" && m.role !== "tool" && (m.toolCalls ?? []).length === 0
      ? m.content
      : undefined
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) {
      last.blocks.push(...blocks)
      last.plain = undefined
    } else turns.push({ role, blocks, plain })
  }
  if (responseFormat !== undefined) system.push(jsonInstruction(responseFormat))
  return {
    system: system.length === 0 ? undefined : system.join("\n\n"),
    messages: turns.map((t) => ({ role: t.role, content: t.plain ?? t.blocks }))
  }
}

// Anthropic has no `n`: several completions are several requests.
const notSent = new Set([...clientSettings, "n"])

/**
 * The Messages API body. Temperature is passed only through kwargs: the 2026-10-21 Messages API the
 * SDK targets has no sampling temperature.
 */
export const toAnthropicBody = (request: LanguageModel.ProviderRequest): MessageCreateParamsNonStreaming => {
  const { system, messages } = toAnthropicMessages(request.messages, request.responseFormat)
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request.kwargs ?? {})) {
    if (!notSent.has(key) && value !== undefined) body[key] = value
  }
  body.model = request.model
  body.messages = messages
  body.max_tokens = request.maxTokens ?? (typeof body.max_tokens === "number" ? body.max_tokens : defaultMaxTokens)
  if (system !== undefined) body.system = system
  if (request.stop !== undefined && request.stop.length > 0) body.stop_sequences = [...request.stop]
  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: { type: "object", ...t.parameters }
    }))
  }
  return body as unknown as MessageCreateParamsNonStreaming
}

const finishReasons: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
  model_context_window_exceeded: "length"
}

export type ParsedMessage =
  | {
    readonly _tag: "ok"
    readonly output: LanguageModel.LMOutput
    readonly usage: LanguageModel.LMUsage
    readonly responseModel?: string | undefined
  }
  | { readonly _tag: "malformed"; readonly detail: string }
  | { readonly _tag: "context"; readonly detail: string }

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** Reads one Messages API response; stop reasons use OpenAI's names ("stop", "length", "tool_calls"). */
export const parseMessage = (data: unknown): ParsedMessage => {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { _tag: "malformed", detail: "the response body is not a JSON object" }
  }
  const msg = data as Record<string, unknown>
  if (!Array.isArray(msg.content)) return { _tag: "malformed", detail: "the response has no content blocks" }
  const texts: Array<string> = []
  const thinking: Array<string> = []
  const toolCalls: Array<Message.ToolCall> = []
  for (const block of msg.content as Array<Record<string, unknown>>) {
    if (block?.type === "text" && typeof block.text === "string") texts.push(block.text)
    else if (block?.type === "thinking" && typeof block.thinking === "string") thinking.push(block.thinking)
    else if (block?.type === "tool_use" && typeof block.name === "string") {
      toolCalls.push({ id: String(block.id ?? ""), name: block.name, arguments: JSON.stringify(block.input ?? {}) })
    }
  }
  const text = texts.join("")
  const stop = typeof msg.stop_reason === "string" ? msg.stop_reason : undefined
  if (text === "" && toolCalls.length === 0) {
    if (stop === "model_context_window_exceeded") {
      return {
        _tag: "context",
        detail: "the model's context window filled before any output (stop_reason model_context_window_exceeded)"
      }
    }
    return {
      _tag: "malformed",
      detail: stop === "max_tokens"
        ? "the output was cut off by max tokens before any text (stop_reason \"max_tokens\")"
        : `the response has no text and no tool calls${stop === undefined ? "" : ` (stop_reason "${stop}")`}`
    }
  }
  const u = (typeof msg.usage === "object" && msg.usage !== null ? msg.usage : {}) as Record<string, unknown>
  const promptTokens = num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens)
  const completionTokens = num(u.output_tokens)
  const finishReason = stop === undefined ? undefined : (finishReasons[stop] ?? stop)
  return {
    _tag: "ok",
    output: {
      text,
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
      ...(thinking.length > 0 ? { reasoning: thinking.join("\n") } : {}),
      ...(finishReason === undefined ? {} : { finishReason })
    },
    usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
    ...(typeof msg.model === "string" ? { responseModel: msg.model } : {})
  }
}

/** Describes anything the Anthropic SDK throws as a neutral failure. */
export const describeAnthropicError = (error: unknown): CallFailure => {
  if (error instanceof AnthropicSdk.APIConnectionTimeoutError) return { kind: "timeout" }
  if (error instanceof AnthropicSdk.APIUserAbortError) return { kind: "connection", message: "the request was aborted" }
  if (error instanceof AnthropicSdk.APIConnectionError) {
    return { kind: "connection", message: error.message, cause: error.cause }
  }
  if (error instanceof AnthropicSdk.APIError && typeof error.status === "number") {
    return {
      kind: "http",
      status: error.status,
      headers: error.headers,
      requestId: error.requestID ?? error.headers?.get("request-id") ?? undefined,
      code: error.errorCode ?? undefined,
      type: error.type ?? undefined,
      message: error.apiMessage ?? error.message
    }
  }
  if (error instanceof SyntaxError) {
    return { kind: "malformed", detail: `the response body is not valid JSON (${error.message})` }
  }
  if (error instanceof Error && error.name === "TimeoutError") return { kind: "timeout" }
  return { kind: "connection", message: error instanceof Error ? error.message : String(error), cause: error }
}
