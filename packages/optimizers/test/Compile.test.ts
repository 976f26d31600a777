/**
 * What every optimizer shares: the progress stream, budgets, checkpoint and resume, determinism, and typed
 * errors for bad input. Run on BootstrapFewShot and RandomSearch against the simulator over HTTP.
 */
import { Example, Executor, LM, Module, Predict, ProgramState } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import { BootstrapFewShot, Checkpoint, LabeledFewShot, type Optimizer, Progress, RandomSearch } from "../src/index.ts"
import { simulator, stack } from "./support.ts"

const trainset = Array.from({ length: 12 }, (_, k) => {
  const i = k + 1
  return Example.make({ question: `What is ${i} + 100?`, answer: String(i + 100) }).withInputs("question")
})
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) => ex.get("answer") === pred.get("answer")
const lm = LM.make("openai/mock-teacher", { temperature: 0, cache: false })

/** Right unless A is a multiple of 3, as DSPy's fixture teacher; records every question asked. */
const teacher = () => {
  const asked: Array<string> = []
  const answers = (r: { readonly messages: ReadonlyArray<{ readonly text: string }> }) => {
    const q = r.messages.at(-1)?.text ?? ""
    asked.push(JSON.stringify(r.messages))
    const m = /What is (\d+) \+ (\d+)\?/.exec(q)!
    const [a, b] = [Number(m[1]), Number(m[2])]
    return `[[ ## answer ## ]]\n${a % 3 === 0 ? a + b + 1 : a + b}\n\n[[ ## completed ## ]]`
  }
  return { asked, answers }
}

const search = RandomSearch.make({ numCandidatePrograms: 4, maxBootstrappedDemos: 3, maxLabeledDemos: 2 })

describe("compile runs", () => {
  it.live("stream: trial events in order, a NewBest per improvement, Stopped, then Finished with the result", () =>
    Effect.gen(function*() {
      const t = teacher()
      const sim = yield* simulator({ answers: t.answers })
      const events = yield* search.stream(Predict.make("question -> answer"), { trainset, metric, trialConcurrency: 1 })
        .pipe(
          Stream.runCollect,
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim))
        )
      const tags = events.map((e) => e._tag)
      expect(tags.at(-1)).toBe("Finished")
      expect(tags.at(-2)).toBe("Stopped")
      const evaluations = events.filter((e): e is Extract<Progress.Event, { _tag: "TrialScored" }> =>
        e._tag === "TrialScored" && e.trial.kind === "evaluation"
      )
      expect(evaluations).toHaveLength(7)
      const finished = events.at(-1) as { result: { log: { trials: ReadonlyArray<unknown> } } }
      expect(finished.result.log.trials).toHaveLength(events.filter((e) => e._tag === "TrialScored").length)
      expect(events.some((e) => e._tag === "NewBest")).toBe(true)
      const lines = events.flatMap((e) => e._tag === "Finished" ? [] : [Progress.render(e)]).filter((l) =>
        l !== undefined
      )
      expect(lines[0]).toMatch(/^▶ trial \d+: seed -3 \(zero-shot\) on 12 examples$/)
      expect(lines.at(-1)).toMatch(/^■ completed · \d+ trials, \d+ metric calls, \d+ LM calls/)
    }).pipe(Effect.scoped))

  it.live("same seed, same answers: the same program and the same log twice", () =>
    Effect.gen(function*() {
      const runs: Array<Optimizer.CompileResult<Module.Module>> = []
      for (let i = 0; i < 2; i++) {
        const sim = yield* simulator({ answers: teacher().answers })
        runs.push(
          yield* search.compile(Predict.make("question -> answer"), { trainset, metric }).pipe(
            Effect.provideService(LM.CurrentLM, lm),
            Effect.provide(stack(sim))
          )
        )
      }
      expect(ProgramState.dumpState(runs[0]!.program)).toEqual(ProgramState.dumpState(runs[1]!.program))
      const shape = (r: (typeof runs)[number]) =>
        r.log.trials.map((t) => [t.kind, t.label, t.candidate, t.scores]).sort((a, b) =>
          String(a).localeCompare(String(b))
        )
      expect(shape(runs[0]!)).toEqual(shape(runs[1]!))
    }).pipe(Effect.scoped))

  it.live("every evaluation and bootstrap attempt is an Executor task whose descriptor carries the candidate's state", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: teacher().answers })
      const descriptors: Array<Executor.TaskDescriptor> = []
      const local = Executor.makeLocal(4)
      const recording = Layer.succeed(Executor.Executor, {
        ...local,
        runBatch: (tasks, options) => {
          descriptors.push(...tasks.map((t) => t.descriptor))
          return local.runBatch(tasks, options)
        }
      })
      const result = yield* search.compile(Predict.make("question -> answer"), {
        trainset,
        metric,
        trialConcurrency: 1
      }).pipe(
        Effect.provideService(LM.CurrentLM, lm),
        Effect.provide(Layer.merge(stack(sim), recording))
      )
      const evaluations = result.log.trials.filter((t) => t.kind === "evaluation")
      const evaluated = descriptors.filter((d) => d.kind === "evaluate")
      expect(evaluated).toHaveLength(evaluations.length * trainset.length)
      // The hash names the state, and the state rebuilds the candidate: a remote worker needs nothing else.
      for (const d of evaluated) {
        expect(ProgramState.hashState(d.program!.state)).toBe(d.program!.hash)
        expect(evaluations.map((t) => t.candidate)).toContain(d.program!.hash)
        const rebuilt = Predict.make("question -> answer")
        yield* rebuilt.loadState(d.program!.state)
        expect(ProgramState.stateHash(rebuilt)).toBe(d.program!.hash)
      }
      const bootstraps = descriptors.filter((d) => d.kind === "bootstrap")
      expect(bootstraps).toHaveLength(result.log.trials.filter((t) => t.kind === "bootstrap").length)
      expect(
        bootstraps.every((d) => d.example !== undefined && ProgramState.hashState(d.program!.state) === d.program!.hash)
      )
        .toBe(true)
    }).pipe(Effect.scoped))

  it.live("a budget stops the run cleanly with the best program so far and the reason", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: teacher().answers })
      const run = (
        budget: RandomSearch.Config extends never ? never : { maxMetricCalls?: number; maxLmCalls?: number }
      ) =>
        search.compile(Predict.make("question -> answer"), { trainset, metric, budget, trialConcurrency: 1 }).pipe(
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim))
        )
      const byMetric = yield* run({ maxMetricCalls: 30 })
      expect(byMetric.log.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "metricCalls", max: 30 })
      // Zero-shot and labeled (24 examples) finished, then 4 bootstrap attempts; the third evaluation got 2.
      expect(byMetric.log.metricCalls).toBe(30)
      const evaluations = byMetric.log.trials.filter((t) => t.kind === "evaluation")
      expect(evaluations.map((t) => t.complete)).toEqual([true, true, false])
      expect(byMetric.log.best?.trial).toBe(evaluations[0]!.trial)
      expect(byMetric.program.predictors()[0]!.demos).toEqual([])
      const byCalls = yield* run({ maxLmCalls: 5 })
      expect(byCalls.log.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "lmCalls", max: 5 })
      expect(byCalls.log.usage.lmCalls).toBeLessThan(5 + 8)
    }).pipe(Effect.scoped))

  it.live("a run started again with the same arguments replays its checkpoint and makes no request it made before", () =>
    Effect.gen(function*() {
      const t = teacher()
      const sim = yield* simulator({ answers: t.answers })
      const store = Checkpoint.memory()
      const run = (budget?: { maxMetricCalls: number }) =>
        search.compile(Predict.make("question -> answer"), { trainset, metric, budget, trialConcurrency: 2 }).pipe(
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provideService(Checkpoint.Checkpoint, store),
          Effect.provide(stack(sim))
        )
      const first = yield* run({ maxMetricCalls: 40 })
      expect(first.log.stopReason._tag).toBe("BudgetExhausted")
      const askedBefore = new Set(t.asked)
      const before = t.asked.length
      const second = yield* run()
      expect(second.log.stopReason).toEqual({ _tag: "Completed" })
      expect(second.log.resumedSteps).toBeGreaterThan(0)
      const again = t.asked.slice(before).filter((q) => askedBefore.has(q))
      expect(again).toEqual([])
      // And the result is the one an uninterrupted run gets.
      const fresh = yield* search.compile(Predict.make("question -> answer"), { trainset, metric }).pipe(
        Effect.provideService(LM.CurrentLM, lm),
        Effect.provide(stack(yield* simulator({ answers: teacher().answers })))
      )
      expect(ProgramState.dumpState(second.program)).toEqual(ProgramState.dumpState(fresh.program))
      // A third run is all replay: no request at all.
      const beforeThird = t.asked.length
      yield* run()
      expect(t.asked.length).toBe(beforeThird)
    }).pipe(Effect.scoped))

  it.live("bad input is a typed error that says what to change", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: teacher().answers })
      const failure = <A, E>(effect: Effect.Effect<A, E, any>) =>
        effect.pipe(
          Effect.provideService(LM.CurrentLM, lm),
          Effect.provide(stack(sim)),
          Effect.exit,
          Effect.map((exit) => (Exit.isFailure(exit) ? exit.cause : undefined))
        )
      const errorOf = (cause: unknown) => JSON.parse(JSON.stringify((cause as any)?.reasons?.[0]?.error ?? {}))
      const qa = () => Predict.make("question -> answer")
      const cases = [
        [BootstrapFewShot.make().compile(qa(), { trainset: [], metric }), {
          _tag: "InvalidDataset",
          dataset: "trainset"
        }],
        [
          BootstrapFewShot.make().compile(qa(), { trainset: [Example.make({ question: "x", answer: "y" })], metric }),
          { _tag: "InvalidDataset", reason: expect.stringContaining("withInputs") }
        ],
        [BootstrapFewShot.make({ maxRounds: 0 }).compile(qa(), { trainset, metric }), {
          _tag: "InvalidOption",
          option: "maxRounds"
        }],
        [
          search.compile(qa(), { trainset, metric, budget: { maxLmCalls: 0 } }),
          { _tag: "InvalidOption", option: "budget.maxLmCalls" }
        ],
        [LabeledFewShot.make({ k: -1 }).compile(qa(), { trainset, metric }), { _tag: "InvalidOption", option: "k" }],
        [
          BootstrapFewShot.make().compile(
            new (class extends Module.Module {
              forward() {
                return Effect.succeed(1)
              }
            })(),
            { trainset, metric }
          ),
          { _tag: "InvalidProgram", reason: "the program has no predictors" }
        ],
        [
          BootstrapFewShot.make().compile(qa(), {
            trainset,
            metric,
            teacher: Predict.make("question -> answer, confidence")
          }),
          { _tag: "InvalidProgram", reason: expect.stringContaining("another signature") }
        ]
      ] as const
      for (const [effect, expected] of cases) {
        const cause = yield* failure(effect as Effect.Effect<unknown, unknown, any>)
        expect(errorOf(cause)).toMatchObject(expected)
      }
      // Each carries a suggestion and says it will not help to retry.
      const cause = yield* failure(BootstrapFewShot.make().compile(qa(), { trainset: [], metric }))
      const error = (cause as any).reasons[0].error
      expect([error.retryable, typeof error.suggestion]).toEqual([false, "string"])
    }).pipe(Effect.scoped))

  it.live("a metric that throws on one example fails that example, counted, and the run goes on", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ answers: teacher().answers })
      const flaky = (ex: Example.Example, pred: { get: (k: string) => unknown }) => {
        if (ex.get("question") === "What is 2 + 100?") throw new Error("metric bug")
        return metric(ex, pred)
      }
      const result = yield* search.compile(Predict.make("question -> answer"), {
        trainset,
        metric: flaky,
        trialConcurrency: 1
      }).pipe(
        Effect.provideService(LM.CurrentLM, lm),
        Effect.provide(stack(sim))
      )
      const zeroShot = result.log.trials.find((t) => t.kind === "evaluation")!
      expect(zeroShot.errors).toBe(1)
      expect(zeroShot.scores[1]).toBe(0)
      expect(result.log.stopReason).toEqual({ _tag: "Completed" })
    }).pipe(Effect.scoped))
})
