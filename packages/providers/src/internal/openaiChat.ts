/**
 * A `Provider` over an `openai` client's chat completions: the one implementation behind both
 * `OpenAi` and `OpenAiCompatible`. The SDK never retries (DSPex's LanguageModel layer does) and every
 * SDK failure becomes a typed LM error.
 */
import { type LanguageModel, Tracing } from "@dspex/core"
import OpenAI from "openai"
import { abortWith } from "./abortLink.ts"
import { type CallContext, type CallFailure, toLMError } from "./errors.ts"
import { parseCompletion, toChatBody } from "./openaiRequest.ts"
import { sdkCall } from "./sdkCall.ts"

export interface ChatProviderSettings {
  readonly name: string
  readonly client: OpenAI
  readonly baseURL: string
  readonly secrets: ReadonlyArray<string>
  readonly capabilities: (model: string) => LanguageModel.ModelCapabilities
  readonly cost?: ((model: string, usage: LanguageModel.LMUsage) => number | undefined) | undefined
  /** Apply OpenAI's reasoning-model rules (max_completion_tokens, temperature 1.0). */
  readonly reasoningRules: boolean
}

const headerRequestId = (headers: Headers | undefined): string | undefined =>
  headers?.get("x-request-id") ?? headers?.get("request-id") ?? undefined

/** Describes anything the `openai` SDK throws as a neutral failure. */
export const describeOpenAiError = (error: unknown): CallFailure => {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return { kind: "timeout" }
  if (error instanceof OpenAI.APIUserAbortError) return { kind: "connection", message: "the request was aborted" }
  if (error instanceof OpenAI.APIConnectionError) {
    return { kind: "connection", message: error.message, cause: error.cause }
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const body = error.error as { message?: unknown } | undefined
    const message = typeof body?.message === "string" ? body.message : error.message
    return {
      kind: "http",
      status: error.status,
      headers: error.headers,
      requestId: error.requestID ?? headerRequestId(error.headers),
      code: typeof error.code === "string" ? error.code : undefined,
      type: error.type,
      param: typeof error.param === "string" ? error.param : undefined,
      message
    }
  }
  if (error instanceof SyntaxError) {
    return { kind: "malformed", detail: `the response body is not valid JSON (${error.message})` }
  }
  if (error instanceof Error && (error.name === "TimeoutError")) return { kind: "timeout" }
  // Anything else (an invalid base URL, a fetch failure outside the SDK's wrapping) is a transport problem.
  return { kind: "connection", message: error instanceof Error ? error.message : String(error), cause: error }
}

/**
 * Memoises a cost function for calls with the same model and token counts within the same UTC minute.
 * Looking a price up in the catalogue costs tens of microseconds per call, more than the rest of the
 * provider's own work; prices change only at whole-minute boundaries (start dates, peak hours), so
 * within one minute the same counts always cost the same.
 */
const memoCost = (
  cost: (model: string, usage: LanguageModel.LMUsage) => number | undefined,
  now: () => number = Date.now
) => {
  let minute = -1
  const memo = new Map<string, number | undefined>()
  return (model: string, usage: LanguageModel.LMUsage): number | undefined => {
    const m = Math.floor(now() / 60_000)
    if (m !== minute || memo.size >= 4096) {
      memo.clear()
      minute = m
    }
    const key = `${usage.promptTokens}/${usage.completionTokens}/${model}`
    if (memo.has(key)) return memo.get(key)
    const value = cost(model, usage)
    memo.set(key, value)
    return value
  }
}

/** A chat-completions provider over a configured `openai` client. */
export const makeChatProvider = (settings: ChatProviderSettings): LanguageModel.Provider => {
  const { client, name } = settings
  const spanName = `${name}.complete`
  const cost = settings.cost === undefined ? undefined : memoCost(settings.cost)
  const complete = (request: LanguageModel.ProviderRequest) => {
    const ctx: CallContext = {
      provider: name,
      model: request.model,
      baseURL: settings.baseURL,
      timeoutMs: request.timeoutMs,
      secrets: settings.secrets
    }
    const body = toChatBody(request, { reasoningRules: settings.reasoningRules })
    // One callback for the whole request (no Effect steps between the SDK and the caller): this runs
    // once per LM call, see bench/predict-cpu.ts.
    const call = sdkCall(
      (controller) =>
        client.chat.completions.create(body, { ...abortWith(controller), timeout: request.timeoutMs, maxRetries: 0 })
          .withResponse(),
      request.timeoutMs,
      ({ data, response, request_id }) => {
        const requestId = request_id ?? headerRequestId(response.headers)
        const parsed = parseCompletion(data as unknown)
        if (parsed._tag === "malformed") return toLMError({ kind: "malformed", detail: parsed.detail, requestId }, ctx)
        const out: Omit<LanguageModel.LMResponse, "cacheHit" | "model"> = {
          outputs: parsed.outputs,
          usage: parsed.usage,
          cost: cost?.(request.model, parsed.usage),
          ...(parsed.responseModel === undefined ? {} : { responseModel: parsed.responseModel }),
          ...(requestId === undefined ? {} : { requestId })
        }
        return out
      },
      (error) => toLMError(describeOpenAiError(error), ctx),
      () => toLMError({ kind: "timeout" }, ctx)
    )
    // A span only when tracing (see core's Tracing), never Effect.fn's per-call stack capture.
    return Tracing.withSpan(call, spanName, () => ({ "gen_ai.request.model": request.model }))
  }
  return {
    name,
    endpoint: settings.baseURL,
    complete,
    handlesTimeout: true,
    capabilities: settings.capabilities,
    ...(settings.cost === undefined ? {} : { cost: settings.cost })
  }
}
