/**
 * The LM cache key, as DSPy computes it: SHA-256 hex over canonical (sorted-key, compact) JSON of the
 * request dict `{model, messages, temperature, max_tokens, n, stop, rollout_id, response_format, tools,
 * ...kwargs}`. Secrets, endpoints and client-side knobs (retries, the cache flag, headers) never enter it.
 * The LanguageModel runtime stores entries under that key namespaced by the provider's endpoint
 * (`namespacedKey`), so two servers answering to the same model name never share answers.
 */
import { hash } from "node:crypto"
import type { CacheKeyRequest } from "../Cache.ts"
import type { Message } from "../Message.ts"

/** kwargs that never enter the key (DSPy's ignored args plus client-only settings). */
const excludedKwargs = new Set([
  "api_key",
  "apiKey",
  "api_base",
  "apiBase",
  "base_url",
  "baseUrl",
  "baseURL",
  "num_retries",
  "numRetries",
  "cache",
  "headers",
  "extra_headers"
])

/**
 * The request settings in DSPy's names (what DSPy puts next to `model` and `messages`), undefined
 * settings left out. Named settings win over same-named kwargs, as they are what a provider sends.
 * Also used as the `kwargs` of history entries and LMStart events, so it is built once per call.
 *
 * @example
 * dspyKwargs({ temperature: 0, maxTokens: 100 }) // => { temperature: 0, max_tokens: 100 }
 */
export const dspyKwargs = (r: Omit<CacheKeyRequest, "model" | "messages">): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (r.kwargs !== undefined) {
    for (const k in r.kwargs) {
      const v = r.kwargs[k]
      if (v !== undefined && !excludedKwargs.has(k)) out[k] = v
    }
  }
  if (r.temperature !== undefined) out.temperature = r.temperature
  if (r.maxTokens !== undefined) out.max_tokens = r.maxTokens
  // n = 1 is what the provider does anyway; keying it separately would split identical requests.
  if (r.n !== undefined && r.n !== 1) out.n = r.n
  if (r.stop !== undefined) out.stop = r.stop
  if (r.rolloutId !== undefined) out.rollout_id = r.rolloutId
  if (r.responseFormat !== undefined) out.response_format = r.responseFormat
  if (r.tools !== undefined) out.tools = r.tools
  return out
}

/**
 * Canonical JSON: object keys sorted at every level, no whitespace, undefined members dropped (null in
 * arrays, as JSON.stringify does). One pass, so large message lists are serialised exactly once.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }) // => '{"a":[true,null],"b":1}'
 */
export const canonicalJson = (value: unknown): string => write(value) ?? "null"

// Object keys repeat across calls (role, content, type, ...): quote each once.
const quotedKeys = new Map<string, string>()
const quote = (k: string): string => {
  let q = quotedKeys.get(k)
  if (q === undefined) {
    q = JSON.stringify(k)
    if (quotedKeys.size < 4096) quotedKeys.set(k, q)
  }
  return q
}

const write = (v: unknown): string | undefined => {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v)
    case "number":
      return Number.isFinite(v) ? String(v) : "null"
    case "boolean":
      return v ? "true" : "false"
    case "bigint":
      return v.toString()
    case "undefined":
    case "function":
    case "symbol":
      return undefined
  }
  if (v === null) return "null"
  if (Array.isArray(v)) {
    const parts = new Array<string>(v.length)
    for (let i = 0; i < v.length; i++) parts[i] = write(v[i]) ?? "null"
    return "[" + parts.join(",") + "]"
  }
  const toJSON = (v as { toJSON?: unknown }).toJSON
  if (typeof toJSON === "function") return write((toJSON as () => unknown).call(v))
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length > 1) keys.sort()
  let s = "{"
  let first = true
  for (const k of keys) {
    const w = write(o[k])
    if (w === undefined) continue
    s += (first ? "" : ",") + quote(k) + ":" + w
    first = false
  }
  return s + "}"
}

/** The key over already-resolved parts (`Cache.cacheKey`, and the LanguageModel runtime's path: kwargs are built once). */
export const cacheKeyOf = (
  model: string,
  messages: ReadonlyArray<Message>,
  kwargs: Readonly<Record<string, unknown>>
): string => hash("sha256", canonicalJson({ ...kwargs, model, messages }), "hex")

/**
 * The key an answer is stored under: DSPy's key, prefixed by the endpoint (base URL) that gave it.
 *
 * @example
 * namespacedKey("http://localhost:8000/v1/", key) // "http://localhost:8000/v1 3f1c…"
 */
export const namespacedKey = (endpoint: string | undefined, key: string): string =>
  endpoint === undefined ? key : `${endpoint.replace(/\/+$/, "")} ${key}`
