/**
 * Public option, stats and hook types of the simulator, kept apart from the server so the CLI, tests and
 * other packages can import them without pulling in routing code.
 */
import type { IncomingHttpHeaders } from "node:http"
import type { ParsedPrompt, SimMessage } from "./PromptReader.ts"

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

export interface LatencyOptions {
  /** Added to every completion (not to auth, validation or rate-limit rejections, which real APIs answer fast). */
  readonly fixedMs?: number
  /** Uniform extra delay in [0, jitterMs], drawn from the seeded PRNG. */
  readonly jitterMs?: number
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

/** What an `answers` hook sees: the request after the simulator has read it. */
export interface SimRequest {
  readonly provider: "openai" | "anthropic"
  /** The model name without any `:fault=` suffix. */
  readonly model: string
  /** All turns as plain text, system prompt first. */
  readonly messages: ReadonlyArray<SimMessage>
  readonly prompt: ParsedPrompt
  readonly body: Readonly<Record<string, unknown>>
  readonly headers: IncomingHttpHeaders
  /** Which of the `n` choices is being generated. */
  readonly choiceIndex: number
}

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 0 (a free port). */
  readonly port?: number
  readonly latency?: LatencyOptions
  readonly faults?: FaultRates
  /** Seeds the PRNG behind fault rates and jitter, so a run's fault sequence is reproducible. Default 1. */
  readonly seed?: number
  /** If set, only these keys authenticate; otherwise any non-empty key not starting with `sk-invalid`. */
  readonly apiKeys?: ReadonlyArray<string>
  /** Prompts estimated (chars/4) above this get the provider's context-length error. Default 128000. */
  readonly contextWindowTokens?: number
  /**
   * Custom answers: return the assistant text for a request, or undefined to use the built-in solver.
   * Consulted once per choice for text replies (not when the simulator decides to call a tool, nor for
   * `empty` faults); stop sequences, max tokens and `truncated` still apply to what it returns.
   */
  readonly answers?: (request: SimRequest) => string | undefined
}

/** Counters since start or the last `resetStats()`. */
export interface SimulatorStats {
  /** Requests to provider routes (everything except `/_sim/*`). */
  readonly totalRequests: number
  /** Keyed by `METHOD /path`, e.g. `POST /v1/chat/completions`. */
  readonly byRoute: Readonly<Record<string, number>>
  /** Keyed by model name without the `:fault=` suffix. */
  readonly byModel: Readonly<Record<string, number>>
  /** Keyed by HTTP status sent (hung requests have none). */
  readonly byStatus: Readonly<Record<string, number>>
  /** Injected faults (header, model suffix, once-header or random), by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>
  readonly inFlight: number
  readonly maxInFlight: number
}
