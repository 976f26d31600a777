import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CurrentAdapter } from "../src/Adapter.ts"
import * as ChainOfThought from "../src/ChainOfThought.ts"
import * as T from "../src/FieldType.ts"
import * as LM from "../src/LM.ts"
import * as Predict from "../src/Predict.ts"
import * as Signature from "../src/Signature.ts"
import * as Trace from "../src/Trace.ts"
import { loadChatAdapter, reply, scriptedLM, testAdapter } from "./moduleTestKit.ts"

const chatAdapter = await loadChatAdapter()

describe("ChainOfThought", () => {
  it("wraps a Predict named `predict` whose signature starts its outputs with reasoning", () => {
    const cot = ChainOfThought.make("question -> answer: float", { instructions: "Think, then answer." })
    expect(cot.predict).toBeInstanceOf(Predict.Predict)
    const sig = cot.predict.signature
    expect(sig.inputNames).toEqual(["question"])
    expect(sig.outputNames).toEqual(["reasoning", "answer"])
    const reasoning = sig.outputs[0]!
    expect(reasoning.desc).toBe("${reasoning}")
    expect(reasoning.prefix).toBe("Reasoning:")
    expect(reasoning.type).toEqual(T.str)
    expect(sig.outputs[1]!.type).toEqual(T.float)
    expect(sig.instructions).toBe("Think, then answer.")
    expect(cot.namedPredictors().map(([p]) => p)).toEqual(["predict"])
  })

  it("keeps a Signature's own instructions and passes demos, lm and config to the inner Predict", () => {
    const lm = LM.make("openai/gpt-4o-mini")
    const cot = ChainOfThought.make(Signature.make("q -> a", "Custom."), {
      demos: [{ q: "1", reasoning: "r", a: "2" }],
      lm,
      config: { temperature: 0.5 }
    })
    expect(cot.predict.instructions).toBe("Custom.")
    expect(cot.predict.demos).toEqual([{ q: "1", reasoning: "r", a: "2" }])
    expect(cot.predict.lm).toEqual(lm)
    expect(cot.predict.config).toEqual({ temperature: 0.5 })
  })

  it("accepts a custom rationale field", () => {
    const cot = ChainOfThought.make("q -> a", {
      rationaleField: { desc: "step by step", prefix: "Reasoning: Let's think" }
    })
    expect(cot.predict.signature.outputs[0]).toMatchObject({
      name: "reasoning",
      desc: "step by step",
      prefix: "Reasoning: Let's think"
    })
  })

  it.effect("returns reasoning and answer, traced under `predict`", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ reasoning: "3 plus 3 is 6", answer: "6" })])
      const [pred, steps] = yield* Trace.capture(ChainOfThought.make("question -> answer").call({ question: "3+3?" }))
        .pipe(
          Effect.provideService(CurrentAdapter, testAdapter),
          Effect.provideService(LM.CurrentLM, LM.make("test/m")),
          Effect.provide(lm.layer)
        )
      expect(pred.data).toEqual({ reasoning: "3 plus 3 is 6", answer: "6" })
      expect(steps.map((s) => s.path)).toEqual(["predict"])
    }))

  it.effect("forwards per-call options to the inner Predict", () =>
    Effect.gen(function*() {
      const lm = scriptedLM(() => reply({ reasoning: "r", answer: "a" }))
      yield* ChainOfThought.make("question -> answer").call({ question: "q" }, {
        lm: LM.make("option/model"),
        config: { maxTokens: 7 }
      }).pipe(
        Effect.provideService(CurrentAdapter, testAdapter),
        Effect.provide(lm.layer)
      )
      expect(lm.calls[0]!.lm.model).toBe("option/model")
      expect(lm.calls[0]!.request.maxTokens).toBe(7)
    }))

  it.effect.skipIf(chatAdapter === undefined)(
    "asks ChatAdapter for reasoning before the answer",
    () =>
      Effect.gen(function*() {
        const lm = scriptedLM(["[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n6\n\n[[ ## completed ## ]]"])
        yield* ChainOfThought.make("question -> answer").call({ question: "3+3?" }).pipe(
          Effect.provideService(LM.CurrentLM, LM.make("test/m")),
          Effect.provide(lm.layer)
        )
        const last = String(lm.calls[0]!.request.messages.at(-1)!.content)
        expect(last).toContain("starting with the field `[[ ## reasoning ## ]]`, then `[[ ## answer ## ]]`")
      })
  )
})
