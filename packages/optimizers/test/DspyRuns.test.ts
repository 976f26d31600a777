/**
 * DSPy 3.3.1's own compile runs (fixtures/dspy, from ../shared/fixtures/dspy-3.3.1/optimizers) reproduced
 * request for request: the same teacher (an OpenAI-compatible server that answers "What is A + B?" right
 * unless A is a multiple of 3), the same trainset, metric and settings; DSPex must send the same requests in
 * the same order and save the same program.
 */
import { Cache, ChainOfThought, Example, LM, Module, Predict, ProgramState } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { BootstrapFewShot, LabeledFewShot } from "../src/index.ts"
import { simulator, stack } from "./support.ts"

interface Run {
  readonly trainset: ReadonlyArray<Record<string, unknown>>
  readonly input_keys: ReadonlyArray<string>
  readonly calls: ReadonlyArray<
    { readonly messages: unknown; readonly temperature: number; readonly max_tokens: number }
  >
  readonly result: { readonly saved: Record<string, unknown>; readonly optimizer_internals?: any }
  readonly metric_calls?: ReadonlyArray<
    { readonly question: string; readonly pred_answer: string; readonly trace: unknown }
  >
  readonly stdout: string
}

const fixture = (name: string): Run =>
  JSON.parse(readFileSync(new URL(`./fixtures/dspy/${name}`, import.meta.url), "utf8")) as Run

/** DSPy's mock teacher: right unless A is a multiple of 3, when it answers A + B + 1. */
const teacherAnswer = (question: string): string => {
  const m = /What is (\d+) \+ (\d+)\?/.exec(question)
  if (m === null) return "[[ ## answer ## ]]\nI don't know\n\n[[ ## completed ## ]]"
  const [a, b] = [Number(m[1]), Number(m[2])]
  return `[[ ## answer ## ]]\n${a % 3 === 0 ? a + b + 1 : a + b}\n\n[[ ## completed ## ]]`
}

const teacherLm = LM.make("openai/mock-teacher", { temperature: 0, maxTokens: 1000, cache: false })

const setup = (run: Run) => {
  const trainset = run.trainset.map((d) => Example.make(d).withInputs(...run.input_keys))
  const metricCalls: Array<{ question: unknown; pred: unknown; trace: unknown }> = []
  const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }, trace?: ReadonlyArray<any>) => {
    metricCalls.push({
      question: ex.get("question"),
      pred: pred.get("answer"),
      trace: trace?.map((s) => ["Predict", s.inputs, s.outputs.toJSON()])
    })
    return ex.get("answer") === pred.get("answer")
  }
  return { trainset, metric, metricCalls }
}

describe("DSPy 3.3.1's compile runs, reproduced", () => {
  it.live("LabeledFewShot(k=4), sample=False: the first four examples; sample=True draws 7, 12, 1, 5 as random.Random(0)", () =>
    Effect.gen(function*() {
      const run = fixture("B-labeledfewshot.json")
      const { metric, trainset } = setup(run)
      const sim = yield* simulator()
      const first = yield* LabeledFewShot.make({ k: 4, sample: false })
        .compile(Predict.make("question -> answer"), { trainset, metric })
        .pipe(Effect.provide(stack(sim)))
      expect(ProgramState.dumpState(first.program)).toEqual(run.result.saved)
      expect(first.log.usage.lmCalls).toBe(0)
      const sampled = yield* LabeledFewShot.make({ k: 4 })
        .compile(Predict.make("question -> answer"), { trainset, metric })
        .pipe(Effect.provide(stack(sim)))
      expect(sampled.program.demos).toEqual((run.result as any).for_comparison_demos_with_sample_true)
      expect(sim.stats().totalRequests).toBe(0)
    }).pipe(Effect.scoped))

  it.live("BootstrapFewShot(max_bootstrapped_demos=4, max_labeled_demos=4): the same five teacher requests, traces, metric calls and saved program", () =>
    Effect.gen(function*() {
      const run = fixture("C-bootstrap-predict.json")
      const bodies: Array<Record<string, unknown>> = []
      const sim = yield* simulator({
        answers: (r) => {
          bodies.push(r.body)
          return teacherAnswer(r.messages.at(-1)?.text ?? "")
        }
      })
      const { metric, metricCalls, trainset } = setup(run)
      const result = yield* BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4, maxRounds: 1 })
        .compile(Predict.make("question -> answer"), { trainset, metric })
        .pipe(Effect.provideService(LM.CurrentLM, teacherLm), Effect.provide(stack(sim)))
      expect(bodies.map((b) => b.messages)).toEqual(run.calls.map((c) => c.messages))
      expect(bodies.map((b) => [b.model, b.temperature, b.max_tokens ?? b.max_completion_tokens])).toEqual(
        run.calls.map(() => ["mock-teacher", 0, 1000])
      )
      expect(metricCalls).toEqual(
        run.metric_calls!.map((c) => ({
          question: c.question,
          pred: c.pred_answer,
          trace: c.trace as Array<[string, unknown, unknown]>
        }))
      )
      expect(ProgramState.dumpState(result.program)).toEqual(run.result.saved)
      expect(result.program.compiled).toBe(true)
      expect(result.log.trials.filter((t: { kind: string }) => t.kind === "bootstrap")).toHaveLength(5)
      expect(result.log.usage.lmCalls).toBe(5)
      expect(result.log.metricCalls).toBe(5)
      expect(result.log.stopReason).toEqual({ _tag: "Completed" })
    }).pipe(Effect.scoped))

  it.live("maxRounds 2: a failed example is retried at temperature 1.0 under rolloutId 1, past the LM cache", () =>
    Effect.gen(function*() {
      const run = fixture("C-bootstrap-predict.json")
      const bodies: Array<Record<string, unknown>> = []
      // Wrong for multiples of 3 at temperature 0 only: the retry round gets them right.
      const sim = yield* simulator({
        answers: (r) => {
          bodies.push(r.body)
          const m = /What is (\d+) \+ (\d+)\?/.exec(r.messages.at(-1)?.text ?? "")!
          const [a, b] = [Number(m[1]), Number(m[2])]
          const wrong = a % 3 === 0 && r.body.temperature === 0
          return `[[ ## answer ## ]]\n${wrong ? a + b + 1 : a + b}\n\n[[ ## completed ## ]]`
        }
      })
      const { metric, trainset } = setup(run)
      const cached = LM.make("openai/mock-teacher", { temperature: 0, maxTokens: 1000 })
      const result = yield* BootstrapFewShot.make({ maxBootstrappedDemos: 4, maxLabeledDemos: 4, maxRounds: 2 })
        .compile(Predict.make("question -> answer"), { trainset, metric })
        .pipe(Effect.provideService(LM.CurrentLM, cached), Effect.provide(stack(sim, { cache: Cache.layerMemory() })))
      const asked = bodies.map((
        b
      ) => [/What is (\d+)/.exec(String((b.messages as any[]).at(-1).content))![1], b.temperature])
      expect(asked).toEqual([["1", 0], ["2", 0], ["3", 0], ["3", 1], ["4", 0]])
      expect((result.program as Predict.Predict).demos.map((d) => [d.question, d.augmented ?? false])).toEqual([
        ["What is 1 + 100?", true],
        ["What is 2 + 100?", true],
        ["What is 3 + 100?", true],
        ["What is 4 + 100?", true]
      ])
      expect(result.log.trials.filter((t) => t.kind === "bootstrap")).toHaveLength(5)
    }).pipe(Effect.scoped))

  it.live("a program of several predictors: each successful run's steps become demos of their own predictors", () =>
    Effect.gen(function*() {
      class Pipeline extends Module.Module {
        draft = ChainOfThought.make("question -> draft")
        answer = Predict.make("question, draft -> answer")
        forward(inputs: { question: string }) {
          return Effect.flatMap(
            this.draft.call(inputs),
            (d) => this.answer.call({ question: inputs.question, draft: d.get("draft") })
          )
        }
      }
      const sim = yield* simulator({
        answers: (r) => {
          const last = r.messages.at(-1)?.text ?? ""
          const m = /What is (\d+) \+ (\d+)\?/.exec(last)!
          const sum = Number(m[1]) + Number(m[2])
          return last.includes("[[ ## answer ## ]]")
            ? `[[ ## answer ## ]]\n${sum}\n\n[[ ## completed ## ]]`
            : `[[ ## reasoning ## ]]\nadd them\n\n[[ ## draft ## ]]\nabout ${sum}\n\n[[ ## completed ## ]]`
        }
      })
      const run = fixture("C-bootstrap-predict.json")
      const { metric, trainset } = setup(run)
      const result = yield* BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 0 })
        .compile(new Pipeline(), { trainset, metric })
        .pipe(Effect.provideService(LM.CurrentLM, teacherLm), Effect.provide(stack(sim)))
      const demos = Object.fromEntries(result.program.namedPredictors().map(([n, p]) => [n, p.demos]))
      expect(Object.keys(demos)).toEqual(["draft.predict", "answer"])
      expect(demos["draft.predict"]).toEqual([
        { augmented: true, question: "What is 1 + 100?", reasoning: "add them", draft: "about 101" },
        { augmented: true, question: "What is 2 + 100?", reasoning: "add them", draft: "about 102" }
      ])
      expect(demos.answer).toEqual([
        { augmented: true, question: "What is 1 + 100?", draft: "about 101", answer: "101" },
        { augmented: true, question: "What is 2 + 100?", draft: "about 102", answer: "102" }
      ])
      expect(Object.keys(ProgramState.dumpState(result.program))).toEqual(["draft.predict", "answer", "metadata"])
    }).pipe(Effect.scoped))
})
