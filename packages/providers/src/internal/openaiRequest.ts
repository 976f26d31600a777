/**
 * Translation between DSPex requests and OpenAI chat completions: messages, sampling settings,
 * response_format and tools out; choices, tool calls and usage back. Shared by the OpenAI provider and
 * every OpenAI-compatible server.
 */
import type { LanguageModel, Message } from "@dspex/core"
import type {
  ChatCompletion,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam
} from "openai/resources/chat/completions"
import { clientSettings } from "./notSent.ts"

/**
 * OpenAI reasoning models (o1/o3/o4/o5 and gpt-5 except gpt-5-chat), by the same rule as DSPy 3.3.1:
 * they take `max_completion_tokens` and only the default temperature.
 *
 * @example
 * isReasoningModel("o3-mini") // true
 * isReasoningModel("gpt-5-chat-latest") // false
 */
export const isReasoningModel = (model: string): boolean =>
  /^(?:o[1345](?:-(?:mini|nano|pro))?(?:-\d{4}-\d{2}-\d{2})?|gpt-5(?!-chat)(?:-.*)?)$/.test(
    (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase()
  )

const textOnly = (content: Message.Message["content"]): string =>
  typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("")

const userContent = (content: Message.Message["content"]): string | Array<ChatCompletionContentPart> =>
  typeof content === "string"
    ? content
    : content.map((p): ChatCompletionContentPart =>
      p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: p.image_url.url } }
    )

/** DSPex messages (already in OpenAI's shape) as the SDK's message params. */
export const toOpenAiMessages = (messages: ReadonlyArray<Message.Message>): Array<ChatCompletionMessageParam> =>
  messages.map((m): ChatCompletionMessageParam => {
    switch (m.role) {
      case "system":
        return { role: "system", content: textOnly(m.content) }
      case "user":
        return { role: "user", content: userContent(m.content) }
      case "assistant": {
        const text = textOnly(m.content)
        const calls = m.toolCalls ?? []
        if (calls.length === 0) return { role: "assistant", content: text }
        return {
          role: "assistant",
          content: text === "" ? null : text,
          tool_calls: calls.map((c) => ({
            id: c.id,
            type: "function" as const,
            function: { name: c.name, arguments: c.arguments }
          }))
        }
      }
      case "tool":
        return { role: "tool", tool_call_id: m.toolCallId ?? "", content: textOnly(m.content) }
    }
  })

const notSent = new Set(clientSettings)

/**
 * The chat-completions request body. `reasoningRules` applies OpenAI's reasoning-model constraints
 * (only for OpenAI itself: compatible servers take plain `max_tokens`).
 */
export const toChatBody = (
  request: LanguageModel.ProviderRequest,
  options: { readonly reasoningRules: boolean }
): ChatCompletionCreateParamsNonStreaming => {
  const reasoning = options.reasoningRules && isReasoningModel(request.model)
  const extra: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request.kwargs ?? {})) {
    if (!notSent.has(key) && value !== undefined) extra[key] = value
  }
  if (reasoning && extra.max_tokens !== undefined) {
    extra.max_completion_tokens ??= extra.max_tokens
    delete extra.max_tokens
  }
  const body: Record<string, unknown> = { ...extra, model: request.model, messages: toOpenAiMessages(request.messages) }
  if (request.temperature !== undefined) body.temperature = reasoning ? 1.0 : request.temperature
  else if (reasoning && body.temperature !== undefined) body.temperature = 1.0
  if (request.maxTokens !== undefined) body[reasoning ? "max_completion_tokens" : "max_tokens"] = request.maxTokens
  if (request.n !== 1) body.n = request.n
  if (request.stop !== undefined && request.stop.length > 0) body.stop = [...request.stop]
  if (request.responseFormat !== undefined) body.response_format = request.responseFormat
  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters }
    }))
  }
  return body as unknown as ChatCompletionCreateParamsNonStreaming
}

/** A parsed completion, or why the body is not a usable one. */
export type ParsedCompletion =
  | {
    readonly _tag: "ok"
    readonly outputs: ReadonlyArray<LanguageModel.LMOutput>
    readonly usage: LanguageModel.LMUsage
    readonly responseModel?: string | undefined
  }
  | { readonly _tag: "malformed"; readonly detail: string }

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

const usageOf = (u: unknown): LanguageModel.LMUsage => {
  if (typeof u !== "object" || u === null) return { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
  const r = u as Record<string, unknown>
  const promptTokens = num(r.prompt_tokens)
  const completionTokens = num(r.completion_tokens)
  const total = num(r.total_tokens)
  return { promptTokens, completionTokens, totalTokens: total > 0 ? total : promptTokens + completionTokens }
}

const toolCallsOf = (raw: unknown): Array<Message.ToolCall> => {
  if (!Array.isArray(raw)) return []
  const calls: Array<Message.ToolCall> = []
  for (const c of raw) {
    if (typeof c !== "object" || c === null) continue
    const fn = (c as { function?: { name?: unknown; arguments?: unknown } }).function
    if (fn === undefined || typeof fn.name !== "string") continue
    const args = fn.arguments
    calls.push({
      id: String((c as { id?: unknown }).id ?? ""),
      name: fn.name,
      arguments: typeof args === "string" ? args : JSON.stringify(args ?? {})
    })
  }
  return calls
}

/** Reads the choices of a chat completion; an unusable body yields `malformed` with the reason. */
export const parseCompletion = (data: unknown): ParsedCompletion => {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    const shown = typeof data === "string" ? `: ${data.slice(0, 200)}` : ""
    return { _tag: "malformed", detail: `the response body is not a JSON object${shown}` }
  }
  const completion = data as Partial<ChatCompletion>
  const choices = completion.choices
  if (!Array.isArray(choices) || choices.length === 0) {
    return { _tag: "malformed", detail: "the response has no choices" }
  }
  const ordered = [...choices].sort((a, b) => num(a?.index) - num(b?.index))
  const outputs: Array<LanguageModel.LMOutput> = []
  for (const choice of ordered) {
    const message = choice?.message as unknown as (Record<string, unknown> | undefined)
    if (message === undefined || typeof message !== "object") {
      return { _tag: "malformed", detail: `choice ${num(choice?.index)} has no message` }
    }
    const text = typeof message.content === "string" ? message.content : ""
    const toolCalls = toolCallsOf(message.tool_calls)
    const finishReason = typeof choice.finish_reason === "string" ? choice.finish_reason : undefined
    const reasoning = typeof message.reasoning_content === "string"
      ? message.reasoning_content
      : typeof message.reasoning === "string"
      ? message.reasoning
      : undefined
    if (text === "" && toolCalls.length === 0) {
      const refusal = typeof message.refusal === "string" && message.refusal !== ""
        ? ` (refusal: ${message.refusal})`
        : ""
      const detail = finishReason === "length"
        ? "the output was cut off by max tokens before any text (finish_reason \"length\")"
        : `the response has empty content and no tool calls${refusal}`
      return { _tag: "malformed", detail }
    }
    outputs.push({
      text,
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
      ...(reasoning === undefined || reasoning === "" ? {} : { reasoning }),
      ...(finishReason === undefined ? {} : { finishReason })
    })
  }
  return {
    _tag: "ok",
    outputs,
    usage: usageOf(completion.usage),
    ...(typeof completion.model === "string" ? { responseModel: completion.model } : {})
  }
}
