import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CurrentAdapter } from "../src/Adapter.ts"
import * as Evaluate from "../src/Evaluate.ts"
import * as Example from "../src/Example.ts"
import * as Executor from "../src/Executor.ts"
import * as LM from "../src/LM.ts"
import * as M from "../src/Metrics.ts"
import * as Predict from "../src/Predict.ts"
import { Prediction } from "../src/Prediction.ts"
import { reply, scriptedLM, testAdapter } from "./moduleTestKit.ts"

// Expected values are DSPy 3.3.1's (docstrings and tests of dspy/evaluate/metrics.py, checked in Python).
describe("normalizeText", () => {
  it("lowercases, strips punctuation and articles, collapses whitespace", () => {
    expect(M.normalizeText("The,  Eiffel  Tower!")).toBe("eiffel tower")
    expect(M.normalizeText("an apple_a day")).toBe("applea day")
    expect(M.normalizeText("über-a the")).toBe("übera".normalize("NFD"))
    expect(M.normalizeText("  A  cat\tand\nTHE hat ")).toBe("cat and hat")
  })

  it("applies NFD and Python's Unicode word boundaries", () => {
    // NFD splits ç into c + combining cedilla, which Python's \b treats as a non-word char.
    expect(M.normalizeText("ça")).toBe("c\u0327")
    // "the" followed by a combining accent is a whole word to Python, so it goes.
    expect(M.normalizeText("théatre")).toBe("\u0301atre")
    expect(M.normalizeText("Ａ the")).toBe("ａ")
  })
})

describe("EM / F1", () => {
  it("matches DSPy's examples", () => {
    expect(M.EM("The Eiffel Tower", ["Eiffel Tower", "Louvre"])).toBe(true)
    expect(M.EM("paris", ["Paris"])).toBe(true)
    expect(M.EM("paris", ["Paris, France"])).toBe(false)
    expect(M.emScore("Paris", "paris")).toBe(true)
    expect(M.F1("Eiffel Tower is in Paris", ["Paris"])).toBeCloseTo(0.3333333333, 9)
    expect(M.tokenF1("the Eiffel Tower", "Eiffel Tower")).toBe(1)
    expect(M.tokenF1("the cat sat on the mat", "a cat on a mat")).toBeCloseTo(0.8571428571428571, 12)
    expect(M.tokenF1("abc", "xyz")).toBe(0)
    expect(M.precisionScore("eiffel tower in paris", "eiffel tower")).toBe(0.5)
    expect(M.HotPotF1("yes", ["no"])).toBe(0)
    expect(M.HotPotF1("yes", ["yes"])).toBe(1)
  })

  it("counts repeated tokens once per occurrence", () => {
    // Counter intersection: "paris paris" vs "paris": 1 shared token.
    expect(M.tokenF1("paris paris", "paris")).toBeCloseTo(2 / 3, 12)
  })
})

describe("answerExactMatch", () => {
  const q = (answer: unknown) => Example.make({ question: "What is 1+1?", answer }).withInputs("question")

  it("compares pred.answer with a string or any of a list (DSPy's tests)", () => {
    expect(M.answerExactMatch(q("2"), new Prediction({ answer: "2" }))).toBe(true)
    expect(M.answerExactMatch(q(["2", "two"]), new Prediction({ answer: "two" }))).toBe(true)
    expect(M.answerExactMatch(q("2"), new Prediction({ answer: "3" }))).toBe(false)
  })

  it("with frac < 1 accepts a token F1 of at least frac", () => {
    const example = Example.make({ answer: ["Eiffel Tower", "Louvre"] })
    const pred = new Prediction({ answer: "The Eiffel Tower" })
    expect(M.answerExactMatch(example, pred, { frac: 1.0 })).toBe(true)
    expect(M.answerExactMatch(example, pred, { frac: 0.5 })).toBe(true)
    const partial = new Prediction({ answer: "Eiffel Tower in Paris" })
    expect(M.answerExactMatch(example, partial)).toBe(false)
    expect(M.answerExactMatch(example, partial, { frac: 0.6 })).toBe(true)
    expect(M.answerExactMatch(example, partial, [], { frac: 0.7 })).toBe(false)
    expect(M.answerExactMatchWith({ frac: 0.6 })(example, partial)).toBe(true)
  })

  it("rejects answers that are neither a string nor a list of strings", () => {
    expect(() => M.answerExactMatch(q(42), new Prediction({ answer: "42" }))).toThrow("Invalid answer type")
  })
})

describe("answerPassageMatch", () => {
  it("finds the normalized answer as a token sequence in some passage", () => {
    const pred = new Prediction({ context: ["Something else.", "The Eiffel Tower is in Paris."] })
    expect(M.answerPassageMatch(Example.make({ answer: "Eiffel Tower" }), pred)).toBe(true)
    expect(M.answerPassageMatch(Example.make({ answer: ["Louvre", "the eiffel tower!"] }), pred)).toBe(true)
    expect(M.answerPassageMatch(Example.make({ answer: "Louvre" }), pred)).toBe(false)
    // Token match, not substring: "Paris" is not found inside "Parisian".
    expect(M.answerPassageMatch(Example.make({ answer: "Paris" }), new Prediction({ context: ["A Parisian cafe."] })))
      .toBe(false)
    // Punctuation goes before matching, so "8,849" matches "8849"; a token prefix does not match.
    expect(M.passageMatch(["Mount Everest, 8,849 m"], ["8,849"])).toBe(true)
    expect(M.passageMatch(["Mount Everest 8849 m"], ["884"])).toBe(false)
  })
})

describe("metrics in Evaluate", () => {
  it.effect("answerExactMatch scores a program", () =>
    Effect.gen(function*() {
      const lm = scriptedLM([reply({ answer: "The Eiffel Tower" }), reply({ answer: "Rome" })])
      const devset = [
        Example.make({ question: "Tallest tower in Paris?", answer: "Eiffel Tower" }).withInputs("question"),
        Example.make({ question: "Capital of France?", answer: ["Paris"] }).withInputs("question")
      ]
      const result = yield* Evaluate.run({
        program: Predict.make("question -> answer"),
        devset,
        metric: M.answerExactMatch,
        numThreads: 1
      }).pipe(
        Effect.provideService(CurrentAdapter, testAdapter),
        Effect.provideService(LM.CurrentLM, LM.make("test/m")),
        Effect.provide(Layer.mergeAll(lm.layer, Executor.layerLocal({ concurrency: 1 })))
      )
      expect(result.results.map((r) => r.score)).toEqual([1, 0])
      expect(result.score).toBe(50)
    }))
})
