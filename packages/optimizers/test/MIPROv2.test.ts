/**
 * MIPROv2 on the simulator's ⊕ task (optimizable mode): an instruction is right only as far as it states the
 * rule `a ⊕ b = a × b + 1`, and proposals carry the rule as far as the proposal prompt reveals it. Checked:
 * the search finds an instruction stating the rule; DSPy's random draws (against fixtures/mipro.py, run with
 * CPython), trials and LM calls; determinism; budgets; checkpoint resume; typed errors.
 */
import { Callbacks, Evaluate, Example, LM, type Module, Predict, ProgramState } from "@dspex/core"
import { Optimizable, type Simulator } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { readFileSync } from "node:fs"
import { Checkpoint, MIPROv2, type Optimizer, type TrialLog } from "../src/index.ts"
import { examplesRepr, stripPrefix } from "../src/internal/datasetSummary.ts"
import { simulator, stack } from "./support.ts"

const fixture = JSON.parse(readFileSync(new URL("./fixtures/mipro.json", import.meta.url), "utf8")) as {
  readonly valsetOrder: ReadonlyArray<number>
  readonly demoSets: ReadonlyArray<
    { readonly seed: number; readonly kind: string; readonly order?: ReadonlyArray<number>; readonly size?: number }
  >
  readonly proposals: ReadonlyArray<{ readonly tip: string; readonly rollout_id: number }>
  readonly numTrials: number
  readonly minibatches: ReadonlyArray<ReadonlyArray<number>>
}

const data = Optimizable.operatorDataset({ trainSize: 100, devSize: 40, seed: 2 })
const toExamples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const trainset = toExamples(data.trainset.slice(0, 40))
const valset = toExamples(data.trainset.slice(40))
const devset = toExamples(data.devset)
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) =>
  String(pred.get("answer")).trim() === ex.get("answer")
const lm = LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })
const original = Predict.make("question -> answer").signature.instructions
const zeroShot = MIPROv2.make({ maxBootstrappedDemos: 0, maxLabeledDemos: 0 })
const TIPS: Record<string, string> = {
  none: "",
  creative: "Don't be afraid to be creative when creating the new instruction!",
  simple: "Keep the instruction clear and concise.",
  description: "Make sure your instruction is very informative and descriptive.",
  high_stakes: "The instruction should include a high stakes scenario in which the LM must solve the task!",
  persona: "Include a persona that is relevant to the task in the instruction (ie. \"You are a ...\")"
}

/** What the simulator was asked: every request, and each proposal prompt's inputs in order. */
const recorder = () => {
  const requests: Array<string> = []
  const proposals: Array<Readonly<Record<string, string>>> = []
  const answers = (r: Simulator.SimRequest) => {
    requests.push(JSON.stringify(r.messages))
    if (r.prompt.outputFields.some((f) => f.name === "proposed_instruction")) proposals.push(r.prompt.inputs)
    return undefined
  }
  return { requests, proposals, answers }
}

interface RunOptions {
  readonly sim: Simulator.Simulator
  readonly budget?: Optimizer.Budget
  readonly store?: Checkpoint.Store
  readonly trialConcurrency?: number
  readonly onLm?: Callbacks.Callback
}

/** A compile run makes about 600 LM calls (a few seconds when the suite runs in parallel). */
const compile = (optimizer: Optimizer.Optimizer<MIPROv2.Config>, options: RunOptions) =>
  optimizer.compile(Predict.make("question -> answer"), {
    trainset,
    valset,
    metric,
    budget: options.budget,
    trialConcurrency: options.trialConcurrency
  }).pipe(
    Callbacks.withCallbacks(options.onLm === undefined ? [] : [options.onLm]),
    Effect.provideService(Checkpoint.Checkpoint, options.store ?? Checkpoint.none),
    Effect.provideService(LM.CurrentLM, lm),
    Effect.provide(stack(options.sim))
  )

const devScore = (sim: Simulator.Simulator, program: Module.Module) =>
  Evaluate.run({ program, devset, metric }).pipe(
    Effect.map((r) => r.score),
    Effect.provideService(LM.CurrentLM, lm),
    Effect.provide(stack(sim))
  )

const evaluations = (log: TrialLog.TrialLog) => log.trials.filter((t) => t.kind === "evaluation")
const lmCalls = (trials: ReadonlyArray<TrialLog.Trial>) => trials.reduce((a, t) => a + t.usage.lmCalls, 0)
const instructionOf = (program: Module.Module) => program.predictors()[0]!.signature.instructions
/** A run's shape: every step's kind, label, candidate and scores, in order. */
const shape = (log: TrialLog.TrialLog) => log.trials.map((t) => [t.kind, t.label, t.candidate, t.scores])

/** Whether the simulated model answers an item right under an instruction. */
const right = (example: Example.Example, instruction: string) =>
  Optimizable.answerOperator(String(example.get("question")), instruction)!.correct ? 1 : 0

describe("MIPROv2", () => {
  it.live(
    "zero-shot light on the ⊕ task: finds an instruction stating the rule, with DSPy's draws, trials and calls",
    () =>
      Effect.gen(function*() {
        const rec = recorder()
        const sim = yield* simulator({ answers: rec.answers })
        const rollouts: Array<Record<string, unknown>> = []
        const onLm: Callbacks.Callback = (e) => {
          if (e._tag === "LMStart" && JSON.stringify(e.messages).includes("proposed_instruction")) {
            rollouts.push(e.kwargs)
          }
        }
        const { log, program } = yield* compile(zeroShot, { sim, onLm })

        // The proof: the baseline solves the easy fifth of the devset, the compiled program all of it.
        const before = yield* devScore(sim, Predict.make("question -> answer"))
        const after = yield* devScore(sim, program)
        expect(before).toBe(20)
        expect(after - before).toBeGreaterThanOrEqual(60)
        expect(Optimizable.conceptsIn(instructionOf(program))).toEqual(["multiply", "add-one"])
        expect(log.stopReason).toEqual({ _tag: "Completed" })

        // Trials: the baseline, 9 minibatch trials of 35 (light, zero-shot: int(max(2·1·log2 6, 1.5·6)) = 9) and a
        // full evaluation after trial numbers 6 and 11 (Optuna's numbering counts the injected trials).
        const evals = evaluations(log)
        const minibatches = evals.filter((t) => t.label.includes("(minibatch)"))
        const full = evals.filter((t) => !t.label.includes("(minibatch)"))
        expect(fixture.numTrials).toBe(9)
        expect(minibatches.map((t) => t.examples)).toEqual(Array(9).fill(35))
        expect(full.map((t) => t.examples)).toEqual([60, 60, 60])
        expect(evals.map((t) => /^trial (\d+)\/12/.exec(t.label)?.[1])).toEqual(
          ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
        )
        expect(full[1]!.label).toMatch(/^trial 7\/12: full evaluation of /)
        expect(log.best?.score).toBe(Math.max(...full.map((t) => t.score)))
        // Task-model runs: 35·9 + 60·3 = 495. DSPy's estimate, 35·9 + 60·(9 // 5 + 1) = 435, leaves one full
        // evaluation out when the trials are not a multiple of 5.
        const estimate = MIPROv2.estimateLmCalls({
          predictors: 1,
          numInstructCandidates: 6,
          programAwareProposer: true,
          numTrials: 9,
          minibatch: true,
          minibatchSize: 35,
          minibatchFullEvalSteps: 5,
          valsetSize: 60
        })
        expect(lmCalls(evals)).toBe(495)
        expect(lmCalls(evals)).toBe(estimate.taskModel + 60)
        // Prompt model: 1 + 3 observation calls (40 examples, batches of 10) and the summary, then per proposal a
        // program description, a module description and the instruction. DSPy's estimate counts 10 summary calls
        // and the descriptions once (10 + 6 + 2 = 18); its proposer describes the program again per proposal.
        const proposalSteps = log.trials.filter((t) => t.kind === "proposal")
        const summary = proposalSteps.filter((t) => t.label.startsWith("dataset summary"))
        const instructionSteps = proposalSteps.filter((t) => t.label.startsWith("instruction proposal"))
        expect([summary.length, lmCalls(summary)]).toEqual([5, 5])
        expect(instructionSteps.map((t) => t.usage.lmCalls)).toEqual(Array(6).fill(3))
        expect(estimate.promptModel).toBe(18)
        expect(log.usage.lmCalls).toBe(lmCalls(log.trials))

        // DSPy's draws from random.Random(9), in its order. Demo sets: seed -2 has no labeled demos (zero-shot),
        // so it is a shuffled bootstrap, as in DSPy; each set's demos are the first items the teacher gets right.
        const sizes = fixture.demoSets.map((s) => s.size ?? 0)
        for (const [k, set] of fixture.demoSets.entries()) {
          if (set.kind !== "bootstrap") continue
          const kind = set.seed === -1 ? "trainset as given" : `shuffled, ${set.size} demos`
          expect(log.trials.some((t) => t.label.startsWith(`demo set ${k} (bootstrapped, ${kind})`))).toBe(true)
        }
        const setDemos = fixture.demoSets.map((set, k) =>
          set.order === undefined
            ? []
            : set.order.map((i) => trainset[i]!).filter((e) => right(e, original) === 1).slice(0, sizes[k])
        )
        // Proposals: the tip, then the rollout id; task demos from the set and the ones after it; set 0 shows none.
        expect(rec.proposals.map((p) => p["tip"] ?? "")).toEqual(fixture.proposals.map((p) => TIPS[p.tip]))
        expect(rollouts).toEqual(fixture.proposals.map((p) => ({ temperature: 1, rollout_id: p.rollout_id })))
        rec.proposals.forEach((p, i) => {
          const shown = [...setDemos.slice(i), ...setDemos.slice(0, i)].flat().slice(0, 3)
          expect(p["task_demos"]).toBe(
            i === 0 || shown.length === 0
              ? "No task demos provided."
              : shown.map((e) => `Question: ${e.get("question")}\nAnswer: ${e.get("answer")}`).join("\n\n")
          )
          expect(p["basic_instruction"]).toBe(original)
          expect(p["module"]).toBe("Predict(question) -> answer")
          expect(p["program_code"]).toContain("self = Predict(\"question -> answer\")")
        })
        // The valset sample, then one minibatch per trial: trials with the original instruction score exactly the
        // items DSPy's draws pick.
        const sampled = fixture.valsetOrder.map((i) => valset[i]!)
        expect(full[0]!.scores).toEqual(sampled.map((e) => right(e, original)))
        const originalTrials = minibatches.flatMap((t, k) => t.label.endsWith("Instruction 0") ? [[t, k] as const] : [])
        expect(originalTrials.length).toBeGreaterThan(0)
        for (const [t, k] of originalTrials) {
          expect(t.scores).toEqual(fixture.minibatches[k]!.map((j) => right(sampled[j]!, original)))
        }
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "with DSPy's default demos: half as many instructions, demo sets searched too, DSPy's call estimate",
    () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const { log, program } = yield* compile(MIPROv2.make(), { sim })
        const evals = evaluations(log)
        // light with demos: 10 trials (2·2·log2 6 = 10.3), 3 instruction candidates, 6 demo sets.
        expect(evals.filter((t) => t.label.includes("(minibatch)"))).toHaveLength(10)
        expect(evals.filter((t) => t.label.includes("Few-Shot Set"))).not.toHaveLength(0)
        expect(log.trials.filter((t) => t.label.startsWith("instruction proposal"))).toHaveLength(3)
        const estimate = MIPROv2.estimateLmCalls({
          predictors: 1,
          numInstructCandidates: 3,
          programAwareProposer: true,
          numTrials: 10,
          minibatch: true,
          minibatchSize: 35,
          minibatchFullEvalSteps: 5,
          valsetSize: 60
        })
        expect(lmCalls(evals)).toBe(estimate.taskModel)
        expect(program.predictors()[0]!.demos.length).toBeGreaterThan(0)
        const before = yield* devScore(sim, Predict.make("question -> answer"))
        const after = yield* devScore(sim, program)
        expect(after - before).toBeGreaterThanOrEqual(40)
        expect(Optimizable.conceptsIn(instructionOf(program)).length).toBeGreaterThan(0)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "same seed, same answers: the same program and log, whatever the concurrency; another seed differs",
    () =>
      Effect.gen(function*() {
        const run = (trialConcurrency: number, optimizer = zeroShot) =>
          Effect.flatMap(simulator(), (sim) => compile(optimizer, { sim, trialConcurrency }))
        const a = yield* run(4)
        const b = yield* run(4)
        const c = yield* run(1)
        expect(ProgramState.dumpState(b.program)).toEqual(ProgramState.dumpState(a.program))
        expect(ProgramState.dumpState(c.program)).toEqual(ProgramState.dumpState(a.program))
        const sorted = (log: TrialLog.TrialLog) => shape(log).map((s) => JSON.stringify(s)).sort()
        expect(shape(b.log)).toEqual(shape(a.log))
        expect(sorted(c.log)).toEqual(sorted(a.log))
        const other = yield* run(4, MIPROv2.make({ maxBootstrappedDemos: 0, maxLabeledDemos: 0, seed: 10 }))
        expect(shape(other.log)).not.toEqual(shape(a.log))
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a spent budget returns the best fully evaluated program so far, with the reason",
    () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        // Before the search: the student as given.
        const early = yield* compile(zeroShot, { sim, budget: { maxLmCalls: 50 } })
        expect(early.log.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "lmCalls", max: 50 })
        expect(early.log.best).toBeUndefined()
        expect(instructionOf(early.program)).toBe(original)
        // 96 calls for demo sets and proposals, 60 for the baseline, 35 per minibatch trial: 400 stops after the
        // first full evaluation (trial 7), which found the rule.
        const { log, program } = yield* compile(zeroShot, { sim, budget: { maxLmCalls: 400 } })
        expect(log.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "lmCalls", max: 400 })
        expect(log.usage.lmCalls).toBeLessThan(400 + 8)
        const evals = evaluations(log)
        const fullEvals = evals.filter((t) => t.complete && t.label.includes("full evaluation"))
        expect(fullEvals).toHaveLength(2)
        expect(evals.at(-1)!.complete).toBe(false)
        expect(log.best).toMatchObject({ trial: fullEvals[1]!.trial, score: fullEvals[1]!.score })
        expect(log.best!.score).toBeGreaterThan(fullEvals[0]!.score)
        expect(ProgramState.stateHash(program)).toBe(fullEvals[1]!.candidate)
        expect(Optimizable.conceptsIn(instructionOf(program))).toEqual(["multiply", "add-one"])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a run started again from its checkpoint makes no request it made before and ends as an uninterrupted run",
    () =>
      Effect.gen(function*() {
        const rec = recorder()
        const sim = yield* simulator({ answers: rec.answers })
        const store = Checkpoint.memory()
        const first = yield* compile(zeroShot, { sim, store, budget: { maxLmCalls: 250 } })
        expect(first.log.stopReason._tag).toBe("BudgetExhausted")
        const before = new Set(rec.requests)
        const made = rec.requests.length
        const second = yield* compile(zeroShot, { sim, store })
        expect(second.log.stopReason).toEqual({ _tag: "Completed" })
        expect(second.log.resumedSteps).toBeGreaterThan(0)
        expect(rec.requests.slice(made).filter((r) => before.has(r))).toEqual([])
        const fresh = yield* Effect.flatMap(simulator(), (s) => compile(zeroShot, { sim: s }))
        expect(ProgramState.dumpState(second.program)).toEqual(ProgramState.dumpState(fresh.program))
        expect(second.log.best?.candidate).toBe(fresh.log.best?.candidate)
        // A third run is all replay.
        const replayed = rec.requests.length
        const third = yield* compile(zeroShot, { sim, store })
        expect(rec.requests.length).toBe(replayed)
        expect(ProgramState.dumpState(third.program)).toEqual(ProgramState.dumpState(fresh.program))
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "an evaluation that fails as a whole scores 0, as in DSPy, and the search goes on",
    () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        // Throws on every wrong answer outside bootstrapping (no trace): evaluations of instructions without
        // the rule reach maxErrors.
        const strict = (ex: Example.Example, pred: { get: (k: string) => unknown }, trace?: ReadonlyArray<unknown>) => {
          if (trace === undefined && !metric(ex, pred)) throw new Error("wrong answer")
          return metric(ex, pred)
        }
        const { log, program } = yield* zeroShot.compile(Predict.make("question -> answer"), {
          trainset,
          valset,
          metric: strict,
          maxErrors: 5
        }).pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(stack(sim)))
        // Failed evaluations leave no trial; the baseline (20% right) is one of them.
        const evals = evaluations(log)
        expect(evals.some((t) => t.label.includes("default program"))).toBe(false)
        expect(evals.length).toBeGreaterThan(0)
        expect(evals.length).toBeLessThan(12)
        expect(log.best?.score).toBe(100)
        expect(Optimizable.conceptsIn(instructionOf(program))).toEqual(["multiply", "add-one"])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("bad settings and datasets are typed errors that say what to change", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const failure = (
        optimizer: Optimizer.Optimizer<MIPROv2.Config>,
        sets: { trainset: ReadonlyArray<Example.Example>; valset?: ReadonlyArray<Example.Example> },
        withLm = true
      ) =>
        optimizer.compile(Predict.make("question -> answer"), { ...sets, metric }).pipe(
          Effect.provideService(LM.CurrentLM, withLm ? lm : undefined),
          Effect.provide(stack(sim)),
          Effect.exit,
          Effect.map((exit) => {
            if (!Exit.isFailure(exit)) return undefined
            const error = (exit.cause as any).reasons[0].error
            return { ...JSON.parse(JSON.stringify(error)), retryable: error.retryable, suggestion: error.suggestion }
          })
        )
      const cases = [
        [MIPROv2.make({ auto: "extreme" as MIPROv2.Auto }), { trainset }, { _tag: "InvalidOption", option: "auto" }],
        [MIPROv2.make({ numTrials: 5 }), { trainset }, {
          _tag: "InvalidOption",
          option: "numTrials",
          expected: expect.stringContaining("unset when auto is set")
        }],
        [MIPROv2.make({ auto: null, numCandidates: 4 }), { trainset }, {
          _tag: "InvalidOption",
          option: "numTrials",
          expected: expect.stringContaining("DSPy recommends ~")
        }],
        [MIPROv2.make({ auto: null }), { trainset }, { _tag: "InvalidOption", option: "numCandidates" }],
        [MIPROv2.make(), { trainset: trainset.slice(0, 1) }, {
          _tag: "InvalidDataset",
          dataset: "trainset",
          size: 1,
          reason: expect.stringContaining("at least 2")
        }],
        [MIPROv2.make(), { trainset: [] }, { _tag: "InvalidDataset", dataset: "trainset", size: 0 }],
        [MIPROv2.make(), { trainset, valset: [] }, { _tag: "InvalidDataset", dataset: "valset" }],
        [
          MIPROv2.make({ auto: null, numCandidates: 3, numTrials: 3 }),
          { trainset, valset: valset.slice(0, 10) },
          { _tag: "InvalidOption", option: "minibatchSize", expected: expect.stringContaining("valset size (10)") }
        ],
        [MIPROv2.make({ maxBootstrappedDemos: 0 }), { trainset }, {
          _tag: "InvalidOption",
          option: "maxBootstrappedDemos"
        }]
      ] as const
      for (const [optimizer, sets, expected] of cases) {
        const error = yield* failure(optimizer, sets)
        expect(error).toMatchObject({ ...expected, retryable: false })
        expect(typeof error?.suggestion).toBe("string")
      }
      expect(yield* failure(MIPROv2.make(), { trainset }, false)).toMatchObject({ _tag: "LMConfigurationError" })
      // Nothing was sent for any of them.
      expect(sim.stats().totalRequests).toBe(0)
    }).pipe(Effect.scoped), 60_000)

  it("DSPy's text helpers: strip_prefix and the examples' repr (expected strings from CPython)", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["Proposed Instruction: Multiply the numbers.", "Multiply the numbers."],
      ["\"Answer the question.\"", "Answer the question."],
      ["The symbol ⊕ means: multiply the two numbers.", "The symbol ⊕ means: multiply the two numbers."],
      ["**New Instruction:** Be brief.", "** Be brief."],
      ["Task: Given the fields", "Given the fields"],
      ["One two three four five six: x", "One two three four five six: x"],
      ["Résumé du problème: fais-le", "fais-le"],
      ["  Instruction:\"Quoted\"", "Quoted"],
      ["No label here", "No label here"]
    ]
    for (const [text, stripped] of cases) expect(stripPrefix(text)).toBe(stripped)
    const examples = [
      Example.make({
        question: "It's 2 ⊕ 3?",
        context: ["a\nb", "say \"hi\""],
        answer: "7",
        n: 3,
        ok: true,
        none: null,
        dspy_uuid: "x"
      }).withInputs("question", "context"),
      Example.make({ q: "x" }).withInputs("q")
    ]
    expect(examplesRepr(examples)).toBe(
      "[Example({'question': \"It's 2 ⊕ 3?\", 'context': ['a\\nb', 'say \"hi\"'], 'answer': '7', 'n': 3, 'ok': True, 'none': None}) (input_keys={'context', 'question'}), Example({'q': 'x'}) (input_keys={'q'})]"
    )
  })

  it.live("the dataset summary stops at the fifth COMPLETE and never keeps one", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const sim = yield* simulator({ answers: rec.answers })
      const big = toExamples(Optimizable.operatorDataset({ trainSize: 120, devSize: 20, seed: 5 }).trainset)
      const observations: Array<string> = []
      const onLm: Callbacks.Callback = (e) => {
        const text = JSON.stringify(e._tag === "LMStart" ? e.messages : "")
        if (text.includes("ObservationSummarizer") || text.includes("[[ ## summary ## ]]")) observations.push(text)
      }
      const { log } = yield* MIPROv2.make({
        auto: null,
        numCandidates: 2,
        numTrials: 1,
        minibatch: false,
        maxBootstrappedDemos: 0,
        maxLabeledDemos: 0
      }).compile(Predict.make("question -> answer"), { trainset: big.slice(0, 100), valset: big.slice(100), metric })
        .pipe(
          Callbacks.withCallbacks([onLm]),
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim))
        )
      // The first batch, then batches 10, 20, ... each answered COMPLETE: the fifth ends it (DSPy: 6 calls,
      // not 10), then the summary.
      const summary = log.trials.filter((t) => t.label.startsWith("dataset summary"))
      expect(summary.map((t) => t.label)).toEqual([
        "dataset summary: observations on examples 0-10",
        ...[10, 20, 30, 40, 50].map((b) => `dataset summary: observations on examples ${b}-${b + 10}`),
        "dataset summary: summary"
      ])
      expect(observations).toHaveLength(1)
      expect(observations[0]).not.toContain("COMPLETE")
      // auto null: numCandidates instructions (the first replaced by the original) over numTrials full trials.
      expect(log.trials.filter((t) => t.label.startsWith("instruction proposal"))).toHaveLength(2)
      expect(evaluations(log).map((t) => t.examples)).toEqual([20, 20])
    }).pipe(Effect.scoped), 60_000)
})
