/**
 * The simulator's optimizable mode through DSPex's own adapters, LanguageModel and the openai SDK: the
 * prompts optimizers will send (instructions, demos, n, rollout ids) get the documented behaviours.
 */
import {
  Adapter,
  ChainOfThought,
  Evaluate,
  Example,
  JSONAdapter,
  LM,
  Module,
  Predict,
  Signature,
  XMLAdapter
} from "@dspex/core"
import { Optimizable } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { simulator, stack } from "./support.ts"

const lm = LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })
const ops = Optimizable.operatorDataset({ trainSize: 10, devSize: 20, seed: 7 })
const codes = Optimizable.codeDataset({ trainSize: 10, devSize: 20, seed: 7 })
const examples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((it) => Example.make({ ...it }).withInputs("question"))
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) =>
  String(pred.get("answer")) === ex.get("answer")

const adapters = [
  ["ChatAdapter", undefined],
  ["JSONAdapter", JSONAdapter.defaultAdapter],
  ["XMLAdapter", XMLAdapter.defaultAdapter]
] as const

describe("the optimizable mode through DSPex programs", () => {
  for (const [name, adapter] of adapters) {
    it.live(`${name}: the instruction decides the ⊕ score, demos the secret-code score`, () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const score = (program: Predict.Predict, devset: ReadonlyArray<Optimizable.Item>) =>
          Evaluate.run({ program, devset: examples(devset), metric, numThreads: 8 }).pipe(
            Effect.map((r) => r.score)
          )
        const run = Effect.gen(function*() {
          const plain = Predict.make("question -> answer")
          const rule = yield* score(plain.withInstructions(Optimizable.RULE), ops.devset)
          const half = yield* score(plain.withInstructions("Multiply the two numbers."), ops.devset)
          const base = yield* score(plain, ops.devset)
          const noDemos = yield* score(plain, codes.devset)
          const demos = yield* score(plain.withDemos(codes.trainset.map((it) => ({ ...it }))), codes.devset)
          return [base, half, rule, noDemos, demos]
        })
        const scores =
          yield* (adapter === undefined ? run : Effect.provideService(run, Adapter.CurrentAdapter, adapter))
            .pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(stack(sim)))
        expect(scores).toEqual([20, 60, 100, 0, 100])
      }).pipe(Effect.scoped))
  }

  it.live("ChainOfThought with labeled demos (no reasoning) learns the codes of the kinds they show", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const fruit = codes.trainset.filter((it) => Optimizable.parseCode(it.question)!.kind === "fruit")
      const cot = ChainOfThought.make("question -> answer")
      cot.predict.demos = fruit.map((it) => ({ ...it }))
      const result = yield* Evaluate.run({ program: cot, devset: examples(codes.devset), metric, numThreads: 8 }).pipe(
        Effect.provideService(LM.CurrentLM, lm),
        Effect.provide(stack(sim))
      )
      const fruitsInDev = codes.devset.filter((it) => Optimizable.parseCode(it.question)!.kind === "fruit").length
      expect(result.score).toBe((100 * fruitsInDev) / codes.devset.length)
    }).pipe(Effect.scoped))

  it.live("proposal prompts: n choices and new rollout ids give distinct candidates, a cached rollout the same", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const sig = Signature.make(
        "basic_instruction -> proposed_instruction, proposed_prefix_for_output_field",
        "You are an instruction optimizer for large language models. Propose an instruction."
      )
      const inputs = { basic_instruction: "Given the fields `question`, produce the fields `answer`." }
      const propose = (config: Module.PredictConfig) =>
        Predict.make(sig, { config }).call(inputs).pipe(
          Effect.map((p) => p.completions.field("proposed_instruction").map(String))
        )
      const [batch, r1, r2, r1Again] = yield* Effect.all([
        propose({ n: 4, temperature: 1.4 }),
        propose({ temperature: 1, rolloutId: 1 }),
        propose({ temperature: 1, rolloutId: 2 }),
        propose({ temperature: 1, rolloutId: 1 })
      ], { concurrency: 1 }).pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(stack(sim)))
      expect(new Set(batch).size).toBe(4)
      expect(r1).not.toEqual(r2)
      expect(r1Again).toEqual(r1)
      expect(batch.some((p) => Optimizable.conceptsIn(p).length > 0)).toBe(true)
    }).pipe(Effect.scoped))
})
