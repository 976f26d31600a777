import { Cache, Embedder, LMError } from "@dspex/core"
import { Embeddings } from "@dspex/simulator"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Redacted } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { OpenAiEmbeddings } from "../src/index.ts"
import { parseEmbeddings } from "../src/internal/openaiEmbeddings.ts"
import { closedPort, errorText, failureOf, goodKey, secretKey, Simulator } from "./support.ts"

const MODEL = "text-embedding-3-small"

let sim: Simulator.Simulator
/** A pass-through in front of the simulator that records every request body the SDK sent. */
let proxy: Server
let proxyBaseUrl: string
const bodies: Array<Record<string, unknown>> = []

beforeAll(async () => {
  sim = await Simulator.start({ port: 0 })
  proxy = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      bodies.push(JSON.parse(body) as Record<string, unknown>)
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && k !== "host" && k !== "content-length")
      ) as Record<string, string>
      fetch(`${sim.url}${req.url}`, { method: req.method ?? "POST", headers, body }).then(async (upstream) => {
        res.writeHead(upstream.status, Object.fromEntries(upstream.headers))
        res.end(Buffer.from(await upstream.arrayBuffer()))
      }, () => res.destroy())
    })
  })
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
  proxyBaseUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`
})
afterAll(async () => {
  await new Promise((resolve) => proxy.close(resolve))
  await sim.close()
})

const provider = (options: OpenAiEmbeddings.Options = {}) =>
  OpenAiEmbeddings.provider({ apiKey: Redacted.make(goodKey), baseURL: sim.openaiBaseUrl, ...options })

const request = (texts: ReadonlyArray<string>, overrides: Partial<Embedder.EmbeddingRequest> = {}) => ({
  model: MODEL,
  texts,
  timeoutMs: 5_000,
  ...overrides
})

const embedVia = (options: OpenAiEmbeddings.Options, texts: ReadonlyArray<string>) =>
  Effect.flatMap(provider(options), (p) => p.embed(request(texts)))

describe("OpenAiEmbeddings.provider", () => {
  it.live("one Float32Array per text, the server's vectors exactly, with usage, cost, request id and model", () =>
    Effect.gen(function*() {
      const p = yield* provider()
      expect(p).toMatchObject({ name: "openai", endpoint: sim.openaiBaseUrl, handlesTimeout: true, maxBatchSize: 2048 })
      const texts = ["What is the capital of France?", "Paris is the capital of France.", "What is 12 + 30?"]
      const r = yield* p.embed(request(texts))
      expect(r.vectors).toHaveLength(3)
      r.vectors.forEach((v, i) => {
        expect(v).toBeInstanceOf(Float32Array)
        expect(v).toHaveLength(Embeddings.DEFAULT_DIMENSIONS)
        expect(v).toEqual(Embeddings.embed(texts[i]!))
      })
      expect(r.usage!.promptTokens).toBeGreaterThan(0)
      expect(r.usage!.totalTokens).toBe(r.usage!.promptTokens)
      expect(r.cost).toBeCloseTo(r.usage!.promptTokens * 0.02 / 1_000_000, 12)
      expect(r.requestId).toMatch(/^req_/)
      expect(r.responseModel).toBe(MODEL)
    }))

  it.live("asks for base64, sends dimensions and kwargs, never client settings", () =>
    Effect.gen(function*() {
      bodies.length = 0
      const p = yield* provider({ baseURL: proxyBaseUrl })
      const r = yield* p.embed(
        request(["short vectors"], { dimensions: 16, kwargs: { user: "u-1", api_key: "never", encoding_format: "x" } })
      )
      expect(bodies).toEqual([{
        model: MODEL,
        input: ["short vectors"],
        encoding_format: "base64",
        dimensions: 16,
        user: "u-1"
      }])
      expect(r.vectors[0]).toEqual(Embeddings.embed("short vectors", 16))
    }))

  it("reads number lists too (an OpenAI-compatible server that ignores encoding_format) and checks the indexes", () => {
    const ok = parseEmbeddings({
      data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: "AACAPwAAAAA=" }],
      usage: { prompt_tokens: 3, total_tokens: 3 }
    }, 2)
    expect(ok._tag).toBe("ok")
    if (ok._tag !== "ok") return
    expect(ok.vectors.map((v) => Array.from(v))).toEqual([[1, 0], [0, 1]])
    expect(parseEmbeddings({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] }, 2)).toMatchObject({
      _tag: "malformed"
    })
    expect(parseEmbeddings({ data: [{ index: 0, embedding: "AAA" }] }, 1)).toMatchObject({ _tag: "malformed" })
    expect(parseEmbeddings({}, 1)).toMatchObject({ _tag: "malformed", detail: "the response has no data list" })
  })

  it.effect("reads OPENAI_API_KEY and OPENAI_BASE_URL from config; a missing key is an LMConfigurationError", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) =>
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
      const p = yield* OpenAiEmbeddings.provider().pipe(
        withEnv({ OPENAI_API_KEY: goodKey, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" })
      )
      expect(p.endpoint).toBe("http://127.0.0.1:9/v1")
      const missing = yield* failureOf(OpenAiEmbeddings.provider().pipe(withEnv({})))
      expect(missing).toMatchObject({ _tag: "LMConfigurationError", variable: "OPENAI_API_KEY", fatal: true })
      expect(missing.suggestion).toContain("OpenAiEmbeddings.layer")
      const badUrl = yield* failureOf(
        OpenAiEmbeddings.provider().pipe(withEnv({ OPENAI_API_KEY: goodKey, OPENAI_BASE_URL: "localhost:1" }))
      )
      expect(badUrl).toMatchObject({ _tag: "LMConfigurationError", variable: "OPENAI_BASE_URL" })
    }))
})

describe("OpenAiEmbeddings errors", () => {
  const faultOf = (kind: string) => failureOf(embedVia({ headers: { "x-sim-fault": kind } }, ["a text"]))

  it.live("429 → LMRateLimited with retry-after; quota → LMQuotaExceeded; 500/503 → LMProviderError", () =>
    Effect.gen(function*() {
      const limited = yield* faultOf("429")
      expect(limited).toMatchObject({ _tag: "LMRateLimited", retryAfterMs: 1000, status: 429, model: MODEL })
      expect((yield* faultOf("quota"))._tag).toBe("LMQuotaExceeded")
      expect(yield* faultOf("500")).toMatchObject({ _tag: "LMProviderError", status: 500 })
      expect(yield* faultOf("overloaded")).toMatchObject({ _tag: "LMProviderError", status: 503 })
    }))

  it.live("an input over the model's limit → LMContextWindowExceeded; an empty input → LMBadRequest", () =>
    Effect.gen(function*() {
      expect((yield* faultOf("context"))._tag).toBe("LMContextWindowExceeded")
      const long = yield* failureOf(embedVia({}, ["word ".repeat(8000)]))
      expect(long._tag).toBe("LMContextWindowExceeded")
      const empty = yield* failureOf(embedVia({}, [""]))
      expect(empty).toMatchObject({ _tag: "LMBadRequest", status: 400, param: "input" })
      const dims = yield* failureOf(
        Effect.flatMap(provider(), (p) => p.embed(request(["x"], { model: "text-embedding-ada-002", dimensions: 8 })))
      )
      expect(dims).toMatchObject({ _tag: "LMBadRequest", param: "dimensions" })
    }))

  it.live("an unparseable body, a missing embedding, no embeddings → LMMalformedResponse", () =>
    Effect.gen(function*() {
      expect((yield* faultOf("malformed"))._tag).toBe("LMMalformedResponse")
      const truncated = yield* faultOf("truncated")
      expect(truncated).toMatchObject({ _tag: "LMMalformedResponse" })
      expect(truncated.message).toContain("0 embeddings for 1 inputs")
      expect((yield* faultOf("empty"))._tag).toBe("LMMalformedResponse")
    }))

  it.live("a bad key → LMAuthError that never contains the key", () =>
    Effect.gen(function*() {
      const e = yield* failureOf(embedVia({ apiKey: Redacted.make(secretKey) }, ["x"]))
      expect(e._tag).toBe("LMAuthError")
      expect(errorText(e)).not.toContain(secretKey)
      expect(errorText(e)).not.toContain("DSPEX-SECRET")
    }))

  it.live("an unreachable base URL → LMProviderError transport, ECONNREFUSED", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const e = yield* failureOf(embedVia({ baseURL: `http://127.0.0.1:${port}/v1` }, ["x"]))
      expect(e).toMatchObject({ _tag: "LMProviderError", transport: true, code: "ECONNREFUSED" })
    }))

  it.live("a hang → LMTimeout at the request's deadline, a stalled body too, and the request is aborted", () =>
    Effect.gen(function*() {
      for (const kind of ["hang", "stall"]) {
        const p = yield* provider({ headers: { "x-sim-fault": kind } })
        const e = yield* failureOf(p.embed(request(["x"], { timeoutMs: 200 })))
        expect(e).toMatchObject({ _tag: "LMTimeout", timeoutMs: 200 })
      }
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      expect(sim.stats().inFlight).toBe(0)
    }))

  it.live("interrupting the call aborts the HTTP request", () =>
    Effect.gen(function*() {
      const p = yield* provider({ headers: { "x-sim-fault": "hang" } })
      const fiber = yield* Effect.forkChild(p.embed(request(["x"], { timeoutMs: 60_000 })))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
      expect(sim.stats().inFlight).toBe(1)
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      expect(sim.stats().inFlight).toBe(0)
    }))
})

describe("Embedder over OpenAiEmbeddings", () => {
  const live = (options: Partial<Embedder.EmbedderOptions> = {}, headers?: Record<string, string>) =>
    Embedder.layer({ model: `openai/${MODEL}`, retryBaseDelayMs: 10, ...options }).pipe(
      Layer.provide([
        OpenAiEmbeddings.layer({
          apiKey: Redacted.make(goodKey),
          baseURL: sim.openaiBaseUrl,
          ...(headers === undefined ? {} : { headers })
        }),
        Cache.layerMemory()
      ])
    )

  it.live("nearest neighbours by cosine; a second call is served from the cache; usage with cost", () =>
    Effect.gen(function*() {
      sim.resetStats()
      const docs = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "12 + 30 = 42"]
      const [query, ...vectors] = yield* Embedder.embed(["What is the capital of France?", ...docs])
      const ranked = docs.map((d, i) => ({ d, score: Embedder.cosine(query!, vectors[i]!) }))
        .sort((a, b) => b.score - a.score)
      expect(ranked.map((r) => r.d)).toEqual(docs)
      expect(sim.stats().byRoute["POST /v1/embeddings"]).toBe(1)
      yield* Embedder.embed(docs)
      expect(sim.stats().byRoute["POST /v1/embeddings"]).toBe(1)
      const usage = yield* Embedder.Embedder.useSync((e) => e.usage()[`openai/${MODEL}`]!)
      expect(usage).toMatchObject({ calls: 1, cacheHits: 3, errors: 0 })
      expect(usage.cost).toBeGreaterThan(0)
    }).pipe(Effect.provide(live())))

  it.live("a 500 is retried through the SDK provider and the vectors come back", () =>
    Effect.gen(function*() {
      sim.resetStats()
      const [v] = yield* Embedder.embed(["retried through the SDK"])
      expect(v).toEqual(Embeddings.embed("retried through the SDK"))
      expect(sim.stats().byStatus).toEqual({ "500": 1, "200": 1 })
    }).pipe(Effect.provide(live({}, { "x-sim-fault-once": "sdk-embed:500" }))))

  it.live("a fatal error surfaces typed: a bad key is an LMAuthError, not retried", () =>
    Effect.gen(function*() {
      sim.resetStats()
      const e = yield* failureOf(Embedder.embed(["x"]))
      expect(e).toBeInstanceOf(LMError.LMAuthError)
      expect(sim.stats().totalRequests).toBe(1)
    }).pipe(Effect.provide(live({}, { "x-sim-fault": "401" }))))
})
