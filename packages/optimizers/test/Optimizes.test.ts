/**
 * Proof that the demo optimizers search: on the simulator's secret-code task (optimizable mode) a question
 * is answered right only when a demo of the same kind is in the prompt, so the zero-shot program scores 0
 * and only demos covering the kinds raise the score. These test the search, not model quality.
 */
import { Evaluate, Example, LM, Predict } from "@dspex/core"
import { Optimizable } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { BootstrapFewShot, LabeledFewShot, RandomSearch } from "../src/index.ts"
import { simulator, stack } from "./support.ts"

const { devset: devItems, trainset: trainItems } = Optimizable.codeDataset({ trainSize: 20, devSize: 20, seed: 3 })
const toExamples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const trainset = toExamples(trainItems)
const devset = toExamples(devItems)
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) =>
  String(pred.get("answer")).trim() === ex.get("answer")
const lm = LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })

/** The kinds a program's demos cover ("What is the secret code for the fruit mango?" → fruit). */
const kindsOf = (program: Predict.Predict) =>
  new Set(program.demos.map((d) => /for the (\w+) /.exec(String(d.question))?.[1]))

const scoreOn = (program: Predict.Predict) => Evaluate.run({ program, devset, metric }).pipe(Effect.map((r) => r.score))

describe("the demo optimizers raise the score", () => {
  it.live("zero-shot scores 0; LabeledFewShot, BootstrapFewShot and RandomSearch find demos covering the kinds", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
        effect.pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(stack(sim))) as Effect.Effect<A, E>
      const student = Predict.make("question -> answer")
      const baseline = yield* run(scoreOn(student))
      expect(baseline).toBe(0)

      const labeled = yield* run(LabeledFewShot.make({ k: 8 }).compile(student, { trainset, metric }))
      const bootstrapped = yield* run(
        BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 8 })
          .compile(student, { trainset, metric })
      )
      const searched = yield* run(
        RandomSearch.make({ numCandidatePrograms: 6, maxBootstrappedDemos: 4, maxLabeledDemos: 2 })
          .compile(student, { trainset, valset: trainset, metric })
      )

      const scores = {
        labeled: yield* run(scoreOn(labeled.program)),
        bootstrapped: yield* run(scoreOn(bootstrapped.program)),
        searched: yield* run(scoreOn(searched.program))
      }
      // Five kinds: each kind the demos cover is a fifth of the devset.
      for (
        const [name, program] of [["labeled", labeled.program], ["bootstrapped", bootstrapped.program], [
          "searched",
          searched.program
        ]] as const
      ) {
        expect(scores[name], name).toBe(kindsOf(program).size * 20)
      }
      expect(scores.bootstrapped).toBeGreaterThanOrEqual(baseline + 60)
      // Bootstrapped demos are the teacher's own right answers, so they carry each kind's pattern.
      expect(bootstrapped.program.demos.filter((d) => d.augmented === true).length).toBeGreaterThan(0)
      // Random search keeps the candidate with the most kinds covered: at least as good as any single bootstrap.
      const candidates = searched.log.trials.filter((t) => t.kind === "evaluation")
      expect(searched.log.best!.score).toBe(Math.max(...candidates.map((t) => t.score)))
      expect(scores.searched).toBeGreaterThanOrEqual(baseline + 40)
      expect(sim.stats().totalRequests).toBeGreaterThan(0)
    }).pipe(Effect.scoped))
})
