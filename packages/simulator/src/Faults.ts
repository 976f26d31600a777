/**
 * The faults a simulated call can get, and deciding which one (if any) a request gets. Explicit requests
 * (header, model suffix, once-header) always win so tests are exact; random rates come from a seeded PRNG
 * that draws exactly once per completion request, so the same seed and request order give the same fault
 * sequence whatever the outcome of each request.
 */

/**
 * Every way a simulated call can fail. Header/model-suffix names: `429`, `500`, `hang`, `stall` (status and
 * part of the body sent, then nothing), `malformed`,
 * `truncated`, `empty`, `context`, `quota`, `401`, `overloaded` (OpenAI 503 / Anthropic 529).
 */
export type FaultKind =
  | "429"
  | "500"
  | "hang"
  | "stall"
  | "malformed"
  | "truncated"
  | "empty"
  | "context"
  | "quota"
  | "401"
  | "overloaded"

export const FAULT_KINDS: ReadonlyArray<FaultKind> = [
  "429",
  "500",
  "hang",
  "stall",
  "malformed",
  "truncated",
  "empty",
  "context",
  "quota",
  "401",
  "overloaded"
]

/** What each fault does, one line each (the CLI's `--help` lists them). */
export const FAULT_DESCRIPTIONS: Readonly<Record<FaultKind, string>> = {
  "429": "rate-limit error (HTTP 429) with a retry-after header (--retry-after), sent at once",
  "500": "server error (HTTP 500), after the latency",
  hang: "takes the request and never answers, until the client gives up or the simulator stops",
  stall: "sends status 200, the headers and the start of the body, then nothing more",
  malformed: "a 200 whose body is cut-off JSON (or SSE) that no client can parse, after the latency",
  truncated: "the answer cut short: finish_reason \"length\" (Anthropic: stop_reason \"max_tokens\")",
  empty: "a 200 with empty content",
  context: "the provider's context-length error (HTTP 400), as for a prompt over --context-window",
  quota: "out-of-credit error (OpenAI: HTTP 429 insufficient_quota; Anthropic: HTTP 400), sent at once",
  "401": "authentication error (HTTP 401, invalid API key), sent at once",
  overloaded: "overloaded error (OpenAI: HTTP 503; Anthropic: HTTP 529), after the latency"
}

/** Random fault rates (probabilities 0..1 per completion request), drawn from the seeded PRNG. */
export interface FaultRates {
  readonly rateLimit429?: number
  /** Value of the `retry-after` header on 429s, in seconds (may be fractional); default 1. */
  readonly retryAfterSeconds?: number
  readonly server500?: number
  readonly overloaded?: number
  readonly hang?: number
  readonly malformed?: number
  readonly truncated?: number
  readonly empty?: number
}

/** mulberry32: tiny, fast and good enough for reproducible test randomness. */
export const createPrng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALIASES: Record<string, FaultKind> = {
  "429": "429",
  rate_limit: "429",
  ratelimit: "429",
  "500": "500",
  server_error: "500",
  error: "500",
  hang: "hang",
  timeout: "hang",
  stall: "stall",
  hang_body: "stall",
  malformed: "malformed",
  truncated: "truncated",
  length: "truncated",
  empty: "empty",
  context: "context",
  context_length: "context",
  quota: "quota",
  insufficient_quota: "quota",
  "401": "401",
  auth: "401",
  overloaded: "overloaded",
  "503": "overloaded",
  "529": "overloaded"
}

/** The other names each fault answers to in headers and model suffixes (`rate_limit` for `429`, ...). */
export const faultAliases = (kind: FaultKind): ReadonlyArray<string> =>
  Object.entries(ALIASES).filter(([name, k]) => k === kind && name !== kind).map(([name]) => name)

/** Thrown for an unknown fault name, so a typo in a test's header fails loudly (HTTP 400) instead of passing. */
export class UnknownFaultError extends Error {
  readonly kind: string
  constructor(kind: string) {
    super(`Unknown simulator fault "${kind}"; expected one of: ${FAULT_KINDS.join(", ")}`)
    this.kind = kind
  }
}

export const parseFaultKind = (raw: string): FaultKind => {
  const kind = ALIASES[raw.trim().toLowerCase()]
  if (kind === undefined) throw new UnknownFaultError(raw.trim())
  return kind
}

/** Splits `gpt-4o-mini:fault=429` into the real model name and the requested fault. */
export const splitModel = (model: string): { readonly model: string; readonly fault: FaultKind | undefined } => {
  const m = /^(.*?):fault=([\w-]+)$/.exec(model)
  return m ? { model: m[1]!, fault: parseFaultKind(m[2]!) } : { model, fault: undefined }
}

export interface FaultState {
  readonly draw: () => number
  /** Ids already seen in `x-sim-fault-once`; only their first request fails. */
  readonly seenOnce: Set<string>
}

export const createFaultState = (seed: number): FaultState => ({ draw: createPrng(seed), seenOnce: new Set() })

export interface FaultRequest {
  /** Value of `x-sim-fault`. */
  readonly header: string | undefined
  /** From the model name's `:fault=` suffix. */
  readonly modelFault: FaultKind | undefined
  /** Value of `x-sim-fault-once`: `<id>:<kind>`. */
  readonly once: string | undefined
}

const RANDOM_ORDER: ReadonlyArray<readonly [keyof FaultRates, FaultKind]> = [
  ["rateLimit429", "429"],
  ["server500", "500"],
  ["overloaded", "overloaded"],
  ["hang", "hang"],
  ["malformed", "malformed"],
  ["truncated", "truncated"],
  ["empty", "empty"]
]

/** The fault for one request, or undefined for a normal answer. Throws {@link UnknownFaultError}. */
export const decideFault = (state: FaultState, rates: FaultRates, request: FaultRequest): FaultKind | undefined => {
  const r = state.draw()
  if (request.header !== undefined && request.header.trim() !== "") return parseFaultKind(request.header)
  if (request.modelFault !== undefined) return request.modelFault
  if (request.once !== undefined && request.once.trim() !== "") {
    const at = request.once.lastIndexOf(":")
    if (at <= 0) throw new UnknownFaultError(request.once)
    const id = request.once.slice(0, at)
    const kind = parseFaultKind(request.once.slice(at + 1))
    if (!state.seenOnce.has(id)) {
      state.seenOnce.add(id)
      return kind
    }
  }
  let acc = 0
  for (const [key, kind] of RANDOM_ORDER) {
    const rate = rates[key] ?? 0
    if (rate <= 0) continue
    acc += rate
    if (r < acc) return kind
  }
  return undefined
}
