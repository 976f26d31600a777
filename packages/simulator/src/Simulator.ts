/**
 * The simulator server: routing, live options, stats and lifecycle (`start`). One node:http server serves both
 * providers so a test (or benchmark) can point OpenAI and Anthropic clients at the same process and read
 * one set of counters.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import {
  createFaultState,
  createPrng,
  FAULT_KINDS,
  type FaultKind,
  type FaultRates,
  type FaultState
} from "./Faults.ts"
import { anthropicModels, anthropicProvider } from "./internal/anthropicRoutes.ts"
import {
  authenticate,
  isObj,
  type PipelineState,
  type ProviderSpec,
  type RequestContext,
  runCompletion,
  sendError
} from "./internal/completion.ts"
import { runEmbeddings } from "./internal/embeddingRoutes.ts"
import { readBody, type Sender, sendJson } from "./internal/http.ts"
import { openAiModels, openAiProvider } from "./internal/openAiRoutes.ts"
import { SampleCounter } from "./internal/optimizableReplies.ts"
import type { ParsedPrompt, SimMessage } from "./PromptReader.ts"

export interface LatencyOptions {
  /** Added to every completion (not to auth, validation or rate-limit rejections, which real APIs answer fast). */
  readonly fixedMs?: number
  /** Uniform extra delay in [0, jitterMs], drawn from the seeded PRNG. */
  readonly jitterMs?: number
}

/** What an `answers` hook sees: the request after the simulator has read it. */
export interface SimRequest {
  readonly provider: "openai" | "anthropic"
  /** The model name without any `:fault=` or `:optimizable` suffix. */
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
  /**
   * Seeds the PRNG behind fault rates and jitter, and where optimizable proposals start, so a run is
   * reproducible. Default 1.
   */
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
  /**
   * Puts every request in the optimizable mode (see `Optimizable`); a request's `x-sim-optimizable: 0`
   * header takes it out. Default false: only requests with a `:optimizable` model suffix or the header.
   */
  readonly optimizable?: boolean
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

/** Options to change at run time; an explicit `undefined` clears an option (e.g. `apiKeys`). */
export type SimulatorPatch = { readonly [K in keyof SimulatorOptions]?: SimulatorOptions[K] | undefined }

/** A running simulator. */
export interface Simulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** `${url}/v1`: the `baseURL` for the `openai` client. */
  readonly openaiBaseUrl: string
  /** `${url}`: the `baseURL` for the `@anthropic-ai/sdk` client (it appends `/v1/messages` itself). */
  readonly anthropicBaseUrl: string
  readonly port: number
  /** A snapshot of the counters (safe to keep; later requests do not mutate it). */
  readonly stats: () => SimulatorStats
  /** Zeroes the counters (not the fault state: `x-sim-fault-once` ids stay spent, the PRNG keeps its place). */
  readonly resetStats: () => void
  /**
   * Changes options for subsequent requests. `latency` and `faults` merge key by key (set a rate to 0 to
   * stop it); `seed` restarts the fault and jitter sequences and the optimizable mode's proposal samples.
   */
  readonly configure: (options: SimulatorPatch) => void
  /** Closes the server and every socket, hanging requests included; resolves once all are closed. */
  readonly close: () => Promise<void>
}

/** Model ids `GET /v1/models` lists; any model name is accepted on completion and embedding routes. */
export const SIMULATED_MODELS: ReadonlyArray<string> = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "o4-mini",
  "claude-sonnet-4-5",
  "claude-haiku-4-5",
  "claude-opus-4-1",
  "text-embedding-3-small",
  "text-embedding-3-large"
]

interface MutableStats {
  totalRequests: number
  byRoute: Record<string, number>
  byModel: Record<string, number>
  byStatus: Record<string, number>
  faults: Record<FaultKind, number>
  maxInFlight: number
}

const emptyStats = (inFlight: number): MutableStats => ({
  totalRequests: 0,
  byRoute: {},
  byModel: {},
  byStatus: {},
  faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
  maxInFlight: inFlight
})

const bump = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}

/**
 * Starts a simulator; resolves once it is listening.
 *
 * @example
 * ```ts
 * import { Simulator } from "@dspex/simulator"
 * import OpenAI from "openai"
 *
 * const sim = await Simulator.start({ latency: { fixedMs: 50 } }) // on a free port
 * const client = new OpenAI({ apiKey: "sk-test", baseURL: sim.openaiBaseUrl })
 * const reply = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "What is 2 + 2?" }] })
 * reply.choices[0]?.message.content // "4"
 * await sim.close()
 * ```
 */
export const start = async (initial: SimulatorOptions = {}): Promise<Simulator> => {
  let options: SimulatorPatch = { ...initial }
  let faultState: FaultState = createFaultState(options.seed ?? 1)
  let jitter = createPrng(((options.seed ?? 1) ^ 0x9e3779b9) >>> 0)
  let samples = new SampleCounter(options.seed ?? 1)
  let inFlight = 0
  let stats = emptyStats(0)
  let closed = false
  let idCounter = 0
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: (ok: boolean) => void }>()
  const sockets = new Set<Socket>()
  const openResponses = new Set<ServerResponse>()
  const idPrefix = Date.now().toString(36)
  const newId = (prefix: string) =>
    `${prefix}${prefix === "chatcmpl" ? "-" : "_"}sim${idPrefix}${(++idCounter).toString(36)}`

  const state: PipelineState = {
    get apiKeys() {
      return options.apiKeys
    },
    get latency() {
      return options.latency ?? {}
    },
    get faults() {
      return options.faults ?? {}
    },
    get contextWindowTokens() {
      return options.contextWindowTokens ?? 128000
    },
    get answers() {
      return options.answers
    },
    get faultState() {
      return faultState
    },
    get optimizable() {
      return options.optimizable ?? false
    },
    get samples() {
      return samples
    },
    jitter: () => jitter(),
    countModel: (model) => bump(stats.byModel, model),
    countFault: (kind) => {
      stats.faults[kind]++
    },
    sleep: (res, ms) =>
      new Promise<boolean>((resolve) => {
        if (closed || res.destroyed) return resolve(false)
        const entry = {
          timer: setTimeout(() => {
            timers.delete(entry)
            res.off("close", onClose)
            resolve(!closed && !res.destroyed)
          }, ms),
          resolve
        }
        const onClose = () => {
          clearTimeout(entry.timer)
          timers.delete(entry)
          resolve(false)
        }
        timers.add(entry)
        res.once("close", onClose)
      }),
    hang: () => {
      // Nothing to do: the response stays open until the client aborts or close() destroys the socket.
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://simulator")
    const path = url.pathname.replace(/\/+$/, "") || "/"
    const method = req.method ?? "GET"
    const isSim = path.startsWith("/_sim/")
    if (!isSim) {
      stats.totalRequests++
      bump(stats.byRoute, `${method} ${path}`)
      inFlight++
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight)
      openResponses.add(res)
      res.once("close", () => {
        inFlight--
        openResponses.delete(res)
      })
    }
    const requestId = newId("req")
    const sender: Sender = {
      res,
      writeHead: (status, headers) => {
        if (!isSim) bump(stats.byStatus, String(status))
        res.writeHead(status, headers)
      }
    }
    const ctx: RequestContext = { ...sender, req, requestId, newId }
    const anthropicLike = req.headers["anthropic-version"] !== undefined || req.headers["x-api-key"] !== undefined
    const openAiPath = path === "/v1/chat/completions" || path === "/v1/embeddings"
    const provider: ProviderSpec = path === "/v1/messages" || (!openAiPath && anthropicLike)
      ? anthropicProvider
      : openAiProvider
    res.setHeader(provider.requestIdHeader, requestId)

    if (method === "POST" && (path === "/v1/chat/completions" || path === "/chat/completions")) {
      return runCompletion(ctx, openAiProvider, state)
    }
    if (method === "POST" && path === "/v1/messages") return runCompletion(ctx, anthropicProvider, state)
    if (method === "POST" && (path === "/v1/embeddings" || path === "/embeddings")) return runEmbeddings(ctx, state)
    if (method === "GET" && path === "/v1/models") {
      if (!authenticate(ctx, provider, state)) return
      return sendJson(
        ctx,
        200,
        provider === anthropicProvider ? anthropicModels(SIMULATED_MODELS) : openAiModels(SIMULATED_MODELS)
      )
    }
    if (method === "GET" && path === "/_sim/stats") return sendJson(ctx, 200, snapshot())
    if (method === "POST" && path === "/_sim/reset") {
      resetStats()
      return sendJson(ctx, 200, { ok: true })
    }
    if (method === "POST" && path === "/_sim/configure") {
      try {
        const body: unknown = JSON.parse(await readBody(req))
        if (!isObj(body)) throw new Error("expected a JSON object")
        configure(body as SimulatorPatch)
        return sendJson(ctx, 200, { ok: true })
      } catch (e) {
        return sendJson(ctx, 400, {
          error: { message: `Invalid configuration: ${e instanceof Error ? e.message : String(e)}` }
        })
      }
    }
    sendError(ctx, provider, "not_found", { message: `Invalid URL (${method} ${url.pathname})` })
  }

  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return
      const text = JSON.stringify({
        error: {
          message: `Simulator error: ${e instanceof Error ? e.message : String(e)}`,
          type: "server_error",
          param: null,
          code: null
        }
      })
      bump(stats.byStatus, "500")
      res.writeHead(500, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.end(text)
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.once("close", () => sockets.delete(socket))
  })

  const snapshot = (): SimulatorStats => ({
    totalRequests: stats.totalRequests,
    byRoute: { ...stats.byRoute },
    byModel: { ...stats.byModel },
    byStatus: { ...stats.byStatus },
    faults: { ...stats.faults },
    inFlight,
    maxInFlight: stats.maxInFlight
  })
  const resetStats = () => {
    // Requests still running stay counted in inFlight (and so in the new maxInFlight baseline).
    stats = emptyStats(inFlight)
  }
  const configure = (patch: SimulatorPatch) => {
    options = {
      ...options,
      ...patch,
      ...(patch.latency ? { latency: { ...options.latency, ...patch.latency } } : {}),
      ...(patch.faults ? { faults: { ...options.faults, ...patch.faults } } : {})
    }
    if (patch.seed !== undefined) {
      faultState = createFaultState(patch.seed)
      jitter = createPrng((patch.seed ^ 0x9e3779b9) >>> 0)
      samples = new SampleCounter(patch.seed)
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  let closing: Promise<void> | undefined

  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    port: address.port,
    stats: snapshot,
    resetStats,
    configure,
    close: () => {
      if (closing) return closing
      closed = true
      for (const t of timers) {
        clearTimeout(t.timer)
        t.resolve(false)
      }
      timers.clear()
      // Wait for every response's close event too, so stats (inFlight) are final when close() resolves.
      const responsesClosed = [...openResponses].map((res) => new Promise<void>((r) => res.once("close", () => r())))
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      for (const s of sockets) s.destroy()
      closing = Promise.all([serverClosed, ...responsesClosed]).then(() => undefined)
      return closing
    }
  }
}
