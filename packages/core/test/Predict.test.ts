import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { CurrentAdapter } from "../src/Adapter.ts"
import { InputValidationError } from "../src/Errors.ts"
import * as LM from "../src/LM.ts"
import { LMRateLimited } from "../src/LMError.ts"
import * as Predict from "../src/Predict.ts"
import * as Signature from "../src/Signature.ts"
import * as Trace from "../src/Trace.ts"
import { loadChatAdapter, reply, scriptedLM, testAdapter, usage } from "./moduleTestKit.ts"

const chatAdapter = await loadChatAdapter()

const run = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  lm: ReturnType<typeof scriptedLM>,
  current: LM.LM | null = LM.make("test/current")
) =>
  effect.pipe(
    Effect.provideService(CurrentAdapter, testAdapter),
    Effect.provideService(LM.CurrentLM, current ?? undefined),
    Effect.provide(lm.layer)
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const err = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (err === undefined || err._tag !== "Fail") throw new Error("expected a typed failure")
  return err.error
}

describe("Predict.make", () => {
  it("parses string signatures and applies options", () => {
    const p = Predict.make("question -> answer", {
      instructions: "Be brief.",
      demos: [{ question: "2+2?", answer: "4" }],
      config: { temperature: 0.3 }
    })
    expect(p.signature.inputNames).toEqual(["question"])
    expect(p.instructions).toBe("Be brief.")
    expect(p.demos).toEqual([{ question: "2+2?", answer: "4" }])
    expect(p.config).toEqual({ temperature: 0.3 })
    expect(p.lm).toBeUndefined()
  })

  it("withInstructions / withDemos / withSignature return copies", () => {
    const p = Predict.make("q -> a")
    const q = p.withInstructions("new").withDemos([{ q: "x", a: "y" }])
    expect(q.instructions).toBe("new")
    expect(q.demos).toEqual([{ q: "x", a: "y" }])
    expect(p.instructions).toBe("Given the fields `q`, produce the fields `a`.")
    expect(p.demos).toEqual([])
    const r = q.withSignature(Signature.make("q -> a: int"))
    expect(r.signature.outputs[0]!.type._tag).toBe("int")
    expect(r.demos).toEqual([{ q: "x", a: "y" }])
  })
})

describe("Predict.call", () => {
  it.effect("sends instructions, demos and inputs through the adapter and returns the parsed prediction", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ answer: "6" })])
      const p = Predict.make("question -> answer", {
        instructions: "Be brief.",
        demos: [{ question: "2+2?", answer: "4" }]
      })
      const pred = yield* run(p.call({ question: "3+3?" }), lm)
      expect(pred.get("answer")).toBe("6")
      expect(pred.usage).toEqual({ "test/current": usage })
      const messages = lm.calls[0]!.request.messages
      expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"])
      expect(messages[0]!.content).toBe("Be brief.")
      expect(messages.at(-1)!.content).toBe("[[ ## question ## ]]\n3+3?")
    }))

  it.effect("resolves the LM: call option, then the predictor's, then CurrentLM", () =>
    Effect.gen(function*() {
      const lm = scriptedLM(() => reply({ a: "x" }))
      const p = Predict.make("q -> a")
      yield* run(p.call({ q: "1" }), lm)
      p.lm = LM.make("own/model")
      yield* run(p.call({ q: "2" }), lm)
      yield* run(p.call({ q: "3" }, { lm: LM.make("option/model") }), lm)
      expect(lm.calls.map((c) => c.lm.model)).toEqual(["test/current", "own/model", "option/model"])
    }))

  it.effect("fails with LMConfigurationError when no LM is set anywhere", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(run(Predict.make("q -> a").call({ q: "1" }), scriptedLM([]), null))
      const error = failureOf(exit)
      expect(error._tag).toBe("LMConfigurationError")
      expect(error.message).toContain("no LM")
    }))

  it.effect("merges per-call config over the predictor's config and uses per-call demos", () =>
    Effect.gen(function*() {
      const lm = scriptedLM(() => reply({ a: "x" }))
      const p = Predict.make("q -> a", { config: { temperature: 0.2, maxTokens: 100 }, demos: [{ q: "d", a: "e" }] })
      yield* run(p.call({ q: "1" }, { config: { temperature: 0.9 }, demos: [] }), lm)
      const { request } = lm.calls[0]!
      expect(request.temperature).toBe(0.9)
      expect(request.maxTokens).toBe(100)
      expect(request.messages).toHaveLength(2)
    }))

  it.effect("returns all completions when n > 1 and raises a low or unset temperature to 0.7", () =>
    Effect.gen(function*() {
      const lm = scriptedLM(() => [reply({ a: "one" }), reply({ a: "two" }), reply({ a: "three" })])
      const p = Predict.make("q -> a")
      const pred = yield* run(p.call({ q: "x" }, { config: { n: 3 } }), lm)
      expect(pred.get("a")).toBe("one")
      expect(pred.completions.length).toBe(3)
      expect(pred.completions.field("a")).toEqual(["one", "two", "three"])
      yield* run(p.call({ q: "x" }, { config: { n: 3, temperature: 0.1 } }), lm)
      yield* run(p.call({ q: "x" }, { config: { n: 3, temperature: 1.0 } }), lm)
      yield* run(p.call({ q: "x" }, { config: { temperature: 0 } }), lm)
      yield* run(p.call({ q: "x" }), lm, LM.make("test/current", { n: 2, temperature: 0 }))
      expect(lm.calls.map((c) => c.request.temperature)).toEqual([0.7, 0.7, 1.0, 0, 0.7])
    }))

  it.effect("records a trace step with the predictor, its inputs and outputs", () =>
    Effect.gen(function*() {
      const p = Predict.make("q -> a")
      const [pred, steps] = yield* run(Trace.capture(p.call({ q: "x" })), scriptedLM([reply({ a: "y" })]))
      expect(steps).toHaveLength(1)
      expect(steps[0]!.path).toBe("self")
      expect(steps[0]!.predictor).toBe(p)
      expect(steps[0]!.inputs).toEqual({ q: "x" })
      expect(steps[0]!.outputs).toBe(pred)
    }))

  it.effect("call goes through a subclass's own forward (the one-step fast path never bypasses an override)", () =>
    Effect.gen(function*() {
      class Shouting extends Predict.Predict {
        override forward(inputs: Readonly<Record<string, unknown>>) {
          return Effect.map(super.forward({ q: String(inputs.q).toUpperCase() }), (pred) => pred)
        }
      }
      const p = new Shouting("q -> a")
      const [, steps] = yield* run(Trace.capture(p.call({ q: "quiet" })), scriptedLM([reply({ a: "y" })]))
      expect(steps[0]!.inputs).toEqual({ q: "QUIET" })
    }))

  it.effect("propagates adapter parse errors and LM errors", () =>
    Effect.gen(function*() {
      const p = Predict.make("q -> a")
      const parse = failureOf(yield* Effect.exit(run(p.call({ q: "x" }), scriptedLM(["no fields here"]))))
      expect(parse._tag).toBe("AdapterParseError")
      const rateLimited = scriptedLM(() =>
        Effect.fail(new LMRateLimited({ provider: "test", model: "m", detail: "slow down" }))
      )
      const lmError = failureOf(yield* Effect.exit(run(p.call({ q: "x" }), rateLimited)))
      expect(lmError._tag).toBe("LMRateLimited")
    }))
})

describe("input validation", () => {
  const p = Predict.make("context: list[str], question, hint: Optional[str], k: int -> answer")
  const lm = () => scriptedLM(() => reply({ answer: "x" }))
  const validationError = (inputs: Record<string, unknown>) =>
    Effect.map(Effect.exit(run(p.call(inputs), lm())), (exit) => failureOf(exit) as InputValidationError)

  it.effect("a missing required input is `missing`; a missing optional one is fine", () =>
    Effect.gen(function*() {
      const e = yield* validationError({ context: ["c"], k: 1 })
      expect(e).toBeInstanceOf(InputValidationError)
      expect(e.problem).toBe("missing")
      expect(e.field).toBe("question")
      expect(e.predictor).toBe("self")
      const ok = yield* run(p.call({ context: ["c"], question: "q", k: 1 }), lm())
      expect(ok.get("answer")).toBe("x")
    }))

  it.effect("an input the signature does not have is `unknown`", () =>
    Effect.gen(function*() {
      const e = yield* validationError({ context: [], question: "q", k: 1, extra: true })
      expect(e.problem).toBe("unknown")
      expect(e.field).toBe("extra")
      expect(e.message).toContain("context, question, hint, k")
    }))

  it.effect("a value of the wrong type is `wrong_type`, checked with the field's schema", () =>
    Effect.gen(function*() {
      const list = yield* validationError({ context: 42, question: "q", k: 1 })
      expect(list.problem).toBe("wrong_type")
      expect(list.field).toBe("context")
      expect(list.detail).toContain("list[str]")
      const int = yield* validationError({ context: [], question: "q", k: 1.5 })
      expect(int.field).toBe("k")
      const obj = yield* validationError({ context: [], question: { nested: true }, k: 1 })
      expect(obj.field).toBe("question")
    }))

  it.effect("str fields accept text, numbers and lists of strings; null only for optional fields", () =>
    Effect.gen(function*() {
      yield* run(p.call({ context: [], question: ["passage one", "passage two"], k: 1 }), lm())
      yield* run(p.call({ context: [], question: 7, k: 1, hint: null }), lm())
      const e = yield* validationError({ context: null, question: "q", k: 1 })
      expect(e.problem).toBe("wrong_type")
    }))

  it.effect("names the predictor path inside a program", () =>
    Effect.gen(function*() {
      const ChainOfThought = yield* Effect.promise(() => import("../src/ChainOfThought.ts"))
      const cot = ChainOfThought.make("question -> answer")
      const e = failureOf(yield* Effect.exit(run(cot.call({}), lm())))
      expect((e as InputValidationError).predictor).toBe("predict")
    }))
})

describe("Predict.validateInputs", () => {
  it.effect("applies a call's checks without a call", () =>
    Effect.gen(function*() {
      const signature = Signature.make("context: list[str], question -> answer")
      yield* Predict.validateInputs(signature, { context: ["a"], question: "q" })
      const e = yield* Effect.flip(Predict.validateInputs(signature, { context: 5, question: "q" }))
      expect(e).toBeInstanceOf(InputValidationError)
      expect(e).toMatchObject({ field: "context", problem: "wrong_type", predictor: "" })
      expect(e.message).toBe("Input field \"context\" has the wrong type: expected list[str], got number 5")
    }))
})

describe("default adapter", () => {
  it.effect.skipIf(chatAdapter === undefined)(
    "uses ChatAdapter when no CurrentAdapter is set",
    () =>
      Effect.gen(function*() {
        const lm = scriptedLM(["[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"])
        const pred = yield* Predict.make("question -> answer").call({ question: "2+2?" }).pipe(
          Effect.provideService(LM.CurrentLM, LM.make("test/m")),
          Effect.provide(lm.layer)
        )
        expect(pred.get("answer")).toBe("4")
        expect(lm.calls[0]!.request.messages).toEqual(
          chatAdapter!.format(Signature.make("question -> answer"), [], { question: "2+2?" })
        )
      })
  )
})
