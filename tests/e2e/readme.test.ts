/**
 * The README's Effect example, run as written except that the OpenAI layer points at the simulated
 * provider. If this test needs changing, the README example needs the same change.
 */
import { Cache, ChainOfThought, Evaluate, Example, Executor, LanguageModel, LM, Module, ProgramState } from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { simulator, tempDir } from "./support.ts"

class MathQA extends Module.Module {
  solve = ChainOfThought.make("question -> answer: float")
  forward(inputs: { question: string }) {
    return this.solve.call(inputs)
  }
}

const devset = [
  Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question"),
  Example.make({ question: "What is 9 * 9?", answer: 81 }).withInputs("question")
]

describe("README example", () => {
  it.live("defines, runs, evaluates and saves a program", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const file = join(tempDir("dspex-readme-"), "math-qa.json")
      const main = Effect.gen(function*() {
        const qa = new MathQA()
        const pred = yield* qa.call({ question: "What is 2 + 2?" })
        const { score, results } = yield* Evaluate.run({
          program: qa,
          devset,
          metric: (example, pred) => pred.get("answer") === example.get("answer"),
          numThreads: 8
        })
        yield* ProgramState.save(qa, file)
        return { pred, score, results }
      })
      const Live = Layer.mergeAll(
        LanguageModel.layer().pipe(Layer.provide([OpenAi.layer({ apiKey: Redacted.make("sk-readme"), baseURL: sim.openaiBaseUrl }), Cache.layerMemory()])),
        Executor.layerLocal()
      )
      const { pred, score, results } = yield* main.pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { temperature: 0 })),
        Effect.provide(Live)
      )
      expect(pred.get("answer")).toBe(4)
      expect(typeof pred.get("reasoning")).toBe("string")
      expect(score).toBe(100)
      expect(results.length).toBe(2)
      const saved = JSON.parse(readFileSync(file, "utf8"))
      expect(Object.keys(saved)).toEqual(["solve.predict", "metadata"])
      expect(saved["solve.predict"].signature.fields.map((f: { prefix: string }) => f.prefix)).toEqual(["Question:", "Reasoning:", "Answer:"])
    }).pipe(Effect.scoped))
})
