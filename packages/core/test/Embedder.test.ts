/**
 * The Embedder over real HTTP: an EmbeddingProvider written here (our own interface, over `fetch`)
 * talks to the simulator's `POST /v1/embeddings`, so batching, caching and retries are checked against
 * the requests a server actually received and the faults it actually sent.
 */
import { Embeddings, Simulator } from "@dspex/simulator"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import * as Cache from "../src/Cache.ts"
import * as Embedder from "../src/Embedder.ts"
import {
  LMAuthError,
  LMBadRequest,
  type LMError,
  LMMalformedResponse,
  LMProviderError,
  LMRateLimited
} from "../src/LMError.ts"

let sim: Simulator.Simulator
beforeAll(async () => {
  sim = await Simulator.start({ port: 0 })
})
afterAll(() => sim.close())

const MODEL = "text-embedding-3-small"

/** Every batch the provider sent, in order (what reached the server). */
const sent: Array<ReadonlyArray<string>> = []

/** An EmbeddingProvider over the simulator's OpenAI embeddings endpoint, with per-test headers. */
const httpProvider = (
  options: { readonly name?: string; readonly headers?: Record<string, string>; readonly endpoint?: string } = {}
): Embedder.EmbeddingProvider => {
  const name = options.name ?? "sim"
  return {
    name,
    endpoint: options.endpoint ?? sim.openaiBaseUrl,
    embed: (request) =>
      Effect.flatMap(
        Effect.tryPromise({
          try: async (signal) => {
            sent.push(request.texts)
            const response = await fetch(`${sim.openaiBaseUrl}/embeddings`, {
              method: "POST",
              signal,
              headers: { authorization: "Bearer sk-test", "content-type": "application/json", ...options.headers },
              body: JSON.stringify({
                model: request.model,
                input: request.texts,
                encoding_format: "float",
                ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions })
              })
            })
            return { status: response.status, headers: response.headers, text: await response.text() }
          },
          catch: (e) =>
            new LMProviderError({ provider: name, model: request.model, detail: String(e), transport: true })
        }),
        ({ headers, status, text }): Effect.Effect<Embedder.EmbeddingResponse, LMError> => {
          const common = { provider: name, model: request.model, status, detail: text.slice(0, 200) }
          if (status === 429) {
            return Effect.fail(
              new LMRateLimited({ ...common, retryAfterMs: Number(headers.get("retry-after") ?? "0") * 1000 })
            )
          }
          if (status === 401) return Effect.fail(new LMAuthError(common))
          if (status >= 500) return Effect.fail(new LMProviderError(common))
          if (status !== 200) return Effect.fail(new LMBadRequest(common))
          try {
            const body = JSON.parse(text) as {
              data: Array<{ embedding: Array<number> }>
              usage: { prompt_tokens: number; total_tokens: number }
            }
            return Effect.succeed({
              vectors: body.data.map((d) => Float32Array.from(d.embedding)),
              usage: { promptTokens: body.usage.prompt_tokens, totalTokens: body.usage.total_tokens },
              cost: body.usage.total_tokens * 1e-6
            })
          } catch {
            return Effect.fail(new LMMalformedResponse({ ...common, status: 200, detail: "not JSON" }))
          }
        }
      )
  }
}

const layerOf = (
  options: Partial<Embedder.EmbedderOptions> = {},
  providers: ReadonlyArray<Embedder.EmbeddingProvider> = [httpProvider()],
  cache: Layer.Layer<Cache.Cache> = Cache.layerMemory()
) =>
  Embedder.layer({ model: `sim/${MODEL}`, retryBaseDelayMs: 10, ...options }).pipe(
    Layer.provide([Embedder.providers(...providers), cache])
  )

const embed = (texts: ReadonlyArray<string>, options?: Embedder.EmbedOptions) => Embedder.embed(texts, options)
const usage = Embedder.Embedder.useSync((e) => e.usage()[`sim/${MODEL}`])

/** Runs `f` after clearing the record of sent batches and the simulator's counters. */
const fresh = <A, E, R>(f: Effect.Effect<A, E, R>) =>
  Effect.andThen(
    Effect.sync(() => {
      sent.length = 0
      sim.resetStats()
    }),
    f
  )

const expected = (text: string, dimensions?: number) => Embeddings.embed(text, dimensions)

describe("Embedder batching", () => {
  it.live("one vector per text, in order, equal to the server's; batches of batchSize, one request each", () =>
    fresh(
      Effect.gen(function*() {
        const texts = ["red apple", "green apple", "capital of France", "Paris in spring", "12 + 30"]
        const vectors = yield* embed(texts)
        expect(vectors).toHaveLength(5)
        vectors.forEach((v, i) => {
          expect(v).toBeInstanceOf(Float32Array)
          expect(v).toEqual(expected(texts[i]!))
        })
        expect(sent).toEqual([texts.slice(0, 2), texts.slice(2, 4), texts.slice(4)])
        expect(sim.stats().byRoute["POST /v1/embeddings"]).toBe(3)
        expect(yield* usage).toMatchObject({ calls: 3, cacheHits: 0, retries: 0, errors: 0, completionTokens: 0 })
        expect((yield* usage)!.promptTokens).toBeGreaterThan(0)
      }).pipe(Effect.provide(layerOf({ batchSize: 2 })))
    ))

  it.live("the default batch size is DSPy's 200; a call's batchSize wins; concurrency sends batches together", () =>
    fresh(
      Effect.gen(function*() {
        const texts = Array.from({ length: 450 }, (_, i) => `text number ${i}`)
        yield* embed(texts)
        expect(sent.map((b) => b.length)).toEqual([200, 200, 50])
        sent.length = 0
        yield* embed(texts.map((t) => `${t} again`), { batchSize: 300 })
        expect(sent.map((b) => b.length)).toEqual([300, 150])
      }).pipe(Effect.provide(layerOf()))
    ))

  it.live("batches run `concurrency` at a time", () =>
    fresh(
      Effect.gen(function*() {
        sim.configure({ latency: { fixedMs: 100 } })
        yield* embed(["a one", "b two", "c three", "d four"])
        sim.configure({ latency: { fixedMs: 0 } })
        expect(sim.stats().maxInFlight).toBe(4)
      }).pipe(Effect.provide(layerOf({ batchSize: 1, concurrency: 4 })))
    ))

  it.live("an empty list makes no request; a text given twice is sent once and each position gets its own array", () =>
    fresh(
      Effect.gen(function*() {
        expect(yield* embed([])).toEqual([])
        expect(sim.stats().totalRequests).toBe(0)
        const [a, b, c] = yield* embed(["same text", "other text", "same text"])
        expect(sent).toEqual([["same text", "other text"]])
        expect(a).toEqual(c)
        expect(a).not.toBe(c)
        expect(b).toEqual(expected("other text"))
      }).pipe(Effect.provide(layerOf({ cache: false })))
    ))

  it.live("a provider's maxBatchSize caps the batches", () =>
    fresh(
      Effect.gen(function*() {
        yield* embed(["one", "two", "three"])
        expect(sent.map((b) => b.length)).toEqual([2, 1])
      }).pipe(Effect.provide(layerOf({}, [{ ...httpProvider(), maxBatchSize: 2 }])))
    ))
})

describe("Embedder caching", () => {
  it.live("a second embed of the same texts makes no request, counts cache hits, and hands out fresh arrays", () =>
    fresh(
      Effect.gen(function*() {
        const texts = ["cached one", "cached two"]
        const first = yield* embed(texts)
        first[0]![0] = 42 // a caller changing its own array changes nobody else's
        const requests = sim.stats().totalRequests
        const second = yield* embed(texts)
        expect(sim.stats().totalRequests).toBe(requests)
        expect(second[0]).toEqual(expected("cached one"))
        expect(second[1]).toEqual(expected("cached two"))
        expect(yield* usage).toMatchObject({ calls: 1, cacheHits: 2 })
      }).pipe(Effect.provide(layerOf()))
    ))

  it.live("partial cache hits: only the missing texts are requested", () =>
    fresh(
      Effect.gen(function*() {
        yield* embed(["alpha", "beta"])
        sent.length = 0
        const vectors = yield* embed(["beta", "gamma", "alpha", "delta"])
        expect(sent).toEqual([["gamma", "delta"]])
        expect(vectors.map((v) => Array.from(v))).toEqual(
          ["beta", "gamma", "alpha", "delta"].map((t) => Array.from(expected(t)))
        )
      }).pipe(Effect.provide(layerOf()))
    ))

  it.live("cache: false (per Embedder or per call) neither reads nor writes; dimensions and endpoints key apart", () =>
    fresh(
      Effect.gen(function*() {
        yield* embed(["uncached"], { cache: false })
        yield* embed(["uncached"])
        expect(sent).toHaveLength(2) // the first call wrote nothing
        yield* embed(["uncached"])
        expect(sent).toHaveLength(2)
        const [short] = yield* embed(["uncached"], { dimensions: 8 })
        expect(sent).toHaveLength(3)
        expect(short).toEqual(expected("uncached", 8))
      }).pipe(Effect.provide(layerOf()))
    ))

  it.live("the same model on two endpoints never shares vectors (one Cache underneath)", () => {
    const shared = Cache.makeMemory()
    const cache = Layer.succeed(Cache.Cache, shared)
    const a = layerOf({}, [httpProvider({ endpoint: "http://one.example/v1" })], cache)
    const b = layerOf({}, [httpProvider({ endpoint: "http://two.example/v1" })], cache)
    return fresh(
      Effect.gen(function*() {
        yield* embed(["shared text"]).pipe(Effect.provide(a))
        yield* embed(["shared text"]).pipe(Effect.provide(a))
        expect(sent).toHaveLength(1)
        yield* embed(["shared text"]).pipe(Effect.provide(b))
        expect(sent).toHaveLength(2)
      })
    )
  })

  it.live("an Embedder with cache: false sends every call", () =>
    fresh(
      Effect.gen(function*() {
        yield* embed(["again and again"])
        yield* embed(["again and again"])
        expect(sent).toHaveLength(2)
      }).pipe(Effect.provide(layerOf({ cache: false })))
    ))
})

describe("Embedder retries and errors", () => {
  it.live("a 500 then success is retried; the retry is counted", () =>
    fresh(
      Effect.gen(function*() {
        const vectors = yield* embed(["retry me"])
        expect(vectors[0]).toEqual(expected("retry me"))
        expect(sim.stats().byStatus).toEqual({ "500": 1, "200": 1 })
        expect(yield* usage).toMatchObject({ calls: 1, retries: 1, errors: 0 })
      }).pipe(Effect.provide(layerOf({}, [httpProvider({ headers: { "x-sim-fault-once": "embed-500:500" } })])))
    ))

  it.live("a 429 waits out its retry-after, then succeeds", () =>
    fresh(
      Effect.gen(function*() {
        sim.configure({ faults: { retryAfterSeconds: 0.2 } })
        const started = Date.now()
        yield* embed(["rate limited"])
        sim.configure({ faults: { retryAfterSeconds: 1 } })
        expect(Date.now() - started).toBeGreaterThanOrEqual(190)
        expect(sim.stats().byStatus).toEqual({ "429": 1, "200": 1 })
      }).pipe(Effect.provide(layerOf({}, [httpProvider({ headers: { "x-sim-fault-once": "embed-429:429" } })])))
    ))

  it.live("a response with too few vectors is an LMMalformedResponse, retried like any retryable error", () =>
    fresh(
      Effect.gen(function*() {
        const vectors = yield* embed(["one short", "two short"])
        expect(vectors).toHaveLength(2)
        expect(sim.stats().faults.truncated).toBe(1)
        expect(sim.stats().byRoute["POST /v1/embeddings"]).toBe(2)
      }).pipe(Effect.provide(layerOf({}, [httpProvider({ headers: { "x-sim-fault-once": "embed-trunc:truncated" } })])))
    ))

  it.live("retries run out: the last error, numRetries + 1 requests, one failed call", () =>
    fresh(
      Effect.gen(function*() {
        const error = yield* Effect.flip(embed(["always failing"]))
        expect(error).toBeInstanceOf(LMProviderError)
        expect(error).toMatchObject({ status: 500, retryable: true })
        expect(sim.stats().byStatus).toEqual({ "500": 3 })
        expect(yield* usage).toMatchObject({ calls: 0, retries: 2, errors: 1 })
        // Nothing was cached from a failed call.
        expect(sent).toHaveLength(3)
      }).pipe(Effect.provide(layerOf({ numRetries: 2 }, [httpProvider({ headers: { "x-sim-fault": "500" } })])))
    ))

  it.live("a non-retryable error (401) fails at once", () =>
    fresh(
      Effect.gen(function*() {
        const error = yield* Effect.flip(embed(["no entry"]))
        expect(error).toBeInstanceOf(LMAuthError)
        expect(sim.stats().totalRequests).toBe(1)
      }).pipe(Effect.provide(layerOf({}, [httpProvider({ headers: { "x-sim-fault": "401" } })])))
    ))

  it.live("a provider that does not handle timeouts gets the Embedder's: a hang is an LMTimeout, and is aborted", () =>
    fresh(
      Effect.gen(function*() {
        const error = yield* Effect.flip(embed(["hanging"]))
        expect(error).toMatchObject({ _tag: "LMTimeout", timeoutMs: 150, retryable: true })
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
        expect(sim.stats().inFlight).toBe(0)
      }).pipe(
        Effect.provide(
          layerOf({ timeoutMs: 150, numRetries: 0 }, [httpProvider({ headers: { "x-sim-fault": "hang" } })])
        )
      )
    ))

  it.live("interrupting a call aborts its request", () =>
    fresh(
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(embed(["interrupted"]))
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
        expect(sim.stats().inFlight).toBe(1)
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
        expect(sim.stats().inFlight).toBe(0)
      }).pipe(Effect.provide(layerOf({}, [httpProvider({ headers: { "x-sim-fault": "hang" } })])))
    ))

  it.effect("an unknown provider prefix or a bad batchSize fails the layer with LMConfigurationError", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(Layer.build(layerOf({ model: "nope/model" })).pipe(Effect.scoped))
      expect(unknown).toMatchObject({ _tag: "LMConfigurationError", model: "nope/model", fatal: true })
      expect(unknown.message).toContain("unknown embedding provider \"nope\"; registered: sim")
      const none = yield* Effect.flip(
        Layer.build(
          Embedder.layer({ model: "openai/x" }).pipe(Layer.provide([Embedder.providers(), Cache.layerMemory()]))
        ).pipe(Effect.scoped)
      )
      expect(none.message).toContain("no embedding provider is registered")
      const badBatch = yield* Effect.flip(Layer.build(layerOf({ batchSize: 0 })).pipe(Effect.scoped))
      expect(badBatch).toMatchObject({ _tag: "LMConfigurationError" })
      expect(badBatch.message).toContain("batchSize must be a whole number of at least 1")
      const perCall = yield* Effect.flip(embed(["x"], { batchSize: 1.5 }).pipe(Effect.provide(layerOf())))
      expect(perCall._tag).toBe("LMConfigurationError")
    }))
})

describe("Embedder.fromFunction", () => {
  const calls: Array<ReadonlyArray<string>> = []
  const lengths = (texts: ReadonlyArray<string>) => {
    calls.push(texts)
    return texts.map((t) => [t.length, 1])
  }
  const fnLayer = (f: Embedder.EmbeddingProvider, options: Partial<Embedder.EmbedderOptions> = {}) =>
    Embedder.layer({ model: f.name, retryBaseDelayMs: 1, ...options }).pipe(
      Layer.provide([Embedder.providers(f), Cache.layerMemory()])
    )

  it.effect("a plain function: batched, cached, served as Float32Arrays under its bare name or name/model", () =>
    Effect.gen(function*() {
      calls.length = 0
      const vectors = yield* embed(["ab", "abc", "abcd"])
      expect(vectors.map((v) => Array.from(v))).toEqual([[2, 1], [3, 1], [4, 1]])
      expect(vectors[0]).toBeInstanceOf(Float32Array)
      expect(calls).toEqual([["ab", "abc"], ["abcd"]])
      yield* embed(["abc", "xyz12"])
      expect(calls.at(-1)).toEqual(["xyz12"])
      const prefixed = yield* embed(["ab"]).pipe(
        Effect.provide(fnLayer(Embedder.fromFunction("lengths", lengths), { model: "lengths/v2" }))
      )
      expect(Array.from(prefixed[0]!)).toEqual([2, 1])
    }).pipe(Effect.provide(fnLayer(Embedder.fromFunction("lengths", lengths), { batchSize: 2 }))))

  it.live("Promise and Effect results; a thrown error is a retryable LMProviderError; a wrong count malformed", () =>
    Effect.gen(function*() {
      const viaPromise = Embedder.fromFunction("p", async (texts) => texts.map(() => [1, 2]))
      expect(Array.from((yield* embed(["x"]).pipe(Effect.provide(fnLayer(viaPromise))))[0]!)).toEqual([1, 2])
      const viaEffect = Embedder.fromFunction("e", (texts) => Effect.succeed(texts.map(() => new Float32Array([3]))))
      expect(Array.from((yield* embed(["x"]).pipe(Effect.provide(fnLayer(viaEffect))))[0]!)).toEqual([3])

      let attempts = 0
      const throwing = Embedder.fromFunction("t", () => {
        attempts++
        throw new Error("model not loaded")
      })
      const thrown = yield* Effect.flip(embed(["x"]).pipe(Effect.provide(fnLayer(throwing, { numRetries: 2 }))))
      expect(thrown).toBeInstanceOf(LMProviderError)
      expect(thrown.message).toContain("the embedding function failed: model not loaded")
      expect(attempts).toBe(3)

      const rejecting = Embedder.fromFunction("r", () => Promise.reject(new Error("server down")))
      const rejected = yield* Effect.flip(embed(["x"]).pipe(Effect.provide(fnLayer(rejecting, { numRetries: 0 }))))
      expect(rejected.message).toContain("server down")

      const short = Embedder.fromFunction("s", () => [[1]])
      const malformed = yield* Effect.flip(embed(["x", "y"]).pipe(Effect.provide(fnLayer(short, { numRetries: 0 }))))
      expect(malformed).toBeInstanceOf(LMMalformedResponse)
      expect(malformed.message).toContain("returned 1 vectors for 2 texts")
      const notFinite = Embedder.fromFunction("n", (texts) => texts.map(() => [Number.NaN]))
      const nan = yield* Effect.flip(embed(["x"]).pipe(Effect.provide(fnLayer(notFinite, { numRetries: 0 }))))
      expect(nan.message).toContain("not a finite number")
    }))

  it.effect("cached vectors are keyed by the function's source: an edited function is called again", () => {
    const shared = Layer.succeed(Cache.Cache, Cache.makeMemory())
    const layerWith = (f: Embedder.EmbeddingProvider) =>
      Embedder.layer({ model: "f" }).pipe(Layer.provide([Embedder.providers(f), shared]))
    let ones = 0
    let twos = 0
    const one = Embedder.fromFunction("f", (texts) => texts.map(() => [++ones]))
    const two = Embedder.fromFunction("f", (texts) => texts.map(() => [++twos * 10]))
    return Effect.gen(function*() {
      expect(Array.from((yield* embed(["t"]).pipe(Effect.provide(layerWith(one))))[0]!)).toEqual([1])
      expect(Array.from((yield* embed(["t"]).pipe(Effect.provide(layerWith(one))))[0]!)).toEqual([1])
      expect(Array.from((yield* embed(["t"]).pipe(Effect.provide(layerWith(two))))[0]!)).toEqual([10])
      expect([ones, twos]).toEqual([1, 1])
    })
  })

  it("a name that cannot be a model prefix is refused", () => {
    expect(() => Embedder.fromFunction("a/b", () => [])).toThrow(/cannot be empty or contain "\/"/)
    expect(() => Embedder.fromFunction("", () => [])).toThrow()
  })
})

describe("Embedder.cosine", () => {
  it("ranks the simulator's vectors by shared words", () => {
    const q = expected("What is the capital of France?")
    expect(Embedder.cosine(q, expected("Paris is the capital of France."))).toBeGreaterThan(
      Embedder.cosine(q, expected("What is 12 + 30?"))
    )
    expect(Embedder.cosine(new Float32Array([1, 0]), new Float32Array([1, 1]))).toBeCloseTo(Math.SQRT1_2)
    expect(Embedder.cosine(new Float32Array([0, 0]), new Float32Array([1, 1]))).toBe(0)
  })
})
