/**
 * Typed LM errors, one class per failure a caller acts on differently. Each carries provider, model and
 * request id, whether a retry can help (`retryable`), and a suggestion. Only retryable errors are retried.
 */
import { Schema } from "effect"

const common = {
  provider: Schema.String,
  model: Schema.String,
  requestId: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  detail: Schema.String
}

const describe = (kind: string, e: { provider: string; model: string; requestId?: string | undefined; status?: number | undefined; detail: string }) =>
  `${kind} from ${e.provider} (model ${e.model}${e.status === undefined ? "" : `, HTTP ${e.status}`}${e.requestId === undefined ? "" : `, request ${e.requestId}`}): ${e.detail}`

/** 429: too many requests; `retryAfterMs` comes from the provider's retry-after header when it sent one. */
export class LMRateLimited extends Schema.TaggedError<LMRateLimited>()("LMRateLimited", {
  ...common,
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  readonly retryable = true
  override get message() { return describe("Rate limited", this) }
  get suggestion() { return "Lower concurrency or requests per minute for this provider; DSPex retries after the retry-after delay." }
}

/** The account has no quota or credit left: retrying will not help. */
export class LMQuotaExceeded extends Schema.TaggedError<LMQuotaExceeded>()("LMQuotaExceeded", common) {
  readonly retryable = false
  override get message() { return describe("Quota exceeded", this) }
  get suggestion() { return "Check the billing and quota of this API key." }
}

/** The request did not complete within the per-request timeout. */
export class LMTimeout extends Schema.TaggedError<LMTimeout>()("LMTimeout", { ...common, timeoutMs: Schema.Number }) {
  readonly retryable = true
  override get message() { return describe(`Timed out after ${this.timeoutMs} ms`, this) }
  get suggestion() { return "Raise the request timeout, lower max tokens, or check the provider's status." }
}

/** The prompt (plus max tokens) does not fit the model's context window. */
export class LMContextWindowExceeded extends Schema.TaggedError<LMContextWindowExceeded>()("LMContextWindowExceeded", common) {
  readonly retryable = false
  override get message() { return describe("Context window exceeded", this) }
  get suggestion() { return "Shorten the inputs, use fewer demos, or pick a model with a larger context window." }
}

/** The API key is missing, invalid or lacks permission. */
export class LMAuthError extends Schema.TaggedError<LMAuthError>()("LMAuthError", common) {
  readonly retryable = false
  override get message() { return describe("Authentication failed", this) }
  get suggestion() { return "Set a valid API key (e.g. OPENAI_API_KEY / ANTHROPIC_API_KEY) for this provider." }
}

/** The provider rejected the request as malformed (bad parameter, unsupported option). */
export class LMBadRequest extends Schema.TaggedError<LMBadRequest>()("LMBadRequest", { ...common, param: Schema.optional(Schema.String) }) {
  readonly retryable = false
  override get message() { return describe("Bad request", this) }
  get suggestion() { return "Check the model id and request options (response_format, max tokens, temperature) for this provider." }
}

/** 5xx, overloaded, or a transport failure (connection refused, reset, DNS). */
export class LMProviderError extends Schema.TaggedError<LMProviderError>()("LMProviderError", {
  ...common,
  transport: Schema.optional(Schema.Boolean)
}) {
  readonly retryable = true
  override get message() { return describe(this.transport === true ? "Could not reach the provider" : "Provider error", this) }
  get suggestion() {
    return this.transport === true ? "Check the base URL and that the server is running and reachable." : "Retry later; the provider had an internal error."
  }
}

/** A 200 whose body is not a usable completion (invalid JSON, no choices, empty or truncated output). */
export class LMMalformedResponse extends Schema.TaggedError<LMMalformedResponse>()("LMMalformedResponse", common) {
  readonly retryable = true
  override get message() { return describe("Malformed response", this) }
  get suggestion() { return "Retry; if it persists, raise max tokens (truncation) or report it to the provider." }
}

/** The LM is not usable as configured (unknown provider prefix, no provider layer, no LM configured). */
export class LMConfigurationError extends Schema.TaggedError<LMConfigurationError>()("LMConfigurationError", {
  model: Schema.String,
  detail: Schema.String
}) {
  readonly retryable = false
  override get message() { return `LM configuration error for "${this.model}": ${this.detail}` }
  get suggestion() { return "Provide a provider layer (OpenAi.layer, Anthropic.layer, OpenAiCompatible.layer) and an LM such as \"openai/gpt-4o-mini\"." }
}

export type LMError =
  | LMRateLimited
  | LMQuotaExceeded
  | LMTimeout
  | LMContextWindowExceeded
  | LMAuthError
  | LMBadRequest
  | LMProviderError
  | LMMalformedResponse
  | LMConfigurationError

const lmTags = new Set([
  "LMRateLimited", "LMQuotaExceeded", "LMTimeout", "LMContextWindowExceeded", "LMAuthError",
  "LMBadRequest", "LMProviderError", "LMMalformedResponse", "LMConfigurationError"
])

export const isLMError = (u: unknown): u is LMError =>
  typeof u === "object" && u !== null && lmTags.has((u as { _tag?: string })._tag ?? "")

export const isRetryable = (e: LMError): boolean => e.retryable
