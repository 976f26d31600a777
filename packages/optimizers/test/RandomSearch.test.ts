/**
 * BootstrapFewShotWithRandomSearch against a Python transliteration of DSPy's candidate construction
 * (fixtures/randomsearch.py, run with CPython's random): every seed's candidate has DSPy's demos, the best
 * is the first strictly best in seed order, stopAtScore ends the search, and concurrency changes nothing.
 */
import { Example, LM, Predict, ProgramState } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { RandomSearch } from "../src/index.ts"
import { simulator, stack } from "./support.ts"

interface Candidate {
  readonly seed: number
  readonly demos: ReadonlyArray<Record<string, unknown>>
}
const fixture = JSON.parse(readFileSync(new URL("./fixtures/randomsearch.json", import.meta.url), "utf8")) as {
  readonly trainset: ReadonlyArray<Record<string, unknown>>
  readonly labeled0: ReadonlyArray<Candidate>
  readonly labeled4: ReadonlyArray<Candidate>
}

const trainset = fixture.trainset.map((d) => Example.make(d).withInputs("question"))
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) => ex.get("answer") === pred.get("answer")
const lm = LM.make("openai/mock-teacher", { temperature: 0, maxTokens: 1000, cache: false })
const hashOf = (demos: ReadonlyArray<Record<string, unknown>>) =>
  ProgramState.stateHash(Predict.make("question -> answer", { demos }))

/**
 * DSPy's mock teacher (wrong when A is a multiple of 3), except that a prompt with exactly two demos gets
 * every answer right: the candidates then score differently, and seed 1 (two bootstrapped demos) is the
 * first to reach 100%.
 */
const answers = (r: { readonly messages: ReadonlyArray<{ readonly role: string; readonly text: string }> }) => {
  const demos = r.messages.filter((m) => m.role === "user").length - 1
  const m = /What is (\d+) \+ (\d+)\?/.exec(r.messages.at(-1)?.text ?? "")!
  const [a, b] = [Number(m[1]), Number(m[2])]
  return `[[ ## answer ## ]]\n${a % 3 === 0 && demos !== 2 ? a + b + 1 : a + b}\n\n[[ ## completed ## ]]`
}

const compile = (config: Partial<RandomSearch.Config>, trialConcurrency: number) =>
  Effect.gen(function*() {
    const sim = yield* simulator({ answers })
    const result = yield* RandomSearch.make({ numCandidatePrograms: 6, maxBootstrappedDemos: 4, ...config })
      .compile(Predict.make("question -> answer"), { trainset, metric, trialConcurrency })
      .pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(stack(sim)))
    const evaluations = result.log.trials.filter((t) => t.kind === "evaluation")
    return { result, evaluations, requests: sim.stats().totalRequests }
  })

describe("RandomSearch (BootstrapFewShotWithRandomSearch)", () => {
  it.live("builds DSPy's candidate for every seed, in seed order, and keeps the first strictly best", () =>
    Effect.gen(function*() {
      const { evaluations, result } = yield* compile({ maxLabeledDemos: 0 }, 1)
      expect(evaluations.map((t) => t.label)).toEqual([
        "seed -3 (zero-shot)",
        "seed -2 (labeled demos)",
        "seed -1 (bootstrapped, trainset as given)",
        "seed 0 (bootstrapped, shuffled, 4 demos)",
        "seed 1 (bootstrapped, shuffled, 2 demos)",
        "seed 2 (bootstrapped, shuffled, 1 demos)",
        "seed 3 (bootstrapped, shuffled, 2 demos)",
        "seed 4 (bootstrapped, shuffled, 2 demos)",
        "seed 5 (bootstrapped, shuffled, 3 demos)"
      ])
      expect(evaluations.map((t) => t.candidate)).toEqual(fixture.labeled0.map((c) => hashOf(c.demos)))
      expect(evaluations.map((t) => t.score)).toEqual([66.67, 66.67, 66.67, 66.67, 100, 66.67, 100, 100, 66.67])
      // Seeds 1, 3 and 4 tie at 100: the first wins.
      expect((result.program as Predict.Predict).demos).toEqual(fixture.labeled0[4]!.demos)
      expect(result.log.best).toMatchObject({ trial: evaluations[4]!.trial, score: 100 })
      expect(result.log.stopReason).toEqual({ _tag: "Completed" })
    }).pipe(Effect.scoped))

  it.live("with labeled demos: the labeled fill drawn from the shuffled pool, as DSPy draws it", () =>
    Effect.gen(function*() {
      const { evaluations } = yield* compile({ maxLabeledDemos: 4 }, 1)
      expect(evaluations.map((t) => t.candidate)).toEqual(fixture.labeled4.map((c) => hashOf(c.demos)))
    }).pipe(Effect.scoped))

  it.live("stopAtScore ends the search at the first candidate reaching it; concurrent candidates give the same result", () =>
    Effect.gen(function*() {
      const sequential = yield* compile({ maxLabeledDemos: 0, stopAtScore: 100 }, 1)
      expect(sequential.evaluations).toHaveLength(5)
      expect(sequential.result.log.stopReason).toEqual({ _tag: "StopScore", score: 100, stopAtScore: 100 })
      expect((sequential.result.program as Predict.Predict).demos).toEqual(fixture.labeled0[4]!.demos)
      const concurrent = yield* compile({ maxLabeledDemos: 0, stopAtScore: 100 }, 4)
      expect(ProgramState.dumpState(concurrent.result.program)).toEqual(
        ProgramState.dumpState(sequential.result.program)
      )
      expect(concurrent.result.log.stopReason).toEqual(sequential.result.log.stopReason)
      const full = yield* compile({ maxLabeledDemos: 0 }, 4)
      expect(full.evaluations.map((t) => t.candidate).sort()).toEqual(
        fixture.labeled0.map((c) => hashOf(c.demos)).sort()
      )
      expect((full.result.program as Predict.Predict).demos).toEqual(fixture.labeled0[4]!.demos)
    }).pipe(Effect.scoped))
})
