/**
 * COPRO against the simulator's optimizable mode over HTTP: the ⊕ task is answered right only as far as
 * the instruction states the rule, and proposal prompts get candidates that carry the rule as far as the
 * prompt reveals it (scored attempts included). So a zero-shot program scores low and only a search that
 * scores candidates and feeds the scores back finds the rule.
 */
import {
  ChatAdapter,
  Evaluate,
  Example,
  LM,
  Message,
  Module,
  Predict,
  ProgramState,
  PyText,
  Signature
} from "@dspex/core"
import { Optimizable } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as COPRO from "../src/COPRO.ts"
import { stripProposal } from "../src/internal/copro.ts"

const pyFloat = PyText.floatRepr
import type { Trial } from "../src/TrialLog.ts"
import { simulator, stack } from "./support.ts"

const { devset: devItems, trainset: trainItems } = Optimizable.operatorDataset({ trainSize: 10, devSize: 20, seed: 5 })
const toExamples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const trainset = toExamples(trainItems)
const devset = toExamples(devItems)
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) =>
  String(pred.get("answer")).trim() === ex.get("answer")
const lm = LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })

type Body = Record<string, any>

/** A simulator that records every request body (once per request, not once per choice). */
const recording = () =>
  Effect.gen(function*() {
    const bodies: Array<Body> = []
    const sim = yield* simulator({
      answers: (r) => {
        if (r.choiceIndex === 0) bodies.push(r.body)
        return undefined
      }
    })
    const isProposal = (b: Body) => JSON.stringify(b.messages).includes("proposed_instruction")
    return { sim, bodies, proposals: () => bodies.filter(isProposal) }
  })

type Sim = Parameters<typeof stack>[0]

const run = <A, E>(sim: Sim, effect: Effect.Effect<A, E, any>, store?: Checkpoint.Store) => {
  const withLm = effect.pipe(Effect.provideService(LM.CurrentLM, lm))
  const stored = store === undefined ? withLm : withLm.pipe(Effect.provideService(Checkpoint.Checkpoint, store))
  return stored.pipe(Effect.provide(stack(sim))) as Effect.Effect<A, E>
}

const scoreOn = (program: Module.Module) => Evaluate.run({ program, devset, metric }).pipe(Effect.map((r) => r.score))

const evaluations = (trials: ReadonlyArray<Trial>) => trials.filter((t) => t.kind === "evaluation")

/** The messages an OpenAI request carries for a signature and inputs, as DSPy's ChatAdapter writes them. */
const chatMessages = (signature: Signature.Signature, inputs: Record<string, unknown>) =>
  ChatAdapter.make().format(signature, [], inputs).map((m) => ({ role: m.role, content: Message.textOf(m) }))

class TwoStep extends Module.Module {
  draft = Predict.make("question -> draft")
  respond = Predict.make("question, draft -> answer")
  forward(inputs: { question: string }) {
    const self = this
    return Effect.gen(function*() {
      const draft = yield* self.draft.call(inputs)
      return yield* self.respond.call({ question: inputs.question, draft: String(draft.get("draft")) })
    })
  }
}

describe("COPRO", () => {
  it.live("finds the ⊕ rule: zero-shot scores 20% on held-out questions, the compiled program 100%, the rule in its instruction", () =>
    Effect.gen(function*() {
      const { sim } = yield* recording()
      const student = Predict.make("question -> answer")
      const baseline = yield* run(sim, scoreOn(student))
      const { log, program } = yield* run(
        sim,
        COPRO.make({ breadth: 6, depth: 3 }).compile(student, { trainset, metric })
      )
      const compiled = yield* run(sim, scoreOn(program))
      expect(baseline).toBe(20)
      expect(compiled).toBeGreaterThanOrEqual(baseline + 60)
      expect(Optimizable.conceptsIn(program.signature.instructions)).toEqual(["multiply", "add-one"])
      expect(student.signature.instructions).toBe("Given the fields `question`, produce the fields `answer`.")

      // The first proposals reveal nothing, so depth 1 cannot state the whole rule; the scores fed back
      // at depth 2 are what climbs to 100.
      const byDepth = (d: number) =>
        Math.max(...evaluations(log.trials).filter((t) => t.label.startsWith(`depth ${d}/`)).map((t) => t.score))
      expect(byDepth(1)).toBeLessThanOrEqual(60)
      expect(byDepth(2)).toBe(100)

      // The returned program is DSPy's pick: the first best candidate; its prefix is saved with it.
      const results = COPRO.results(program)!
      const winner = results.candidatePrograms[0]!
      expect(winner.score).toBe(100)
      expect(program.signature.instructions).toBe(winner.instruction)
      const saved = ProgramState.dumpState(program) as { signature: { fields: Array<{ prefix: string }> } }
      expect(saved.signature.fields.at(-1)!.prefix).toBe(winner.prefix)
      // Each candidate's program carries its instruction and its prefix on the last output field.
      expect(results.candidatePrograms.some((c) => c.prefix !== "Answer:")).toBe(true)
      for (const c of results.candidatePrograms) {
        const signature = (c.program as Predict.Predict).signature
        expect([signature.instructions, signature.fields.at(-1)!.prefix]).toEqual([c.instruction, c.prefix])
      }
      expect(results.resultsBest).toBeUndefined()
      expect(log.best).toEqual({ trial: winner.trial, candidate: ProgramState.stateHash(program), score: 100 })
      expect(results.totalCalls).toBe(18)
      expect(log.stopReason).toEqual({ _tag: "Completed" })
    }).pipe(Effect.scoped))

  it.live("one predictor: a proposal call per depth (n = breadth − 1, then breadth, at initTemperature) with DSPy's prompts; the newest batch scored on the full trainset", () =>
    Effect.gen(function*() {
      const { bodies, proposals, sim } = yield* recording()
      const breadth = 4
      const { log, program } = yield* run(
        sim,
        COPRO.make({ breadth, depth: 3, initTemperature: 1.1, trackStats: true }).compile(
          Predict.make("question -> answer"),
          {
            trainset,
            metric
          }
        )
      )
      const sent = proposals()
      expect(sent.map((b) => [b.n, b.temperature])).toEqual([[3, 1.1], [4, 1.1], [4, 1.1]])
      expect(sent[0]!.messages).toEqual(
        chatMessages(COPRO.BasicGenerateInstruction, {
          basic_instruction: "Given the fields `question`, produce the fields `answer`."
        })
      )
      // Depth 1 scores the three proposals and the original; the attempts list is the depth's entries,
      // worst first, with Python's float scores.
      const results = COPRO.results(program)!
      const depth1 = results.candidatePrograms.filter((c) => c.depth === 0)
      expect(depth1).toHaveLength(breadth)
      const ascending = [...depth1].sort((a, b) => b.score - a.score).reverse()
      const attempts = ascending.flatMap((c, i) => [
        `Instruction #${i + 1}: ${c.instruction}`,
        `Prefix #${i + 1}: ${c.prefix}`,
        `Resulting Score #${i + 1}: ${c.score}.0`
      ])
      expect(sent[1]!.messages).toEqual(
        chatMessages(COPRO.GenerateInstructionGivenAttempts, { attempted_instructions: attempts })
      )
      expect(JSON.stringify(sent[1]!.messages)).toContain("Resulting Score #4: 60.0")
      expect(depth1.some((c) => c.instruction === "Given the fields `question`, produce the fields `answer`.")).toBe(
        true
      )
      // breadth candidates per depth, each on all 10 examples; a repeated program is not scored again.
      const evals = evaluations(log.trials)
      expect(results.totalCalls).toBe(3 * breadth)
      expect(evals.every((t) => t.examples === trainset.length && t.complete)).toBe(true)
      expect(bodies.length - sent.length).toBe(evals.length * trainset.length)
      // trackStats: the newest batch's scores per depth, and the ten best so far before each proposal and at the end.
      const depthScores = (d: number) => evals.filter((t) => t.label.startsWith(`depth ${d}/`)).map((t) => t.score)
      expect(results.resultsLatest!["self"]!.depth).toEqual([0, 1, 2])
      expect(results.resultsLatest!["self"]!.max).toEqual([1, 2, 3].map((d) => Math.max(...depthScores(d))))
      expect(results.resultsLatest!["self"]!.min).toEqual([1, 2, 3].map((d) => Math.min(...depthScores(d))))
      expect(results.resultsBest!["self"]!.depth).toEqual([0, 1, 2])
      expect(results.resultsBest!["self"]!.max.at(-1)).toBe(results.candidatePrograms[0]!.score)
      expect(log.trials.filter((t) => t.kind === "proposal").map((t) => t.label)).toEqual([
        "proposals for depth 1, predictor self",
        "proposals for depth 2, predictor self",
        "proposals for depth 3, predictor self"
      ])
    }).pipe(Effect.scoped))

  it.live("several predictors: predictors × depth proposal calls, every candidate so far scored again at each depth, DSPy's duplicates dropped", () =>
    Effect.gen(function*() {
      const { proposals, sim } = yield* recording()
      const { log, program } = yield* run(
        sim,
        COPRO.make({ breadth: 3, depth: 2 }).compile(new TwoStep(), { trainset, metric })
      )
      expect(proposals().map((b) => [b.n, b.temperature])).toEqual([[2, 1.4], [2, 1.4], [3, 1.4], [3, 1.4]])
      expect(log.trials.filter((t) => t.kind === "proposal").map((t) => t.label)).toEqual([
        "proposals for depth 1, predictor draft",
        "proposals for depth 1, predictor respond",
        "proposals for depth 2, predictor draft",
        "proposals for depth 2, predictor respond"
      ])
      // Depth 1: 3 + 3 candidates; depth 2: all 6 proposals so far for each predictor.
      const results = COPRO.results(program)!
      expect(results.totalCalls).toBe(3 + 3 + 6 + 6)
      const labels = evaluations(log.trials).map((t) => t.label)
      expect(labels.some((l) => l.startsWith("depth 2/2, predictor draft (1 of 2), candidate 6/6"))).toBe(true)
      // No two ranked candidates are the same program with the same score.
      const seen = results.candidatePrograms.map((c) => `${c.score}/${ProgramState.stateHash(c.program)}`)
      expect(new Set(seen).size).toBe(seen.length)
      expect(results.candidatePrograms.map((c) => c.score)).toEqual(
        [...results.candidatePrograms.map((c) => c.score)].sort((a, b) => b - a)
      )
      // Each predictor is set to its best before the next one is scored: every `respond` candidate runs
      // with the best `draft` (the first of the equal scores, not the original instruction). One depth, so
      // no entry is replaced by a later scoring.
      const shallow = COPRO.results(
        (yield* run(
          sim,
          COPRO.make({ breadth: 3, depth: 1 }).compile(new TwoStep(), { trainset, metric })
        )).program
      )!
      const draftBest = shallow.candidatePrograms.find((c) => c.predictor === "draft")!
      const respond = shallow.candidatePrograms.filter((c) => c.predictor === "respond")
      expect(respond.length).toBeGreaterThan(0)
      expect(draftBest.instruction).not.toBe(new TwoStep().draft.signature.instructions)
      for (const c of respond) expect((c.program as TwoStep).draft.signature.instructions).toBe(draftBest.instruction)
      expect(program).toBeInstanceOf(TwoStep)
      expect(ProgramState.stateHash(program)).toBe(log.best!.candidate)
    }).pipe(Effect.scoped))

  it.live("same simulator answers: the same program and the same log twice", () =>
    Effect.gen(function*() {
      const shapes: Array<unknown> = []
      const states: Array<unknown> = []
      for (let i = 0; i < 2; i++) {
        const { sim } = yield* recording()
        const { log, program } = yield* run(
          sim,
          COPRO.make({ breadth: 5, depth: 2 }).compile(Predict.make("question -> answer"), { trainset, metric })
        )
        states.push(ProgramState.dumpState(program))
        shapes.push(log.trials.map((t) => [t.kind, t.label, t.candidate, t.scores]))
      }
      expect(states[0]).toEqual(states[1])
      expect(shapes[0]).toEqual(shapes[1])
    }).pipe(Effect.scoped))

  it.live("a budget stops the run with the best candidate so far and the reason", () =>
    Effect.gen(function*() {
      const { sim } = yield* recording()
      const { log, program } = yield* run(
        sim,
        COPRO.make({ breadth: 4, depth: 2 }).compile(Predict.make("question -> answer"), {
          trainset,
          metric,
          budget: { maxMetricCalls: 25 },
          trialConcurrency: 1
        })
      )
      expect(log.stopReason).toEqual({ _tag: "BudgetExhausted", limit: "metricCalls", used: 25, max: 25 })
      expect(log.metricCalls).toBe(25)
      const evals = evaluations(log.trials)
      expect(evals.map((t) => t.complete)).toEqual([true, true, false])
      const best = evals[0]!.score >= evals[1]!.score ? evals[0]! : evals[1]!
      expect(best.score).toBeGreaterThan(20)
      expect(log.best).toEqual({ trial: best.trial, candidate: best.candidate, score: best.score })
      expect(ProgramState.stateHash(program)).toBe(best.candidate)
      expect(COPRO.results(program)).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("a run started again on its checkpoint store redoes no evaluation and no proposal", () =>
    Effect.gen(function*() {
      const { proposals, sim } = yield* recording()
      const store = Checkpoint.memory()
      const optimizer = COPRO.make({ breadth: 4, depth: 3 })
      const compile = (budget?: { maxMetricCalls: number }) =>
        run(sim, optimizer.compile(Predict.make("question -> answer"), { trainset, metric, budget }), store)
      const stopped = yield* compile({ maxMetricCalls: 45 })
      expect(stopped.log.stopReason._tag).toBe("BudgetExhausted")
      const requestsStopped = sim.stats().totalRequests
      const proposalsStopped = proposals().length
      const resumed = yield* compile()
      expect(resumed.log.stopReason).toEqual({ _tag: "Completed" })
      expect(resumed.log.resumedSteps).toBeGreaterThanOrEqual(45 + 1)

      // Together the two runs pay exactly what an uninterrupted run pays, and end where it ends. (Comparing
      // request bodies would not do: candidates that differ only in their prefix send the same prompts.)
      const fresh = yield* recording()
      const uninterrupted = yield* run(
        fresh.sim,
        optimizer.compile(Predict.make("question -> answer"), { trainset, metric })
      )
      expect(sim.stats().totalRequests).toBe(fresh.sim.stats().totalRequests)
      expect(proposals().length).toBe(fresh.proposals().length)
      // Depth 1 (40 metric calls) and the second proposal were done before the stop; only the third is new.
      expect([proposalsStopped, proposals().length]).toEqual([2, 3])
      expect(requestsStopped).toBeLessThan(fresh.sim.stats().totalRequests)
      expect(stopped.log.metricCalls + resumed.log.metricCalls).toBe(uninterrupted.log.metricCalls)
      expect(ProgramState.dumpState(resumed.program)).toEqual(ProgramState.dumpState(uninterrupted.program))

      // A third run is all replay: not one request.
      const requests = sim.stats().totalRequests
      const third = yield* compile()
      expect(sim.stats().totalRequests).toBe(requests)
      expect(third.log.metricCalls).toBe(0)
      expect(third.log.trials.filter((t) => t.kind === "proposal")).toEqual([])
      expect(ProgramState.dumpState(third.program)).toEqual(ProgramState.dumpState(uninterrupted.program))
    }).pipe(Effect.scoped))

  it.live("bad input and a failing prompt model are typed errors", () =>
    Effect.gen(function*() {
      const { sim } = yield* recording()
      const errorOf = <A, E>(effect: Effect.Effect<A, E, any>) =>
        run(sim, effect).pipe(
          Effect.exit,
          Effect.map((exit) => (Exit.isFailure(exit) ? (exit.cause as any).reasons?.[0]?.error : undefined))
        )
      const qa = () => Predict.make("question -> answer")
      const noPredictors = new (class extends Module.Module {
        forward() {
          return Effect.succeed(1)
        }
      })()
      const cases = [
        [COPRO.make().compile(qa(), { trainset: [], metric }), { _tag: "InvalidDataset", dataset: "trainset" }],
        [COPRO.make().compile(noPredictors, { trainset, metric }), { _tag: "InvalidProgram" }],
        [COPRO.make({ breadth: 1 }).compile(qa(), { trainset, metric }), { _tag: "InvalidOption", option: "breadth" }],
        [COPRO.make({ depth: 0 }).compile(qa(), { trainset, metric }), { _tag: "InvalidOption", option: "depth" }],
        [
          COPRO.make({ promptModel: LM.make("openai/gpt-4o-mini:fault=401") }).compile(qa(), { trainset, metric }),
          { _tag: "ProposalFailed", step: "proposals for depth 1, predictor self", retryable: false }
        ]
      ] as const
      for (const [effect, expected] of cases) {
        const error = yield* errorOf(effect as Effect.Effect<unknown, unknown, any>)
        expect(error).toMatchObject(expected)
        expect(typeof error.suggestion).toBe("string")
      }
      // The bad inputs were caught before any request; the prompt model's one request failed, unretried.
      expect(sim.stats().totalRequests).toBe(1)
      const failed = yield* errorOf(
        COPRO.make({ promptModel: LM.make("openai/gpt-4o-mini:fault=401") }).compile(qa(), { trainset, metric })
      )
      expect(failed.error._tag).toBe("LMAuthError")
    }).pipe(Effect.scoped))

  it("formats and strips as Python does", () => {
    expect([pyFloat(60), pyFloat(33.33), pyFloat(0), pyFloat(1e-5), pyFloat(1e16)]).toEqual([
      "60.0",
      "33.33",
      "0.0",
      "1e-05",
      "1e+16"
    ])
    expect(stripProposal("\"  Be brief. \"")).toBe("Be brief.")
    // Quotes first, then whitespace: a quote behind a newline stays.
    expect(stripProposal("\" x \"\n")).toBe("x \"")
  })
})
