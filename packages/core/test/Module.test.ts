import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Tracer } from "effect"
import { CurrentAdapter } from "../src/Adapter.ts"
import { type CallbackEvent, withCallbacks } from "../src/Callbacks.ts"
import * as ChainOfThought from "../src/ChainOfThought.ts"
import * as LM from "../src/LM.ts"
import { Module } from "../src/Module.ts"
import * as Predict from "../src/Predict.ts"
import { Prediction } from "../src/Prediction.ts"
import * as Trace from "../src/Trace.ts"
import { reply, scriptedLM, testAdapter, usage } from "./moduleTestKit.ts"

class RAG extends Module {
  generate_query = ChainOfThought.make("context, question -> query")
  generate_answer = Predict.make("context: list[str], question -> answer")

  forward(inputs: { readonly question: string }) {
    return Effect.gen({ self: this }, function*() {
      const q = yield* this.generate_query.call({ context: "", question: inputs.question })
      return yield* this.generate_answer.call({ context: [String(q.get("query"))], question: inputs.question })
    })
  }
}

class Ensemble extends Module {
  progs = [ChainOfThought.make("question -> answer"), ChainOfThought.make("question -> answer")]
  tools = { search: Predict.make("query -> passages: list[str]"), lookup: ChainOfThought.make("term -> definition") }
  forward(inputs: { readonly question: string }) {
    return this.progs[0]!.call(inputs)
  }
}

class Shared extends Module {
  a = Predict.make("q -> a")
  b = this.a
  forward(inputs: { readonly q: string }) {
    return this.a.call(inputs)
  }
}

const withTestAdapter = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provideService(CurrentAdapter, testAdapter),
    Effect.provideService(LM.CurrentLM, LM.make("test/model"))
  )

describe("named predictor paths", () => {
  it("names a bare Predict `self` and ChainOfThought's inner predictor `predict`", () => {
    expect(Predict.make("q -> a").namedPredictors().map(([p]) => p)).toEqual(["self"])
    expect(ChainOfThought.make("q -> a").namedPredictors().map(([p]) => p)).toEqual(["predict"])
  })

  it("names nested modules with dotted paths in attribute order", () => {
    expect(new RAG().namedPredictors().map(([p]) => p)).toEqual(["generate_query.predict", "generate_answer"])
  })

  it("names array items progs[i] and record entries tools['key']", () => {
    expect(new Ensemble().namedPredictors().map(([p]) => p)).toEqual([
      "progs[0].predict",
      "progs[1].predict",
      "tools['search']",
      "tools['lookup'].predict"
    ])
  })

  it("lists a predictor reachable twice once, and leaves compiled sub-modules out", () => {
    expect(new Shared().namedPredictors().map(([p]) => p)).toEqual(["a"])
    const rag = new RAG()
    rag.generate_query.compiled = true
    expect(rag.namedPredictors().map(([p]) => p)).toEqual(["generate_answer"])
  })

  it("names sub-modules breadth-first from self, as DSPy's named_sub_modules", () => {
    expect(new Ensemble().namedSubModules().map(([p]) => p)).toEqual([
      "self",
      "self.progs[0]",
      "self.progs[1]",
      "self.tools[search]",
      "self.tools[lookup]",
      "self.progs[0].predict",
      "self.progs[1].predict",
      "self.tools[lookup].predict"
    ])
  })
})

describe("copies", () => {
  it("deepCopy gives independent predictors, demos, instructions and LMs", () => {
    const rag = new RAG()
    rag.generate_answer.demos = [{ context: ["c"], question: "q", answer: "a" }]
    rag.generate_answer.lm = LM.make("openai/gpt-4o-mini", { kwargs: { top_p: 0.5 } })
    const copy = rag.deepCopy()
    expect(copy).toBeInstanceOf(RAG)
    expect(copy.generate_answer).not.toBe(rag.generate_answer)
    expect(copy.generate_query.predict).not.toBe(rag.generate_query.predict)

    copy.generate_answer.demos.push({ question: "new", answer: "x" })
    ;(copy.generate_answer.demos[0]!.context as Array<string>).push("mutated")
    copy.generate_answer.signature = copy.generate_answer.signature.withInstructions("changed")
    ;(copy.generate_answer.lm!.kwargs as Record<string, unknown>).top_p = 0.9
    copy.generate_query.predict.lm = LM.make("other/model")

    expect(rag.generate_answer.demos).toEqual([{ context: ["c"], question: "q", answer: "a" }])
    expect(rag.generate_answer.signature.instructions).toBe(
      "Given the fields `context`, `question`, produce the fields `answer`."
    )
    expect(rag.generate_answer.lm!.kwargs).toEqual({ top_p: 0.5 })
    expect(rag.generate_query.predict.lm).toBeUndefined()
  })

  it("deepCopy keeps a shared predictor shared inside the copy", () => {
    const copy = new Shared().deepCopy()
    expect(copy.b).toBe(copy.a)
  })

  it("resetCopy clears demos and LMs of the copy only", () => {
    const rag = new RAG()
    rag.setLm(LM.make("openai/gpt-4o-mini"))
    rag.generate_answer.demos = [{ question: "q", answer: "a" }]
    const fresh = rag.resetCopy()
    expect(fresh.generate_answer.demos).toEqual([])
    expect(fresh.predictors().map((p) => p.lm)).toEqual([undefined, undefined])
    expect(rag.generate_answer.demos).toHaveLength(1)
    expect(rag.predictors().map((p) => p.lm?.model)).toEqual(["openai/gpt-4o-mini", "openai/gpt-4o-mini"])
  })

  it("mapNamedPredictors replaces predictors in place, in arrays and records too", () => {
    const ens = new Ensemble()
    ens.mapNamedPredictors((p, path) => p.withInstructions(`for ${path}`))
    expect(ens.namedPredictors().map(([path, p]) => [path, p.instructions])).toEqual([
      ["progs[0].predict", "for progs[0].predict"],
      ["progs[1].predict", "for progs[1].predict"],
      ["tools['search']", "for tools['search']"],
      ["tools['lookup'].predict", "for tools['lookup'].predict"]
    ])
    const bare = Predict.make("q -> a")
    const mapped = bare.mapNamedPredictors((p) => p.withInstructions("x"))
    expect((mapped as Predict.Predict).instructions).toBe("x")
  })
})

describe("Module.call", () => {
  it.effect("emits ModuleStart/ModuleEnd with DSPy's sub-module paths and aggregates usage", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ reasoning: "r", query: "Macbeth author" }), reply({ answer: "Shakespeare" })])
      const events: Array<CallbackEvent> = []
      const pred = yield* new RAG().call({ question: "Who wrote Macbeth?" }).pipe(
        withCallbacks([(e) => events.push(e)]),
        withTestAdapter,
        Effect.provide(lm.layer)
      )
      expect(pred.get("answer")).toBe("Shakespeare")
      const starts = events.filter((e) => e._tag === "ModuleStart").map((e) => `${e.module}:${e.path}`)
      expect(starts).toEqual([
        "RAG:self",
        "ChainOfThought:self.generate_query",
        "Predict:self.generate_query.predict",
        "Predict:self.generate_answer"
      ])
      const ends = events.filter((e) => e._tag === "ModuleEnd")
      expect(ends).toHaveLength(4)
      expect(ends.at(-1)!.path).toBe("self")
      // Two LM calls inside the root call: its prediction carries both.
      expect(pred.usage["test/model"]).toEqual({ promptTokens: 20, completionTokens: 10, totalTokens: 30 })
    }))

  it.effect("runs forward inside a `Module.call` span carrying the module class and path", () =>
    Effect.gen(function*() {
      class Probe extends Module {
        forward(_: Record<string, never>) {
          return Effect.map(
            Effect.currentSpan,
            (span) => new Prediction({ name: span.name, attributes: Object.fromEntries(span.attributes) })
          )
        }
      }
      class Outer extends Module {
        probes = { first: new Probe() }
        forward(_: Record<string, never>) {
          return this.probes.first.call({})
        }
      }
      const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })
      const pred = yield* new Outer().call({}).pipe(Effect.provideService(Tracer.Tracer, tracer))
      expect(pred.get("name")).toBe("Module.call")
      expect(pred.get("attributes")).toEqual({ "dspex.module": "Probe", "dspex.path": "self.probes[first]" })
    }))

  it.effect("makes no spans of its own when no tracing backend is installed (Effect's nativeTracer)", () =>
    Effect.gen(function*() {
      class Probe extends Module {
        forward(_: Record<string, never>) {
          return Effect.map(
            Effect.option(Effect.currentSpan),
            (span) => new Prediction({ span: Option.getOrUndefined(span)?.name ?? "none" })
          )
        }
      }
      expect((yield* new Probe().call({})).get("span")).toBe("none")
      // Tracing turned off explicitly keeps them off even under a real tracer.
      const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })
      const off = yield* new Probe().call({}).pipe(
        Effect.withTracerEnabled(false),
        Effect.provideService(Tracer.Tracer, tracer)
      )
      expect(off.get("span")).not.toBe("Module.call")
    }))

  it.effect("reports the error at ModuleEnd when forward fails", () =>
    Effect.gen(function*() {
      const events: Array<CallbackEvent> = []
      const exit = yield* Effect.exit(
        Predict.make("q -> a").call({ wrong: 1 }).pipe(
          withCallbacks([(e) => events.push(e)]),
          withTestAdapter,
          Effect.provide(scriptedLM([]).layer)
        )
      )
      expect(exit._tag).toBe("Failure")
      const end = events.find((e) => e._tag === "ModuleEnd")
      expect(end && "error" in end && (end.error as { _tag: string })._tag).toBe("InputValidationError")
    }))
})

describe("Trace", () => {
  it.effect("captures each predictor call with its path, inputs and outputs", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ reasoning: "r", query: "q1" }), reply({ answer: "a1" })])
      const [pred, steps] = yield* Trace.capture(new RAG().call({ question: "Q" })).pipe(
        withTestAdapter,
        Effect.provide(lm.layer)
      )
      expect(steps.map((s) => s.path)).toEqual(["generate_query.predict", "generate_answer"])
      expect(steps[1]!.inputs).toEqual({ context: ["q1"], question: "Q" })
      expect(steps[1]!.outputs.data).toBe(pred.data)
      expect(steps[0]!.outputs.get("query")).toBe("q1")
    }))

  it.effect("keeps concurrent runs apart: each capture sees only its own steps", () =>
    Effect.gen(function*() {
      // The LM interleaves the runs: every reply yields several times before answering.
      const lm = scriptedLM((request) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* Effect.yieldNow
          const text = String(request.messages.at(-1)!.content)
          const question = /\[\[ ## question ## \]\]\n(.*)/.exec(text)![1]!
          return text.includes("[[ ## context ## ]]\n[")
            ? reply({ answer: `answer to ${question}` })
            : reply({ reasoning: "r", query: `query for ${question}` })
        })
      )
      const program = new RAG()
      const runs = yield* Effect.all(
        ["Q1", "Q2", "Q3", "Q4"].map((q) => Trace.capture(program.call({ question: q }))),
        { concurrency: "unbounded" }
      ).pipe(withTestAdapter, Effect.provide(lm.layer))
      runs.forEach(([pred, steps], i) => {
        const q = `Q${i + 1}`
        expect(pred.get("answer")).toBe(`answer to ${q}`)
        expect(steps).toHaveLength(2)
        expect(steps.every((s) => s.inputs.question === q)).toBe(true)
      })
      expect(lm.calls).toHaveLength(8)
    }))

  it.effect("does not record outside capture, and nested captures do not leak to the outer one", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ a: "1" }), reply({ a: "2" }), reply({ a: "3" })])
      const p = Predict.make("q -> a")
      const [, outer] = yield* Trace.capture(Effect.gen(function*() {
        yield* p.call({ q: "outer" })
        const [, inner] = yield* Trace.capture(p.call({ q: "inner" }))
        expect(inner.map((s) => s.inputs.q)).toEqual(["inner"])
      })).pipe(withTestAdapter, Effect.provide(lm.layer))
      expect(outer.map((s) => s.inputs.q)).toEqual(["outer"])
      yield* p.call({ q: "untraced" }).pipe(withTestAdapter, Effect.provide(lm.layer))
    }))

  it("is bounded: beyond the limit the oldest steps are dropped", () => {
    const buffer = new Trace.TraceBuffer()
    const p = Predict.make("q -> a")
    for (let i = 0; i < Trace.maxSteps + 5; i++) {
      buffer.add({ path: "self", predictor: p, inputs: { q: String(i) }, outputs: new Prediction({}) })
    }
    const steps = buffer.steps()
    expect(Trace.maxSteps).toBe(10_000)
    expect(steps).toHaveLength(10_000)
    expect(steps[0]!.inputs.q).toBe("5")
    expect(steps.at(-1)!.inputs.q).toBe(String(Trace.maxSteps + 4))
  })

  it.effect("honours a smaller limit given to capture", () =>
    Effect.gen(function*() {
      const lm = scriptedLM(() => reply({ a: "x" }))
      const p = Predict.make("q -> a")
      const [, steps] = yield* Trace.capture(Effect.forEach(["1", "2", "3", "4"], (q) => p.call({ q })), { limit: 2 })
        .pipe(
          withTestAdapter,
          Effect.provide(lm.layer)
        )
      expect(steps.map((s) => s.inputs.q)).toEqual(["3", "4"])
    }))

  it.effect("captureExit returns the steps of a failed run", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ reasoning: "r", query: "q" }), "no sections at all"])
      const [exit, steps] = yield* Trace.captureExit(new RAG().call({ question: "Q" })).pipe(
        withTestAdapter,
        Effect.provide(lm.layer)
      )
      expect(exit._tag).toBe("Failure")
      expect(steps.map((s) => s.path)).toEqual(["generate_query.predict"])
    }))
})

describe("usage", () => {
  it.effect("a Predict's prediction carries the usage of its own call", () =>
    Effect.gen(function*() {
      const pred = yield* Predict.make("q -> a").call({ q: "x" }).pipe(
        withTestAdapter,
        Effect.provide(scriptedLM([reply({ a: "1" })]).layer)
      )
      expect(pred.usage).toEqual({ "test/model": usage })
    }))
})
