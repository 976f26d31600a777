/**
 * Programs end to end: modules → adapters → LanguageModel (cache, retries, limits) → the official SDKs →
 * the simulated provider over HTTP, and back into typed predictions.
 */
import {
  Adapter,
  Cache,
  ChainOfThought,
  ChatAdapter,
  Errors,
  Evaluate,
  Example,
  JSONAdapter,
  LanguageModel,
  LM,
  Metrics,
  Predict,
  ProgramState,
  Signature,
  XMLAdapter
} from "@dspex/core"
import { Facts } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schema, Tracer } from "effect"
import { join } from "node:path"
import { apiKey, simulator, stack, tempDir } from "./support.ts"

const gpt = LM.make("openai/gpt-4o-mini", { temperature: 0 })
const claude = LM.make("anthropic/claude-haiku-4-5", { temperature: 0 })

describe("a program against each provider", () => {
  for (const lm of [gpt, claude]) {
    it.live(`ChainOfThought answers arithmetic with a typed float via ${lm.model}`, () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const cot = ChainOfThought.make("question -> answer: float")
        const pred = yield* cot.call({ question: "What is 12 + 30?" }).pipe(
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim))
        )
        expect(pred.get("answer")).toBe(42)
        expect(typeof pred.get("reasoning")).toBe("string")
        expect(pred.usage[lm.model]!.promptTokens).toBeGreaterThan(0)
        expect(sim.stats().totalRequests).toBe(1)
      }).pipe(Effect.scoped))
  }

  it.live("JSONAdapter asks OpenAI for strict structured outputs and decodes the reply", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const sim = yield* simulator({ answers: (r) => (seen.push(r.body.response_format), undefined) })
      const sig = Signature.fromFields({
        inputs: { question: Schema.String },
        outputs: { answer: Schema.String, confidence: Schema.Number }
      })
      const pred = yield* Predict.make(sig).call({ question: "What is the capital of Japan?" }).pipe(
        Effect.provideService(Adapter.CurrentAdapter, JSONAdapter.defaultAdapter),
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.get("answer")).toBe("Tokyo")
      expect(typeof pred.get("confidence")).toBe("number")
      expect(seen[0]).toMatchObject({ type: "json_schema", json_schema: { strict: true } })
    }).pipe(Effect.scoped))

  it.live("XMLAdapter round trip", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const pred = yield* Predict.make("question -> answer").call({ question: "Who wrote Hamlet?" }).pipe(
        Effect.provideService(Adapter.CurrentAdapter, XMLAdapter.defaultAdapter),
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.get("answer")).toBe("William Shakespeare")
    }).pipe(Effect.scoped))

  it.live("n > 1 gives every completion", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const pred = yield* ChainOfThought.make("question -> answer", { config: { n: 3 } }).call({
        question: "What is 7 * 6?"
      }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.completions.length).toBe(3)
      expect(pred.completions.field("answer")).toEqual(["42", "42", "42"])
    }).pipe(Effect.scoped))
})

describe("adapter fallback over HTTP", () => {
  it.live("ChatAdapter falls back to JSONAdapter once when the chat reply does not parse", () =>
    Effect.gen(function*() {
      const formats: Array<string> = []
      const sim = yield* simulator({
        answers: (r) => {
          const json = r.body.response_format !== undefined
          formats.push(json ? "json" : "chat")
          return json ? undefined : "I think the answer is Paris, but I won't use your format."
        }
      })
      const pred = yield* Predict.make("question -> answer").call({ question: "What is the capital of France?" }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.get("answer")).toBe("Paris")
      expect(formats).toEqual(["chat", "json"])
    }).pipe(Effect.scoped))

  it.live("a reply that parses in neither format is an AdapterParseError carrying the raw completion", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: () => "no sections, no JSON here" })
      const err = yield* Effect.flip(
        Predict.make("question -> answer: int").call({ question: "How many?" }).pipe(
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim))
        )
      )
      expect(err).toBeInstanceOf(Errors.AdapterParseError)
      expect((err as Errors.AdapterParseError).completion).toBe("no sections, no JSON here")
    }).pipe(Effect.scoped))

  it.live("without the fallback only one call is made", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: () => "unparseable" })
      const exit = yield* Effect.exit(
        Predict.make("question -> answer").call({ question: "x?" }).pipe(
          Effect.provideService(Adapter.CurrentAdapter, ChatAdapter.make({ useJsonAdapterFallback: false })),
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim))
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(sim.stats().totalRequests).toBe(1)
    }).pipe(Effect.scoped))
})

describe("retries, limits and cache over HTTP", () => {
  it.live("a 429 is retried after retry-after and the second attempt answers", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ faults: { retryAfterSeconds: 0 } })
      const pred = yield* Predict.make("question -> answer").call({ question: "What is the capital of Spain?" }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim, { headers: { "x-sim-fault-once": "e2e-429:429" } }))
      )
      expect(pred.get("answer")).toBe("Madrid")
      expect(sim.stats().faults["429"]).toBe(1)
      expect(sim.stats().totalRequests).toBe(2)
    }).pipe(Effect.scoped))

  it.live("a bad API key is an LMAuthError, not retried, and never shows the key", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ apiKeys: [apiKey] })
      const wrong = "sk-WRONG-e2e-secret-000111"
      const err = yield* Effect.flip(
        Predict.make("question -> answer").call({ question: "Hi?" }).pipe(
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim, { key: wrong }))
        )
      )
      expect(err._tag).toBe("LMAuthError")
      expect(sim.stats().totalRequests).toBe(1)
      expect(`${err.message} ${JSON.stringify(err)} ${String(err)}`).not.toContain(wrong)
    }).pipe(Effect.scoped))

  it.live("an unreachable base URL is a transport LMProviderError naming the URL", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const url = "http://127.0.0.1:9/v1"
      const err = yield* Effect.flip(
        Predict.make("question -> answer").call({ question: "Hi?" }).pipe(
          Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { numRetries: 0 })),
          Effect.provide(stack(sim, { openaiBaseUrl: url }))
        )
      )
      expect(err._tag).toBe("LMProviderError")
      expect(err.message).toContain("127.0.0.1:9")
    }).pipe(Effect.scoped))

  // "stall" sends the status and part of the body: the SDKs' own timeouts stop at the headers, so this
  // checks that the providers' deadline covers reading the body too, and that the request is aborted.
  for (const fault of ["hang", "stall"]) {
    for (const model of ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]) {
      it.live(`a request that ${fault}s times out as LMTimeout and is aborted (${model})`, () =>
        Effect.gen(function*() {
          const sim = yield* simulator()
          const started = Date.now()
          const err = yield* Effect.flip(
            Predict.make("question -> answer").call({ question: "Hi?" }).pipe(
              Effect.provideService(LM.CurrentLM, LM.make(model, { numRetries: 0 })),
              Effect.provide(stack(sim, { headers: { "x-sim-fault": fault }, lm: { timeoutMs: 300 } }))
            )
          )
          expect(err._tag).toBe("LMTimeout")
          expect(Date.now() - started).toBeLessThan(5_000)
          // The client closed the connection: the simulator has nothing in flight any more.
          yield* Effect.promise(async () => {
            for (let i = 0; i < 100 && sim.stats().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20))
          })
          expect(sim.stats().inFlight).toBe(0)
        }).pipe(Effect.scoped))
    }
  }

  for (const model of ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]) {
    it.live(`interrupting a call aborts its HTTP request (${model})`, () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const waitFor = (inFlight: number) =>
          Effect.promise(async () => {
            for (let i = 0; i < 200 && sim.stats().inFlight !== inFlight; i++) {
              await new Promise((r) => setTimeout(r, 10))
            }
          })
        const fiber = yield* Effect.forkChild(
          Predict.make("question -> answer").call({ question: "Hi?" }).pipe(
            Effect.provideService(LM.CurrentLM, LM.make(model, { numRetries: 0 })),
            Effect.provide(stack(sim, { headers: { "x-sim-fault": "hang" }, lm: { timeoutMs: 60_000 } }))
          )
        )
        yield* waitFor(1)
        expect(sim.stats().inFlight).toBe(1)
        yield* Fiber.interrupt(fiber)
        // Only the client closing the connection ends a hanging request.
        yield* waitFor(0)
        expect(sim.stats().inFlight).toBe(0)
      }).pipe(Effect.scoped))
  }

  it.live("the per-provider concurrency cap holds at the server", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ latency: { fixedMs: 30, jitterMs: 0 } })
      const qa = Predict.make("question -> answer")
      yield* Effect.forEach(Facts.datasets.capitals.slice(0, 12), (r) => qa.call({ question: r.question }), {
        concurrency: 12
      }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim, { lm: { maxConcurrency: 3 } }))
      )
      expect(sim.stats().totalRequests).toBe(12)
      expect(sim.stats().maxInFlight).toBe(3)
    }).pipe(Effect.scoped))

  it.live("identical concurrent calls make one HTTP request; repeats are cache hits with zero usage", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ latency: { fixedMs: 30, jitterMs: 0 } })
      const qa = Predict.make("question -> answer")
      const layer = stack(sim)
      const { preds, again } = yield* Effect.gen(function*() {
        const preds = yield* Effect.all(
          Array.from({ length: 8 }, () => qa.call({ question: "What is the capital of Italy?" })),
          { concurrency: 8 }
        )
        const again = yield* qa.call({ question: "What is the capital of Italy?" })
        return { preds, again }
      }).pipe(Effect.provideService(LM.CurrentLM, gpt), Effect.provide(layer))
      expect(preds.every((p) => p.get("answer") === "Rome")).toBe(true)
      expect(sim.stats().totalRequests).toBe(1)
      expect(again.usage).toEqual({})
    }).pipe(Effect.scoped))

  it.live("the disk cache answers a second process-like run without any HTTP request", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const dir = tempDir("dspex-e2e-cache-")
      const run = Predict.make("question -> answer").call({ question: "What is the capital of Egypt?" }).pipe(
        Effect.provideService(LM.CurrentLM, gpt)
      )
      const first = yield* run.pipe(Effect.provide(stack(sim, { cache: Cache.layerTiered({}, { path: dir }) })))
      const second = yield* run.pipe(Effect.provide(stack(sim, { cache: Cache.layerTiered({}, { path: dir }) })))
      expect(first.get("answer")).toBe("Cairo")
      expect(second.get("answer")).toBe("Cairo")
      expect(sim.stats().totalRequests).toBe(1)
      // A different rollout id is a different cache entry, hence one more request.
      yield* Predict.make("question -> answer", { config: { rolloutId: 1, temperature: 1 } }).call({
        question: "What is the capital of Egypt?"
      }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim, { cache: Cache.layerTiered({}, { path: dir }) }))
      )
      expect(sim.stats().totalRequests).toBe(2)
    }).pipe(Effect.scoped))
})

describe("Evaluate over HTTP", () => {
  const devset = Facts.datasets.arithmetic.slice(0, 10).map((r) =>
    Example.make({ question: r.question, answer: r.answer }).withInputs("question")
  )

  it.live("scores a ChainOfThought program at 100% on the arithmetic set", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const result = yield* Evaluate.run({
        program: ChainOfThought.make("question -> answer"),
        devset,
        metric: Metrics.answerExactMatch,
        numThreads: 4
      }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(result.score).toBe(100)
      expect(result.results.map((r) => r.example)).toEqual(devset)
    }).pipe(Effect.scoped))

  it.live("failing examples (server errors, no retries) score failureScore and are counted", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ faults: { server500: 0.3 }, seed: 7 })
      const result = yield* Evaluate.run({
        program: Predict.make("question -> answer"),
        devset,
        metric: Metrics.answerExactMatch,
        maxErrors: 100,
        failureScore: 0
      }).pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { numRetries: 0 })),
        Effect.provide(stack(sim))
      )
      const failed = result.results.filter((r) => r.error !== undefined)
      expect(failed.length).toBe(sim.stats().faults["500"])
      expect(failed.length).toBeGreaterThan(0)
      expect(failed.every((r) => (r.error as { _tag: string })._tag === "LMProviderError" && r.score === 0)).toBe(true)
      expect(result.score).toBe(Math.round(10000 * (devset.length - failed.length) / devset.length) / 100)
    }).pipe(Effect.scoped))

  it.live("bad inputs count toward the error budget; an auth error stops the run at once, with a reason", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ apiKeys: ["only-this-key"] })
      const badInputs = devset.map((e) => Example.make({ query: e.get("question") }).withInputs("query"))
      const budget = yield* Effect.flip(
        Evaluate.run({
          program: Predict.make("question -> answer"),
          devset: badInputs,
          metric: Metrics.answerExactMatch,
          maxErrors: 3
        }).pipe(
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim, { key: "only-this-key" }))
        )
      )
      expect(budget._tag).toBe("ErrorBudgetExceeded")
      expect(budget.message).toContain("InputValidationError")
      const aborted = yield* Effect.flip(
        Evaluate.run({
          program: Predict.make("question -> answer"),
          devset,
          metric: Metrics.answerExactMatch,
          maxErrors: 3
        }).pipe(
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim))
        )
      )
      expect(aborted._tag).toBe("EvaluationAborted")
      expect(aborted.message).toContain("LMAuthError")
    }).pipe(Effect.scoped))
})

describe("save and load", () => {
  it.live("a loaded program sends the saved instructions and demos", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const sim = yield* simulator({
        answers: (r) => (seen.push(r.messages.map((m) => JSON.stringify(m)).join("\n")), undefined)
      })
      const dir = tempDir("dspex-e2e-state-")
      const trained = Predict.make("question -> answer", {
        instructions: "Answer with the city only.",
        demos: [{ question: "Capital of Peru?", answer: "Lima" }]
      })
      yield* ProgramState.save(trained, join(dir, "qa.json"))
      const fresh = Predict.make("question -> answer")
      yield* ProgramState.load(fresh, join(dir, "qa.json"))
      const pred = yield* fresh.call({ question: "What is the capital of Canada?" }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.get("answer")).toBe("Ottawa")
      expect(seen[0]).toContain("Answer with the city only.")
      expect(seen[0]).toContain("Capital of Peru?")
      expect(ProgramState.stateHash(fresh)).toBe(ProgramState.stateHash(trained))
    }).pipe(Effect.scoped))
})

describe("tracing", () => {
  const recording = () => {
    const spans: Array<Tracer.NativeSpan> = []
    const tracer = Tracer.make({
      span(options) {
        const span = new Tracer.NativeSpan(options)
        spans.push(span)
        return span
      }
    })
    return { spans, tracer }
  }

  for (const lm of [gpt, claude]) {
    const provider = lm.model.split("/")[0]!
    it.live(`with a tracer installed a Predict call is one nested span tree (${provider})`, () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const { spans, tracer } = recording()
        yield* Predict.make("question -> answer").call({ question: "What is 2 + 2?" }).pipe(
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim)),
          Effect.provideService(Tracer.Tracer, tracer)
        )
        const byName = (name: string) => {
          const found = spans.filter((s) => s.name === name)
          expect(found, name).toHaveLength(1)
          return found[0]!
        }
        const module = byName("Module.call")
        const adapter = byName("ChatAdapter.call")
        const generate = byName("LanguageModel.generate")
        const request = byName(`${provider}.complete`)
        const parentOf = (s: Tracer.NativeSpan) => Option.getOrUndefined(s.parent)?.spanId
        expect(parentOf(adapter)).toBe(module.spanId)
        expect(parentOf(generate)).toBe(adapter.spanId)
        expect(parentOf(request)).toBe(generate.spanId)
        expect(module.attributes.get("dspex.module")).toBe("Predict")
        expect(generate.attributes.get("gen_ai.provider.name")).toBe(provider)
        expect(generate.attributes.get("gen_ai.usage.output_tokens")).toBeGreaterThan(0)
        for (const s of [module, adapter, generate, request]) expect(s.status._tag).toBe("Ended")
      }).pipe(Effect.scoped))
  }

  it.live("Evaluate under a tracer: one Evaluate.run span, an Executor.task per example, each over its Module.call", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const { spans, tracer } = recording()
      const devset = Facts.datasets.arithmetic.slice(0, 3).map((e) => Example.make({ ...e }).withInputs("question"))
      yield* Evaluate.run({ program: Predict.make("question -> answer"), devset, metric: Metrics.answerExactMatch })
        .pipe(
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim)),
          Effect.provideService(Tracer.Tracer, tracer)
        )
      const run = spans.filter((s) => s.name === "Evaluate.run")
      const tasks = spans.filter((s) => s.name === "Executor.task")
      const modules = spans.filter((s) => s.name === "Module.call")
      expect(run).toHaveLength(1)
      expect(tasks).toHaveLength(3)
      expect(modules).toHaveLength(3)
      const parentOf = (s: Tracer.NativeSpan) => Option.getOrUndefined(s.parent)?.spanId
      for (const t of tasks) expect(parentOf(t)).toBe(run[0]!.spanId)
      expect(new Set(modules.map(parentOf))).toEqual(new Set(tasks.map((t) => t.spanId)))
    }).pipe(Effect.scoped))

  it.live("without a tracing backend DSPex makes no spans (Effect's nativeTracer is left idle)", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const { spans, tracer } = recording()
      yield* Predict.make("question -> answer").call({ question: "What is 2 + 2?" }).pipe(
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim)),
        Effect.withTracerEnabled(false),
        Effect.provideService(Tracer.Tracer, tracer)
      )
      expect(spans.map((s) => s.name)).toEqual([])
    }).pipe(Effect.scoped))
})

describe("history and usage", () => {
  it.live("records calls without secrets", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const { history, usage } = yield* Effect.gen(function*() {
        yield* Predict.make("question -> answer").call({ question: "What is 2 + 2?" })
        const lm = yield* LanguageModel.LanguageModel
        return { history: lm.history(), usage: lm.usage() }
      }).pipe(Effect.provideService(LM.CurrentLM, gpt), Effect.provide(stack(sim)))
      expect(history.length).toBe(1)
      expect(history[0]!.outputs[0]!.text).toContain("4")
      expect(usage["openai/gpt-4o-mini"]!.calls).toBe(1)
      expect(JSON.stringify(history)).not.toContain(apiKey)
    }).pipe(Effect.scoped))
})
