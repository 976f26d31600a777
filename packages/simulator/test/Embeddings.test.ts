import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Embeddings, Simulator } from "../src/index.ts"

let sim: Simulator.Simulator
let openai: OpenAI

beforeAll(async () => {
  sim = await Simulator.start({ port: 0 })
  openai = new OpenAI({ apiKey: "sk-test", baseURL: sim.openaiBaseUrl, maxRetries: 0 })
})
afterAll(() => sim.close())

const MODEL = "text-embedding-3-small"
const fault = (kind: string) => ({ headers: { "x-sim-fault": kind } })

const failure = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected the call to fail")
}

/** A raw request, to see the wire format as it is (the SDK rewrites base64 into numbers). */
const post = async (body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${sim.openaiBaseUrl}/embeddings`, {
    method: "POST",
    headers: { authorization: "Bearer sk-test", "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })
  return { status: response.status, headers: response.headers, body: await response.json() as any }
}

describe("the simulator's vectors", () => {
  it("are unit length, deterministic, and close for texts that share words", () => {
    const q = Embeddings.embed("What is the capital of France?")
    expect(q).toHaveLength(Embeddings.DEFAULT_DIMENSIONS)
    expect(Embeddings.dot(q, q)).toBeCloseTo(1, 5)
    expect(Embeddings.embed("What is the capital of France?")).toEqual(q)
    const near = Embeddings.dot(q, Embeddings.embed("Paris is the capital of France."))
    const half = Embeddings.dot(q, Embeddings.embed("What is the capital of Germany?"))
    const far = Embeddings.dot(q, Embeddings.embed("What is 12 + 30?"))
    expect(near).toBeGreaterThan(half)
    expect(half).toBeGreaterThan(far)
    expect(far).toBeCloseTo(0, 5)
    // Case, punctuation, stop words and a plural s do not matter.
    expect(Embeddings.embed("CAPITALS of France!!")).toEqual(Embeddings.embed("the capital, france"))
    expect(Embeddings.words("What is the capital of France?")).toEqual(["capital", "france"])
    expect(Embeddings.words("the of")).toEqual(["the", "of"])
    expect(Embeddings.words("...")).toEqual(["..."])
  })
})

describe("POST /v1/embeddings through the openai SDK", () => {
  it("answers the SDK's default (base64) request with the vectors, in order, with usage and a request id", async () => {
    const input = ["red apple", "capital of France", "12 + 30"]
    const { data, request_id } = await openai.embeddings.create({ model: MODEL, input }).withResponse()
    expect(data.object).toBe("list")
    expect(data.model).toBe(MODEL)
    expect(data.data.map((d) => d.index)).toEqual([0, 1, 2])
    data.data.forEach((d, i) => {
      expect(d.object).toBe("embedding")
      expect(d.embedding).toEqual(Array.from(Embeddings.embed(input[i]!)))
    })
    const tokens = input.reduce((n, t) => n + Math.ceil(t.length / 4), 0)
    expect(data.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens })
    expect(request_id).toMatch(/^req_/)
    expect(sim.stats().byRoute["POST /v1/embeddings"]).toBeGreaterThan(0)
  })

  it("sends base64 float32 when asked and numbers otherwise; a string input, dimensions, token ids", async () => {
    const b64 = await post({ model: MODEL, input: "hello world", encoding_format: "base64", dimensions: 4 })
    expect(b64.status).toBe(200)
    const bytes = Buffer.from(b64.body.data[0].embedding as string, "base64")
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 4))).toEqual(
      Array.from(Embeddings.embed("hello world", 4))
    )
    const float = await openai.embeddings.create({
      model: MODEL,
      input: "hello world",
      dimensions: 4,
      encoding_format: "float"
    })
    expect(float.data[0]!.embedding).toEqual(Array.from(Embeddings.embed("hello world", 4)))
    const large = await openai.embeddings.create({ model: "text-embedding-3-large", input: "x" })
    expect(large.data[0]!.embedding).toHaveLength(3072)
    const tokens = await openai.embeddings.create({ model: MODEL, input: [[1, 2, 3], [1, 2, 3]] })
    expect(tokens.data[0]!.embedding).toEqual(tokens.data[1]!.embedding)
    expect(tokens.usage.prompt_tokens).toBe(6)
  })

  it("rejects what OpenAI rejects, with its 400s", async () => {
    const cases: Array<[unknown, string]> = [
      [{ input: "x" }, "model"],
      [{ model: MODEL }, "input"],
      [{ model: MODEL, input: "" }, "input"],
      [{ model: MODEL, input: [] }, "input"],
      [{ model: MODEL, input: ["ok", 3] }, "input"],
      [{ model: MODEL, input: Array.from({ length: 2049 }, () => "x") }, "input"],
      [{ model: MODEL, input: "x", encoding_format: "hex" }, "encoding_format"],
      [{ model: MODEL, input: "x", dimensions: 1537 }, "dimensions"],
      [{ model: MODEL, input: "x", dimensions: 0 }, "dimensions"],
      [{ model: "text-embedding-ada-002", input: "x", dimensions: 8 }, "dimensions"]
    ]
    for (const [body, param] of cases) {
      const r = await post(body)
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(r.body.error.param).toBe(param)
      expect(r.body.error.type).toBe("invalid_request_error")
    }
    const e = await failure(openai.embeddings.create({ model: MODEL, input: "word ".repeat(9000) }))
    expect(e.status).toBe(400)
    expect(e.message).toContain("maximum context length is 8192 tokens")
    expect(e.code).toBe("context_length_exceeded")
  })

  it("authenticates like chat", async () => {
    const bad = new OpenAI({ apiKey: "sk-invalid-123456789", baseURL: sim.openaiBaseUrl, maxRetries: 0 })
    expect((await failure(bad.embeddings.create({ model: MODEL, input: "x" }))).status).toBe(401)
  })
})

describe("faults on /v1/embeddings", () => {
  it("every trigger applies: header, once-header, model suffix", async () => {
    sim.resetStats()
    const limited = await failure(openai.embeddings.create({ model: MODEL, input: "x" }, fault("429")))
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("1")
    const once = { headers: { "x-sim-fault-once": "emb-once:500" } }
    expect((await failure(openai.embeddings.create({ model: MODEL, input: "x" }, once))).status).toBe(500)
    expect((await openai.embeddings.create({ model: MODEL, input: "x" }, once)).data).toHaveLength(1)
    const suffixed = await failure(openai.embeddings.create({ model: `${MODEL}:fault=overloaded`, input: "x" }))
    expect(suffixed.status).toBe(503)
    expect(sim.stats().faults).toMatchObject({ "429": 1, "500": 1, overloaded: 1 })
    expect(sim.stats().byModel[MODEL]).toBe(4)
  })

  it("quota, 401, context and unknown kinds", async () => {
    const quota = await failure(openai.embeddings.create({ model: MODEL, input: "x" }, fault("quota")))
    expect([quota.status, quota.code]).toEqual([429, "insufficient_quota"])
    expect((await failure(openai.embeddings.create({ model: MODEL, input: "x" }, fault("401")))).status).toBe(401)
    expect((await failure(openai.embeddings.create({ model: MODEL, input: "x" }, fault("context")))).code).toBe(
      "context_length_exceeded"
    )
    const unknown = await failure(openai.embeddings.create({ model: MODEL, input: "x" }, fault("nope")))
    expect(unknown.status).toBe(400)
    expect(unknown.message).toContain("Unknown simulator fault")
  })

  it("content faults take an embeddings form: malformed body, truncated list, empty list", async () => {
    const malformed = await post({ model: MODEL, input: "x" }, { "x-sim-fault": "malformed" }).catch((e) => e)
    expect(malformed).toBeInstanceOf(SyntaxError)
    const truncated = await post({ model: MODEL, input: ["a", "b", "c"] }, { "x-sim-fault": "truncated" })
    expect(truncated.body.data.map((d: any) => d.index)).toEqual([0, 1])
    const empty = await post({ model: MODEL, input: ["a", "b"] }, { "x-sim-fault": "empty" })
    expect(empty.body.data).toEqual([])
  })

  it("latency applies (its header too); a hang holds the request until the client gives up", async () => {
    const started = performance.now()
    await openai.embeddings.create({ model: MODEL, input: "x" }, { headers: { "x-sim-latency-ms": "150" } })
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    const controller = new AbortController()
    const pending = openai.embeddings.create({ model: MODEL, input: "x" }, {
      ...fault("hang"),
      signal: controller.signal
    })
    await new Promise((r) => setTimeout(r, 100))
    expect(sim.stats().inFlight).toBe(1)
    controller.abort()
    await failure(pending)
    await new Promise((r) => setTimeout(r, 50))
    expect(sim.stats().inFlight).toBe(0)
  })

  it("random fault rates apply to embeddings as to chat", async () => {
    sim.configure({ faults: { server500: 1 } })
    try {
      expect((await failure(openai.embeddings.create({ model: MODEL, input: "x" }))).status).toBe(500)
    } finally {
      sim.configure({ faults: { server500: 0 } })
    }
  })

  it("GET /v1/models lists the embedding models", async () => {
    const ids = (await openai.models.list()).data.map((m) => m.id)
    expect(ids).toEqual(expect.arrayContaining(["text-embedding-3-small", "text-embedding-3-large"]))
  })
})
