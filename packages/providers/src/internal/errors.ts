/**
 * Turns a failed provider call into one of DSPex's typed LM errors. Each SDK first describes its failure
 * as a neutral `CallFailure` (so the rules live in one place), then `toLMError` classifies it by HTTP
 * status, error code and message. Every text that reaches an error passes through `scrub`, so an API
 * key echoed back by a server (or sitting in a URL) never ends up in a message, detail or log.
 */
import { LMError } from "@dspex/core"

/** What a provider call knows about itself when it fails. */
export interface CallContext {
  readonly provider: string
  readonly model: string
  readonly baseURL: string
  readonly timeoutMs: number
  /** Values that must never appear in an error (the API key). */
  readonly secrets: ReadonlyArray<string>
}

/** A provider failure described independently of the SDK that produced it. */
export type CallFailure =
  | { readonly kind: "timeout" }
  | { readonly kind: "connection"; readonly message: string; readonly cause?: unknown }
  | {
    readonly kind: "http"
    readonly status: number
    readonly headers?: Headers | undefined
    readonly requestId?: string | undefined
    readonly code?: string | undefined
    readonly type?: string | undefined
    readonly param?: string | undefined
    readonly message: string
  }
  | { readonly kind: "malformed"; readonly detail: string; readonly requestId?: string | undefined }

const keyLike = /\b(?:sk|pk|rk|sess)-[A-Za-z0-9_-]{6,}|\bAIza[0-9A-Za-z_-]{10,}/g

/** Removes secrets (and anything shaped like an API key) from a text bound for an error or log. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join("[redacted]")
  }
  return out.replace(keyLike, "[redacted]")
}

/** Milliseconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export const retryAfterMs = (headers: Headers | undefined, now: number = Date.now()): number | undefined => {
  if (headers === undefined) return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && ms.trim() !== "") {
    const n = Number(ms)
    if (Number.isFinite(n) && n >= 0) return n
  }
  const after = headers.get("retry-after")
  if (after === null || after.trim() === "") return undefined
  const seconds = Number(after)
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const contextPatterns = [
  /context[_ ]length[_ ]exceeded/i,
  /prompt is too long/i,
  /maximum context length/i,
  /context window/i,
  /too many (input )?tokens/i
]

const isContextWindow = (code: string | undefined, message: string): boolean =>
  (code !== undefined && /context|too_long/i.test(code)) || contextPatterns.some((p) => p.test(message))

const isQuota = (code: string | undefined, type: string | undefined, message: string): boolean =>
  code === "insufficient_quota" || type === "insufficient_quota" || code === "billing_error" ||
  type === "billing_error" || /credit balance is too low|exceeded your current quota/i.test(message)

/** The deepest `code` (ECONNREFUSED, ENOTFOUND, …) along an error's cause chain, and else its message. */
const transportReason = (cause: unknown): { readonly code?: string; readonly reason?: string } => {
  let current: unknown = cause
  let code: string | undefined
  let message: string | undefined
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const c = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
    if (typeof c.code === "string") code = c.code
    else if (message === undefined && typeof c.message === "string" && c.message !== "fetch failed") message = c.message
    if (Array.isArray(c.errors) && c.errors.length > 0) current = c.errors[0]
    else current = c.cause
  }
  const reason = code ?? message
  return { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) }
}

// A 404 (or any status) that says the model does not exist: OpenAI's code, Anthropic's not_found_error on
// the model, Ollama's "model ... not found".
const isUnknownModel = (status: number, code: string | undefined, type: string | undefined, message: string): boolean =>
  code === "model_not_found" ||
  (status === 404 && (type === "not_found_error" || code === "not_found" || /\bmodel\b/i.test(message)))

/** Classifies a failure into the LM error a caller acts on. */
export const toLMError = (failure: CallFailure, ctx: CallContext): LMError.LMError => {
  const clean = (s: string) => scrub(s, ctx.secrets)
  const base = { provider: ctx.provider, model: ctx.model }
  switch (failure.kind) {
    case "timeout":
      return new LMError.LMTimeout({
        ...base,
        timeoutMs: ctx.timeoutMs,
        detail: clean(`no response from ${ctx.baseURL} within ${ctx.timeoutMs} ms`)
      })
    case "connection": {
      const { code, reason } = transportReason(failure.cause)
      return new LMError.LMProviderError({
        ...base,
        transport: true,
        ...(code === undefined ? {} : { code }),
        detail: clean(
          `could not connect to ${ctx.baseURL}${reason === undefined ? "" : ` (${reason})`}: ${failure.message}`
        )
      })
    }
    case "malformed":
      return new LMError.LMMalformedResponse({
        ...base,
        ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
        detail: clean(failure.detail)
      })
    case "http":
      return fromHttp(failure, ctx, clean)
  }
}

const fromHttp = (
  failure: Extract<CallFailure, { kind: "http" }>,
  ctx: CallContext,
  clean: (s: string) => string
): LMError.LMError => {
  const { status, code, type } = failure
  const message = clean(failure.message)
  const fields = {
    provider: ctx.provider,
    model: ctx.model,
    status,
    ...(failure.requestId === undefined ? {} : { requestId: failure.requestId })
  }
  const described = [code ?? type, message].filter((s) => s !== undefined && s !== "").join(": ")
  const detail = described === "" ? `HTTP ${status} from ${ctx.baseURL}` : described
  if (status === 429) {
    if (isQuota(code, type, message)) return new LMError.LMQuotaExceeded({ ...fields, detail })
    const wait = retryAfterMs(failure.headers)
    return new LMError.LMRateLimited({ ...fields, detail, ...(wait === undefined ? {} : { retryAfterMs: wait }) })
  }
  if (status === 402) return new LMError.LMQuotaExceeded({ ...fields, detail })
  if (status === 401 || status === 403) return new LMError.LMAuthError({ ...fields, detail })
  if (isUnknownModel(status, code, type, message)) return new LMError.LMModelNotFound({ ...fields, detail })
  if (status === 529 || status >= 500) return new LMError.LMProviderError({ ...fields, detail })
  if (status === 408) {
    return new LMError.LMProviderError({ ...fields, detail: `${detail} (the server timed out the request)` })
  }
  if (status >= 400 && status < 500) {
    if (isContextWindow(code, message)) return new LMError.LMContextWindowExceeded({ ...fields, detail })
    if (isQuota(code, type, message)) return new LMError.LMQuotaExceeded({ ...fields, detail })
    return new LMError.LMBadRequest({
      ...fields,
      detail,
      ...(failure.param === undefined ? {} : { param: failure.param })
    })
  }
  return new LMError.LMProviderError({ ...fields, detail: `unexpected HTTP ${status}: ${detail}` })
}
