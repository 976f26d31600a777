import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Stream } from "effect"
import { inspect } from "node:util"
import { CurrentAdapter } from "../src/Adapter.ts"
import { ErrorBudgetExceeded, EvaluationAborted } from "../src/Errors.ts"
import * as Evaluate from "../src/Evaluate.ts"
import * as Example from "../src/Example.ts"
import * as Executor from "../src/Executor.ts"
import { pyRound, pyRoundExact } from "../src/internal/evalRound.ts"
import * as LM from "../src/LM.ts"
import { LMAuthError, LMConfigurationError, LMProviderError } from "../src/LMError.ts"
import * as Predict from "../src/Predict.ts"
import type { Prediction } from "../src/Prediction.ts"
import * as ProgramState from "../src/ProgramState.ts"
import { reply, scriptedLM, testAdapter } from "./moduleTestKit.ts"

const questionOf = (text: string) => /\[\[ ## question ## \]\]\n(.*)/.exec(text)?.[1] ?? ""

/**
 * An LM that answers "<n>+<n>?" questions, yielding a number of times that depends on the question so
 * completion order differs from input order; "bad:" questions get an unparseable reply, "down:" ones an
 * LM error. It counts calls in flight.
 */
const arithmeticLM = () => {
  let inFlight = 0
  let max = 0
  const lm = scriptedLM((request) =>
    Effect.gen(function*() {
      inFlight++
      max = Math.max(max, inFlight)
      const q = questionOf(String(request.messages.at(-1)!.content))
      const [a, b] = q.replace(/^\w+:/, "").split(/[+?]/).map(Number)
      for (let i = 0; i < 20 - (a ?? 0); i++) yield* Effect.yieldNow
      inFlight--
      if (q.startsWith("down:")) return yield* new LMProviderError({ provider: "test", model: "m", detail: "503" })
      if (q.startsWith("badkey:")) {
        return yield* new LMAuthError({ provider: "test", model: "m", status: 401, detail: "invalid key" })
      }
      if (q.startsWith("bad:")) {
        return "no fields"
      }
      return reply({ answer: String((a ?? 0) + (b ?? 0)) })
    })
  )
  return { ...lm, maxInFlight: () => max }
}

const ex = (question: string, answer: string) => Example.make({ question, answer }).withInputs("question")
const exact = (example: Example.Example, pred: Prediction) => pred.get("answer") === example.get("answer")

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, lm: ReturnType<typeof scriptedLM>) =>
  effect.pipe(
    Effect.provideService(CurrentAdapter, testAdapter),
    Effect.provideService(LM.CurrentLM, LM.make("test/m")),
    Effect.provide(Layer.mergeAll(lm.layer, Executor.layerLocal({ concurrency: 8 })))
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

describe("Evaluate.run", () => {
  it.effect("keeps results in devset order and reports DSPy's rounded percentage", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = [
        ex("1+1?", "2"),
        ex("9+9?", "18"),
        ex("2+2?", "5"),
        ex("5+5?", "10"),
        ex("3+3?", "6"),
        ex("7+1?", "9")
      ]
      const result = yield* provide(
        Evaluate.run({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 6 }),
        lm
      )
      expect(result.results.map((r) => r.example)).toEqual(devset)
      expect(result.results.map((r) => r.score)).toEqual([1, 1, 0, 1, 1, 0])
      expect(result.results.map((r) => r.prediction.get("answer"))).toEqual(["2", "18", "4", "10", "6", "8"])
      expect(result.score).toBe(66.67)
    }))

  it.effect("scores failed examples with failureScore and keeps their error", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = [
        ex("1+1?", "2"),
        ex("bad:2+2?", "4"),
        Example.make({ q: "3+3?", answer: "6" }).withInputs("q"),
        ex("down:4+4?", "8"),
        Example.make({ question: "no input keys", answer: "x" })
      ]
      const result = yield* provide(
        Evaluate.run({
          program: Predict.make("question -> answer"),
          devset,
          metric: exact,
          failureScore: 0.5,
          numThreads: 2
        }),
        lm
      )
      expect(result.results.map((r) => r.score)).toEqual([1, 0.5, 0.5, 0.5, 0.5])
      expect(result.results.map((r) => (r.error as { _tag?: string } | undefined)?._tag)).toEqual([
        undefined,
        "AdapterParseError",
        "InputValidationError",
        "LMProviderError",
        undefined
      ])
      expect(String(result.results[4]!.error)).toContain("withInputs")
      expect(result.results[1]!.prediction.keys()).toEqual([])
      expect(result.score).toBe(60)
    }))

  it.effect("stops at maxErrors with ErrorBudgetExceeded and cancels the pending examples", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = Array.from({ length: 10 }, (_, i) => ex(`bad:${i}+1?`, "x"))
      const exit = yield* Effect.exit(
        provide(
          Evaluate.run({
            program: Predict.make("question -> answer"),
            devset,
            metric: exact,
            maxErrors: 3,
            numThreads: 1
          }),
          lm
        )
      )
      const error = failureOf(exit)
      if (!(error instanceof ErrorBudgetExceeded)) throw new Error("expected ErrorBudgetExceeded")
      expect(error).toMatchObject({ maxErrors: 3, errors: 3, completed: 3, total: 10 })
      expect(error.lastError).toContain("AdapterParseError")
      expect(error.suggestion).toContain("maxErrors")
      expect(lm.calls).toHaveLength(3)

      const parallel = arithmeticLM()
      const exit2 = yield* Effect.exit(
        provide(
          Evaluate.run({
            program: Predict.make("question -> answer"),
            devset,
            metric: exact,
            maxErrors: 3,
            numThreads: 2
          }),
          parallel
        )
      )
      expect(failureOf(exit2)).toMatchObject({ _tag: "ErrorBudgetExceeded", errors: 3 })
      expect(parallel.calls.length).toBeLessThanOrEqual(4)
    }))

  it.effect("ErrorBudgetExceeded keeps the results finished before the budget ran out", () =>
    Effect.gen(function*() {
      const devset = [ex("1+1?", "2"), ex("2+2?", "4"), ex("bad:3+3?", "6"), ex("down:4+4?", "8"), ex("5+5?", "10")]
      const error = failureOf(
        yield* Effect.exit(
          provide(
            Evaluate.run({
              program: Predict.make("question -> answer"),
              devset,
              metric: exact,
              maxErrors: 2,
              numThreads: 1
            }),
            arithmeticLM()
          )
        )
      )
      if (!(error instanceof ErrorBudgetExceeded)) throw new Error("expected ErrorBudgetExceeded")
      expect(error.results.map((r) => [r.index, r.score, (r.error as { _tag?: string } | undefined)?._tag])).toEqual([
        [0, 1, undefined],
        [1, 1, undefined],
        [2, 0, "AdapterParseError"],
        [3, 0, "LMProviderError"]
      ])
      expect(error.results[1]!.prediction.get("answer")).toBe("4")
    }))

  it.effect("stops at the first fatal error (bad key, configuration) with EvaluationAborted carrying it and the finished results", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = [
        ex("1+1?", "2"),
        ex("badkey:2+2?", "4"),
        ...Array.from({ length: 20 }, (_, i) => ex(`badkey:${i}+1?`, "x"))
      ]
      const error = failureOf(
        yield* Effect.exit(
          provide(
            Evaluate.run({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 1 }),
            lm
          )
        )
      )
      if (!(error instanceof EvaluationAborted)) throw new Error(`expected EvaluationAborted, got ${String(error)}`)
      expect(error).toMatchObject({ index: 1, completed: 2, total: 22, retryable: false })
      expect(error.error).toBeInstanceOf(LMAuthError)
      expect(error.message).toContain("Evaluation stopped at example 1 (2/22 finished): LMAuthError")
      expect(error.suggestion).toBe((error.error as LMAuthError).suggestion)
      expect(error.results.map((r) => r.index)).toEqual([0, 1])
      expect(error.results[0]!.score).toBe(1)
      // Node prints an escaped error's enumerable fields, without custom inspection: the results stay
      // readable but out of that print.
      expect(Object.keys(error)).not.toContain("results")
      const printed = inspect(error, { customInspect: false })
      expect(printed).toContain("EvaluationAborted: Evaluation stopped at example 1")
      expect(printed).not.toContain("Prediction")
      // Only the first failing call was made: nothing after it is worth paying for.
      expect(lm.calls).toHaveLength(2)

      // With several examples in flight, the first fatal error still ends the run; no budget of 10 is spent.
      const parallel = arithmeticLM()
      const many = Array.from({ length: 30 }, (_, i) => ex(`badkey:${i}+1?`, "x"))
      const aborted = failureOf(
        yield* Effect.exit(
          provide(
            Evaluate.run({ program: Predict.make("question -> answer"), devset: many, metric: exact, numThreads: 4 }),
            parallel
          )
        )
      )
      expect(aborted._tag).toBe("EvaluationAborted")
      expect(parallel.calls.length).toBeLessThanOrEqual(4)

      // A missing LM (a configuration error) stops the run too.
      const noLm = failureOf(
        yield* Effect.exit(
          Evaluate.run({ program: Predict.make("question -> answer"), devset: many, metric: exact }).pipe(
            Effect.provideService(CurrentAdapter, testAdapter),
            Effect.provide(Layer.mergeAll(arithmeticLM().layer, Executor.layerLocal({ concurrency: 1 })))
          )
        )
      )
      expect(noLm).toBeInstanceOf(EvaluationAborted)
      expect((noLm as EvaluationAborted).error).toBeInstanceOf(LMConfigurationError)
    }))

  it.effect("defaults to a budget of 10 errors", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = Array.from({ length: 12 }, (_, i) => ex(`down:${i}+0?`, "x"))
      const error = failureOf(
        yield* Effect.exit(
          provide(
            Evaluate.run({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 1 }),
            lm
          )
        )
      )
      expect(error).toMatchObject({ _tag: "ErrorBudgetExceeded", maxErrors: 10, errors: 10 })
      const ok = yield* provide(
        Evaluate.run({
          program: Predict.make("question -> answer"),
          devset: devset.slice(0, 9),
          metric: exact,
          numThreads: 1
        }),
        arithmeticLM()
      )
      expect(ok.score).toBe(0)
    }))

  it.effect("bounds concurrency by numThreads", () =>
    Effect.gen(function*() {
      const lm = arithmeticLM()
      const devset = Array.from({ length: 12 }, (_, i) => ex(`${i % 7}+1?`, String((i % 7) + 1)))
      const result = yield* provide(
        Evaluate.run({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 3 }),
        lm
      )
      expect(result.score).toBe(100)
      expect(lm.maxInFlight()).toBe(3)
    }))

  it.effect("accepts boolean, numeric and effectful metrics; a throwing or ill-typed metric fails the example", () =>
    Effect.gen(function*() {
      const program = Predict.make("question -> answer")
      const devset = [ex("1+1?", "2"), ex("2+2?", "4")]
      const numeric = yield* provide(Evaluate.run({ program, devset, metric: () => 0.25 }), arithmeticLM())
      expect(numeric.score).toBe(25)
      const effectful = yield* provide(
        Evaluate.run({ program, devset, metric: (e, p) => Effect.succeed(exact(e, p)) }),
        arithmeticLM()
      )
      expect(effectful.score).toBe(100)
      const throwing = yield* provide(
        Evaluate.run({
          program,
          devset,
          metric: (e) => {
            if (e.get("answer") === "4") throw new Error("metric bug")
            return true
          }
        }),
        arithmeticLM()
      )
      expect(throwing.score).toBe(50)
      expect(String(throwing.results[1]!.error)).toContain("metric bug")
      const illTyped = yield* provide(
        Evaluate.run({ program, devset, metric: () => "yes" as unknown as number }),
        arithmeticLM()
      )
      expect(String(illTyped.results[0]!.error)).toContain("expected a number or a boolean")
      expect(illTyped.results[0]!.error).toMatchObject({ _tag: "MetricError", returned: "\"yes\"", retryable: false })
    }))

  it.effect("shouldStart stops a run gracefully: skipped examples are reported, not scored, not errors", () =>
    Effect.gen(function*() {
      const devset = [ex("1+1?", "2"), ex("2+2?", "4"), ex("3+3?", "6"), ex("4+4?", "9")]
      const asked: Array<number> = []
      const events = yield* provide(
        Stream.runCollect(Evaluate.stream({
          program: Predict.make("question -> answer"),
          devset,
          metric: exact,
          numThreads: 1,
          shouldStart: (i) => (asked.push(i), i !== 1 && i !== 3)
        })),
        arithmeticLM()
      )
      expect(asked.sort()).toEqual([0, 1, 2, 3])
      expect(events.filter((e) => e._tag === "ExampleSkipped").map((e) => (e as { index: number }).index).sort())
        .toEqual([1, 3])
      const done = events.filter((e) => e._tag === "ExampleDone")
      expect(done.map((e) => (e as { index: number }).index).sort()).toEqual([0, 2])
      const finished = events.at(-1) as Extract<Evaluate.EvaluateEvent, { _tag: "Finished" }>
      expect(finished.result.score).toBe(100)
      expect(finished.result.results.map((r) => r.index)).toEqual([0, 2])
    }))

  it.effect("an empty devset scores 0", () =>
    Effect.gen(function*() {
      const result = yield* provide(
        Evaluate.run({ program: Predict.make("question -> answer"), devset: [], metric: exact }),
        arithmeticLM()
      )
      expect(result).toEqual({ score: 0, results: [] })
    }))

  it.effect("submits describable tasks through the Executor service", () =>
    Effect.gen(function*() {
      const seen: Array<Executor.TaskDescriptor> = []
      const local = Executor.makeLocal(2)
      const recording: Executor.ExecutorShape = {
        ...local,
        name: "recording",
        runBatch: (tasks, options) => {
          seen.push(...tasks.map((t) => t.descriptor))
          return local.runBatch(tasks, options)
        }
      }
      const program = Predict.make("question -> answer", { instructions: "Add." })
      const devset = [ex("1+1?", "2"), ex("2+2?", "4")]
      const result = yield* Evaluate.run({ program, devset, metric: exact, metricName: "exact" }).pipe(
        Effect.provideService(CurrentAdapter, testAdapter),
        Effect.provideService(LM.CurrentLM, LM.make("test/m")),
        Effect.provide(arithmeticLM().layer),
        Effect.provideService(Executor.Executor, recording)
      )
      expect(result.score).toBe(100)
      expect(seen.map((d) => d.kind)).toEqual(["evaluate", "evaluate"])
      expect(new Set(seen.map((d) => d.id)).size).toBe(2)
      expect(seen[0]!.program!.hash).toBe(ProgramState.stateHash(program))
      expect(seen[0]!.program!.state).toEqual(program.dumpState())
      expect(seen[1]!.example).toEqual({ data: { question: "2+2?", answer: "4" }, inputKeys: ["question"] })
      expect(seen[0]!.payload).toEqual({ metric: "exact" })
    }))
})

describe("Evaluate.stream", () => {
  it.effect("emits Started, one ExampleDone per example with a running score, then Finished", () =>
    Effect.gen(function*() {
      const devset = [ex("1+1?", "2"), ex("2+2?", "5"), ex("bad:3+3?", "6"), ex("4+4?", "8")]
      const events = yield* provide(
        Stream.runCollect(
          Evaluate.stream({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 1 })
        ),
        arithmeticLM()
      )
      expect(events.map((e) => e._tag)).toEqual([
        "Started",
        "ExampleDone",
        "ExampleDone",
        "ExampleDone",
        "ExampleDone",
        "Finished"
      ])
      expect(events[0]).toEqual({ _tag: "Started", total: 4 })
      const done = events.filter((e): e is Extract<Evaluate.EvaluateEvent, { _tag: "ExampleDone" }> =>
        e._tag === "ExampleDone"
      )
      expect(done.map((e) => [e.index, e.score, e.completed, e.errors, e.runningScore])).toEqual([
        [0, 1, 1, 0, 100],
        [1, 0, 2, 0, 50],
        [2, 0, 3, 1, 33.33],
        [3, 1, 4, 1, 50]
      ])
      expect(done[2]!.runningAverage).toBeCloseTo(1 / 3, 12)
      expect((done[2]!.error as { _tag: string })._tag).toBe("AdapterParseError")
      const finished = events.at(-1)!
      expect(finished._tag === "Finished" && finished.result.score).toBe(50)
    }))

  it.effect("logs nothing (its consumer reports the errors it sees in the events); run logs each failure once", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) =>
        logs.push(String(Array.isArray(message) ? message.join(" ") : message))
      )
      const devset = [ex("1+1?", "2"), ex("bad:3+3?", "6")]
      const options = { program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 1 }
      const withLogger = Logger.layer([logger])
      yield* provide(Stream.runDrain(Evaluate.stream(options)), arithmeticLM()).pipe(Effect.provide(withLogger))
      expect(logs).toEqual([])
      yield* provide(Evaluate.run(options), arithmeticLM()).pipe(Effect.provide(withLogger))
      expect(logs.filter((l) => l.startsWith("Error for example 1"))).toHaveLength(1)
      expect(logs.some((l) => l.startsWith("Average Metric: 1 / 2"))).toBe(true)
    }))

  it.effect("emits the event of the example that hit a fatal error, then fails", () =>
    Effect.gen(function*() {
      const devset = [ex("1+1?", "2"), ex("badkey:2+2?", "4"), ex("3+3?", "6")]
      const seen: Array<Evaluate.EvaluateEvent> = []
      const exit = yield* provide(
        Effect.exit(
          Stream.runForEach(
            Evaluate.stream({ program: Predict.make("question -> answer"), devset, metric: exact, numThreads: 1 }),
            (e) => Effect.sync(() => seen.push(e))
          )
        ),
        arithmeticLM()
      )
      expect(seen.map((e) => e._tag)).toEqual(["Started", "ExampleDone", "ExampleDone"])
      expect(failureOf(exit)._tag).toBe("EvaluationAborted")
    }))
})

describe("pyRound", () => {
  it("its fast path agrees with the exact decimal rounding on every k/n score and on random values", () => {
    for (let n = 1; n <= 400; n++) {
      for (let k = 0; k <= n; k++) {
        const x = (100 * k) / n
        expect(pyRound(x, 2), `${k}/${n}`).toBe(pyRoundExact(x, 2))
      }
    }
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 20_000; i++) {
      const x = (next() - 0.5) * 10 ** Math.floor(next() * 8)
      for (const d of [0, 1, 2, 3]) expect(pyRound(x, d), `${x}, ${d}`).toBe(pyRoundExact(x, d))
    }
  })

  it("rounds like Python's round(x, 2), ties to even on the exact value", () => {
    expect(pyRound(0.125, 2)).toBe(0.12)
    expect(pyRound(0.375, 2)).toBe(0.38)
    expect(pyRound(2.675, 2)).toBe(2.67)
    expect(pyRound((100 * 2) / 3, 2)).toBe(66.67)
    expect(pyRound((100 * 1) / 3, 2)).toBe(33.33)
    expect(pyRound((100 * 1) / 800, 2)).toBe(0.12)
    expect(pyRound(62.5, 2)).toBe(62.5)
    expect(pyRound(100, 2)).toBe(100)
    expect(pyRound(0, 2)).toBe(0)
    expect(pyRound(-0.125, 2)).toBe(-0.12)
  })
})
