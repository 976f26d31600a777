/**
 * The request pipeline shared by the OpenAI and Anthropic routes: authenticate, parse, validate, decide the
 * fault, wait the simulated latency, then answer. Providers plug in only their wire formats, so both
 * behave the same way under the same options and headers.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import {
  decideFault,
  type FaultKind,
  type FaultRates,
  type FaultState,
  splitModel,
  UnknownFaultError
} from "../Faults.ts"
import { HEADER as OPTIMIZABLE_HEADER, headerMode, OptimizableError, splitModel as splitMode } from "../Optimizable.ts"
import type { SimMessage } from "../PromptReader.ts"
import type { LatencyOptions, SimRequest } from "../Simulator.ts"
import type { ToolSpec } from "../Tasks.ts"
import { BodyTooLargeError, header, readBody, type Sender, sendJson } from "./http.ts"
import type { SampleCounter } from "./optimizableReplies.ts"
import { buildChoices, type Choice, promptTokens, type ToolMode } from "./responder.ts"

export type Json = Record<string, unknown>
export const isObj = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x)

export type ErrorKind =
  | "auth_missing"
  | "auth_invalid"
  | "bad_json"
  | "invalid"
  | "rate_limit"
  | "quota"
  | "server"
  | "overloaded"
  | "context"
  | "not_found"

export interface ErrorInfo {
  readonly message?: string
  readonly param?: string
  readonly code?: string
  readonly model?: string
  readonly key?: string
  readonly promptTokens?: number
  readonly limit?: number
  readonly retryAfterSeconds?: number
}

/** The request, as read by a provider: plain-text turns plus the knobs that shape the reply. */
export interface Conversation {
  readonly model: string
  readonly messages: ReadonlyArray<SimMessage>
  readonly tools: ReadonlyArray<ToolSpec>
  readonly toolMode: ToolMode
  readonly responseFormat: unknown
  readonly n: number
  readonly temperature: number
  readonly stop: ReadonlyArray<string>
  readonly maxTokens: number | undefined
  readonly stream: boolean
}

/** Per-request handle the provider writes its response through. */
export interface RequestContext extends Sender {
  readonly req: IncomingMessage
  readonly requestId: string
  readonly newId: (prefix: string) => string
}

export interface Outcome {
  readonly body: Json
  readonly conversation: Conversation
  readonly model: string
  readonly choices: ReadonlyArray<Choice>
  readonly promptTokens: number
}

export interface ProviderSpec {
  readonly name: "openai" | "anthropic"
  readonly requestIdHeader: string
  readonly apiKey: (req: IncomingMessage) => string | undefined
  readonly error: (
    kind: ErrorKind,
    info: ErrorInfo,
    requestId: string
  ) => { readonly status: number; readonly body: unknown }
  /** A 400 message (and parameter) for a body the real API would reject, or undefined. */
  readonly validate: (body: Json) => ErrorInfo | undefined
  readonly conversation: (body: Json) => Conversation
  readonly respond: (ctx: RequestContext, outcome: Outcome) => void
  /** A 200 whose body the SDK cannot parse (broken JSON, or a broken SSE event when streaming). */
  readonly malformed: (ctx: RequestContext, stream: boolean) => void
}

/** The live pieces of simulator state the pipeline needs. */
export interface PipelineState {
  readonly apiKeys: ReadonlyArray<string> | undefined
  readonly latency: LatencyOptions
  readonly faults: FaultRates
  readonly contextWindowTokens: number
  readonly answers: ((request: SimRequest) => string | undefined) | undefined
  readonly faultState: FaultState
  /** The `optimizable` start option: the mode for requests that do not choose it themselves. */
  readonly optimizable: boolean
  readonly samples: SampleCounter
  readonly jitter: () => number
  readonly countModel: (model: string) => void
  readonly countFault: (kind: FaultKind) => void
  /** Resolves true after `ms`, false if the client went away or the simulator closed first. */
  readonly sleep: (res: ServerResponse, ms: number) => Promise<boolean>
  /** Keeps a response open forever (until the client aborts or the simulator closes). */
  readonly hang: (res: ServerResponse) => void
}

export const keyIsValid = (key: string | undefined, apiKeys: ReadonlyArray<string> | undefined): boolean => {
  if (key === undefined || key === "") return false
  return apiKeys ? apiKeys.includes(key) : !key.startsWith("sk-invalid")
}

export const sendError = (ctx: RequestContext, spec: ProviderSpec, kind: ErrorKind, info: ErrorInfo = {}): void => {
  const { status, body } = spec.error(kind, info, ctx.requestId)
  const extra: Record<string, string> = {}
  if (kind === "rate_limit" && info.retryAfterSeconds !== undefined) {
    extra["retry-after"] = String(info.retryAfterSeconds)
  }
  sendJson(ctx, status, body, extra)
}

/** Checks the key the provider's way; sends the 401 and returns false when it is missing or wrong. */
export const authenticate = (ctx: RequestContext, spec: ProviderSpec, state: PipelineState): boolean => {
  const key = spec.apiKey(ctx.req)
  if (keyIsValid(key, state.apiKeys)) return true
  sendError(ctx, spec, key === undefined ? "auth_missing" : "auth_invalid", key === undefined ? {} : { key })
  return false
}

/** The simulated latency of this request: its `x-sim-latency-ms` header, else the options'. */
export const latencyFor = (ctx: RequestContext, state: PipelineState): number => {
  const override = header(ctx.req, "x-sim-latency-ms")
  if (override !== undefined && Number.isFinite(Number(override))) return Math.max(0, Number(override))
  const fixed = state.latency.fixedMs ?? 0
  const jitter = state.latency.jitterMs ?? 0
  return fixed + (jitter > 0 ? state.jitter() * jitter : 0)
}

/** A request past authentication, body parsing, validation and the fault decision. */
export interface Admitted {
  /** performance.now() when it arrived: the simulated latency counts from here. */
  readonly arrived: number
  readonly body: Json
  /** The model name without any `:fault=` or `:optimizable` suffix. */
  readonly model: string
  readonly fault: FaultKind | undefined
  /** Whether the request is in the optimizable mode (header, model suffix, else the start option). */
  readonly optimizable: boolean
}

/**
 * The steps every provider route starts with: authenticate, read and parse the body, validate it
 * (`validate`, the route's own rules), decide the fault (counted). Undefined when the request was
 * answered with an error already.
 */
export const admit = async (
  ctx: RequestContext,
  spec: ProviderSpec,
  state: PipelineState,
  validate: (body: Json) => ErrorInfo | undefined
): Promise<Admitted | undefined> => {
  const arrived = performance.now()
  if (!authenticate(ctx, spec, state)) return undefined
  let raw: string
  try {
    raw = await readBody(ctx.req)
  } catch (e) {
    if (e instanceof BodyTooLargeError) sendError(ctx, spec, "invalid", { message: e.message })
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (e) {
    sendError(ctx, spec, "bad_json", { message: e instanceof Error ? e.message : String(e) })
    return undefined
  }
  if (!isObj(parsed)) {
    sendError(ctx, spec, "bad_json", { message: "the request body must be a JSON object" })
    return undefined
  }
  const body = parsed
  const invalid = validate(body)
  if (invalid) {
    sendError(ctx, spec, "invalid", invalid)
    return undefined
  }
  let fault: FaultKind | undefined
  let model: string
  let optimizable: boolean
  try {
    const mode = splitMode(String(body["model"]))
    const split = splitModel(mode.model)
    model = split.model
    state.countModel(model)
    fault = decideFault(state.faultState, state.faults, {
      header: header(ctx.req, "x-sim-fault"),
      modelFault: split.fault,
      once: header(ctx.req, "x-sim-fault-once")
    })
    // After the fault draw, so a bad mode header does not shift the seeded fault sequence.
    optimizable = headerMode(header(ctx.req, OPTIMIZABLE_HEADER)) ?? (mode.optimizable || state.optimizable)
  } catch (e) {
    if (e instanceof OptimizableError) {
      sendError(ctx, spec, "invalid", { message: e.message, param: OPTIMIZABLE_HEADER })
      return undefined
    }
    if (!(e instanceof UnknownFaultError)) throw e
    sendError(ctx, spec, "invalid", { message: e.message, param: "x-sim-fault" })
    return undefined
  }
  if (fault !== undefined) state.countFault(fault)
  return { arrived, body, model, fault, optimizable }
}

/** Runs one completion request end to end. */
export const runCompletion = async (ctx: RequestContext, spec: ProviderSpec, state: PipelineState): Promise<void> => {
  const admitted = await admit(ctx, spec, state, spec.validate)
  if (admitted === undefined) return
  const { arrived, body, model, fault, optimizable } = admitted
  const conversation = spec.conversation({ ...body, model })
  const tokens = promptTokens(conversation.messages)
  const retryAfterSeconds = state.faults.retryAfterSeconds ?? 1

  // Rejections a real API makes before doing any work come back without the simulated latency.
  if (fault === "401") return sendError(ctx, spec, "auth_invalid", { key: spec.apiKey(ctx.req) ?? "" })
  if (fault === "429") return sendError(ctx, spec, "rate_limit", { model, retryAfterSeconds })
  if (fault === "quota") return sendError(ctx, spec, "quota", { model })
  if (fault === "context" || tokens > state.contextWindowTokens) {
    const limit = state.contextWindowTokens
    return sendError(ctx, spec, "context", { model, limit, promptTokens: Math.max(tokens, limit + 1) })
  }
  if (fault === "hang") return state.hang(ctx.res)
  if (fault === "stall") {
    // The status line, headers and the start of a body, then silence: a client deadline that stops at
    // the response headers never fires here.
    ctx.res.writeHead(200, { "content-type": conversation.stream ? "text/event-stream" : "application/json" })
    ctx.res.write(conversation.stream ? ": started\n\n" : "{\"id\": ")
    return state.hang(ctx.res)
  }

  const waitMs = latencyFor(ctx, state)
  const answers = fault === "500" || fault === "overloaded" || fault === "malformed" ? undefined : buildChoices({
    provider: spec.name,
    model,
    messages: conversation.messages,
    body,
    headers: ctx.req.headers,
    responseFormat: conversation.responseFormat,
    tools: conversation.tools,
    toolMode: conversation.toolMode,
    n: conversation.n,
    temperature: conversation.temperature,
    stop: conversation.stop,
    maxTokens: conversation.maxTokens,
    fault: fault === "truncated" || fault === "empty" ? fault : undefined,
    answers: state.answers,
    optimizable: optimizable ? state.samples : undefined,
    newId: ctx.newId
  })
  // The latency is the server's whole time on the request, as a client sees a real API's: the work done
  // since the request arrived counts toward it (otherwise every call would take latency + that work).
  const remainingMs = waitMs - (performance.now() - arrived)
  if (waitMs > 0 && remainingMs > 0 && !(await state.sleep(ctx.res, remainingMs))) return
  if (waitMs > 0 && ctx.res.destroyed) return

  if (fault === "500") return sendError(ctx, spec, "server", { model })
  if (fault === "overloaded") return sendError(ctx, spec, "overloaded", { model })
  if (fault === "malformed" || answers === undefined) return spec.malformed(ctx, conversation.stream)

  spec.respond(ctx, { body, conversation, model, choices: answers.choices, promptTokens: tokens })
}
