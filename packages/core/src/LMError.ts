/**
 * Typed LM errors, one class per failure a caller acts on differently. Each carries provider, model and
 * request id, whether a retry can help (`retryable`), whether no call can succeed until the set-up changes
 * (`fatal`: Evaluate stops at the first), and a suggestion. Only retryable errors are retried.
 */
import { Schema } from "effect"

const common = {
  provider: Schema.String,
  model: Schema.String,
  requestId: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  detail: Schema.String
}

const describe = (
  kind: string,
  e: { provider: string; model: string; requestId?: string | undefined; status?: number | undefined; detail: string }
) =>
  `${kind} from ${e.provider} (model ${e.model}${e.status === undefined ? "" : `, HTTP ${e.status}`}${
    e.requestId === undefined ? "" : `, request ${e.requestId}`
  }): ${e.detail}`

/** 429: too many requests; `retryAfterMs` comes from the provider's retry-after header when it sent one. */
export class LMRateLimited extends Schema.TaggedError<LMRateLimited>()("LMRateLimited", {
  ...common,
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  readonly retryable = true
  readonly fatal = false
  override get message() {
    return describe("Rate limited", this)
  }
  get suggestion() {
    return "Lower concurrency or requests per minute for this provider; DSPex retries after the retry-after delay."
  }
}

/** The account has no quota or credit left: neither a retry nor another example will help (fatal). */
export class LMQuotaExceeded extends Schema.TaggedError<LMQuotaExceeded>()("LMQuotaExceeded", common) {
  readonly retryable = false
  readonly fatal = true
  override get message() {
    return describe("Quota exceeded", this)
  }
  get suggestion() {
    return "Check the billing and quota of this API key."
  }
}

/** The request did not complete within the per-request timeout. */
export class LMTimeout extends Schema.TaggedError<LMTimeout>()("LMTimeout", { ...common, timeoutMs: Schema.Number }) {
  readonly retryable = true
  readonly fatal = false
  override get message() {
    return describe(`Timed out after ${this.timeoutMs} ms`, this)
  }
  get suggestion() {
    return "Raise the request timeout, lower max tokens, or check the provider's status."
  }
}

/** The prompt (plus max tokens) does not fit the model's context window. */
export class LMContextWindowExceeded
  extends Schema.TaggedError<LMContextWindowExceeded>()("LMContextWindowExceeded", common)
{
  readonly retryable = false
  readonly fatal = false
  override get message() {
    return describe("Context window exceeded", this)
  }
  get suggestion() {
    return "Shorten the inputs, use fewer demos, or pick a model with a larger context window."
  }
}

/** The API key is missing, invalid or lacks permission: every call with it fails the same way (fatal). */
export class LMAuthError extends Schema.TaggedError<LMAuthError>()("LMAuthError", common) {
  readonly retryable = false
  readonly fatal = true
  override get message() {
    return describe("Authentication failed", this)
  }
  get suggestion() {
    return "Set a valid API key (e.g. OPENAI_API_KEY / ANTHROPIC_API_KEY) for this provider."
  }
}

/**
 * The provider does not serve this model (an unknown or retired name, or one this key may not use): every
 * call to it fails the same way (fatal).
 */
export class LMModelNotFound extends Schema.TaggedError<LMModelNotFound>()("LMModelNotFound", common) {
  readonly retryable = false
  readonly fatal = true
  override get message() {
    return describe("Unknown model", this)
  }
  get suggestion() {
    return `Check the model name after the provider prefix ("${this.provider}/<model>"); the provider's model list shows the names this key can use.`
  }
}

/** The provider rejected the request as malformed (bad parameter, unsupported option). */
export class LMBadRequest
  extends Schema.TaggedError<LMBadRequest>()("LMBadRequest", { ...common, param: Schema.optional(Schema.String) })
{
  readonly retryable = false
  readonly fatal = false
  override get message() {
    return describe("Bad request", this)
  }
  get suggestion() {
    return "Check the model id and request options (response_format, max tokens, temperature) for this provider."
  }
}

/** 5xx, overloaded, or a transport failure (connection refused, reset, DNS). */
export class LMProviderError extends Schema.TaggedError<LMProviderError>()("LMProviderError", {
  ...common,
  transport: Schema.optional(Schema.Boolean),
  /** The transport error's code when the provider could not be reached (`ECONNREFUSED`, `ENOTFOUND`, ...). */
  code: Schema.optional(Schema.String)
}) {
  readonly retryable = true
  readonly fatal = false
  override get message() {
    return describe(this.transport === true ? "Could not reach the provider" : "Provider error", this)
  }
  get suggestion() {
    if (isUnreachable(this)) {
      return "Nothing answers at that address: start the server, or fix the base URL (e.g. OPENAI_BASE_URL) or host name."
    }
    return this.transport === true
      ? "Check the base URL and that the server is running and reachable."
      : "Retry later; the provider had an internal error."
  }
}

/** Transport codes that say nobody is there (a closed port, an unknown host): retried only briefly. */
const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND"])

/**
 * True for a transport failure that says the endpoint is not there at all (connection refused, unknown
 * host): the LanguageModel runtime retries these at most twice, quickly, as waiting rarely brings a server up.
 *
 * @example
 * ```ts
 * import { LMError } from "@dspex/core"
 *
 * LMError.isUnreachable(new LMError.LMProviderError({ provider: "openai", model: "m", detail: "", transport: true, code: "ECONNREFUSED" })) // true
 * ```
 */
export const isUnreachable = (e: LMError): boolean =>
  e._tag === "LMProviderError" && e.transport === true && e.code !== undefined && unreachableCodes.has(e.code)

/** A 200 whose body is not a usable completion (invalid JSON, no choices, empty or truncated output). */
export class LMMalformedResponse extends Schema.TaggedError<LMMalformedResponse>()("LMMalformedResponse", common) {
  readonly retryable = true
  readonly fatal = false
  override get message() {
    return describe("Malformed response", this)
  }
  get suggestion() {
    return "Retry; if it persists, raise max tokens (truncation) or report it to the provider."
  }
}

/**
 * DSPex cannot make LM calls as configured: a missing or invalid variable (an API key, a base URL, a
 * `DSPEX_*` setting), an unknown provider prefix, no provider layer, no LM. Fatal: nothing succeeds until
 * the configuration changes. `variable` names the setting at fault; `fix` says what to set.
 */
export class LMConfigurationError extends Schema.TaggedError<LMConfigurationError>()("LMConfigurationError", {
  /** The model concerned ("provider/model"), when there is one. */
  model: Schema.optional(Schema.String),
  /** The provider whose set-up failed, when there is one. */
  provider: Schema.optional(Schema.String),
  /** The environment variable (config key) that is missing or invalid. */
  variable: Schema.optional(Schema.String),
  detail: Schema.String,
  /** What to set or change, when more specific than the general advice. */
  fix: Schema.optional(Schema.String)
}) {
  readonly retryable = false
  readonly fatal = true
  override get message() {
    const subject = this.model !== undefined
      ? ` for "${this.model}"`
      : this.provider !== undefined
      ? ` for provider "${this.provider}"`
      : ""
    return `LM configuration error${subject}: ${this.detail}${this.fix === undefined ? "" : `. ${this.fix}`}`
  }
  get suggestion() {
    return this.fix ??
      "Provide a provider layer (OpenAi.layer, Anthropic.layer, OpenAiCompatible.layer) and an LM such as \"openai/gpt-4o-mini\"."
  }
}

export type LMError =
  | LMRateLimited
  | LMQuotaExceeded
  | LMTimeout
  | LMContextWindowExceeded
  | LMAuthError
  | LMModelNotFound
  | LMBadRequest
  | LMProviderError
  | LMMalformedResponse
  | LMConfigurationError

const lmTags = new Set([
  "LMRateLimited",
  "LMQuotaExceeded",
  "LMTimeout",
  "LMContextWindowExceeded",
  "LMAuthError",
  "LMModelNotFound",
  "LMBadRequest",
  "LMProviderError",
  "LMMalformedResponse",
  "LMConfigurationError"
])

export const isLMError = (u: unknown): u is LMError =>
  typeof u === "object" && u !== null && lmTags.has((u as { _tag?: string })._tag ?? "")

export const isRetryable = (e: LMError): boolean => e.retryable

/**
 * True for an error that no retry and no other input can fix (bad key, unknown model or provider, missing
 * configuration, no quota): Evaluate stops at the first one. Any value with `fatal: true` counts, so a
 * program's own errors can opt in.
 *
 * @example
 * ```ts
 * import { LMError } from "@dspex/core"
 *
 * LMError.isFatal(new LMError.LMAuthError({ provider: "openai", model: "gpt-4o-mini", detail: "invalid key" })) // true
 * LMError.isFatal(new LMError.LMTimeout({ provider: "openai", model: "gpt-4o-mini", detail: "no answer", timeoutMs: 60_000 })) // false
 * ```
 */
export const isFatal = (u: unknown): boolean =>
  typeof u === "object" && u !== null && (u as { fatal?: unknown }).fatal === true
