/**
 * Failures end to end, over HTTP through the official SDKs: what can never succeed stops a run at once,
 * what nobody answers is given up on quickly, and what retries absorb shows in the usage.
 */
import {
  Cache,
  ChainOfThought,
  Errors,
  Evaluate,
  Example,
  LanguageModel,
  LM,
  LMError,
  Metrics,
  Predict
} from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { createServer } from "node:net"
import { simulator, stack, tempDir } from "./support.ts"

const devset = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => Example.make({ question: `What is ${i} + 1?`, answer: String(i + 1) }).withInputs("question")
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

/** A port nothing listens on (taken from the OS, then released). */
const closedPort = () =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
  )

describe("errors that can never succeed stop an evaluation", () => {
  it.live("a wrong API key: the first 401 ends the run with EvaluationAborted, not ten of them", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const run = (threads: number) =>
        Effect.exit(
          Evaluate.run({
            program: ChainOfThought.make("question -> answer"),
            devset: devset(20),
            metric: Metrics.answerExactMatch,
            numThreads: threads
          })
            .pipe(
              Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { temperature: 0 })),
              Effect.provide(stack(sim, { key: "sk-invalid-e2e", threads }))
            )
        )
      const error = failureOf(yield* run(1))
      expect(error).toBeInstanceOf(Errors.EvaluationAborted)
      if (!(error instanceof Errors.EvaluationAborted)) return
      expect(error.error).toBeInstanceOf(LMError.LMAuthError)
      expect(error.results).toHaveLength(1)
      expect(sim.stats().totalRequests).toBe(1)

      sim.resetStats()
      expect(failureOf(yield* run(4))._tag).toBe("EvaluationAborted")
      // Only the calls already in flight when the first 401 came back.
      expect(sim.stats().totalRequests).toBeLessThanOrEqual(4)
    }).pipe(Effect.scoped))

  it.live("an unknown provider prefix stops the run before any request", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const error = failureOf(
        yield* Effect.exit(
          Evaluate.run({
            program: Predict.make("question -> answer"),
            devset: devset(5),
            metric: Metrics.answerExactMatch
          }).pipe(
            Effect.provideService(LM.CurrentLM, LM.make("mistral/large")),
            Effect.provide(stack(sim))
          )
        )
      )
      expect(error._tag).toBe("EvaluationAborted")
      expect(String((error as Errors.EvaluationAborted).error)).toContain("unknown provider \"mistral\"")
      expect(sim.stats().totalRequests).toBe(0)
    }).pipe(Effect.scoped))
})

describe("an endpoint nobody answers", () => {
  it.live("connection refused is retried twice, quickly, and stays a typed retryable transport error", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const port = yield* closedPort()
      const started = Date.now()
      const result = yield* Effect.gen(function*() {
        const error = yield* Effect.flip(Predict.make("question -> answer").call({ question: "hi" }))
        const usage = (yield* LanguageModel.LanguageModel).usage()
        return { error, usage }
      }).pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini")),
        // The default backoff (500 ms, doubling): only the unreachable case is cut short.
        Effect.provide(
          stack(sim, {
            openaiBaseUrl: `http://127.0.0.1:${port}/v1`,
            lm: { retryBaseDelayMs: 500, retryMaxDelayMs: 30_000 }
          })
        )
      )
      const elapsed = Date.now() - started
      expect(result.error).toMatchObject({
        _tag: "LMProviderError",
        transport: true,
        code: "ECONNREFUSED",
        retryable: true
      })
      expect(result.usage["openai/gpt-4o-mini"]).toMatchObject({ calls: 0, retries: 2, errors: 1 })
      expect(elapsed).toBeLessThan(1000)
    }).pipe(Effect.scoped))
})

describe("what retries absorb shows in the usage", () => {
  it.live("every injected fault the run survived is counted as a retry", () =>
    Effect.gen(function*() {
      const sim = yield* simulator({ faults: { server500: 0.3 }, seed: 7 })
      const result = yield* Effect.gen(function*() {
        const evaluation = yield* Evaluate.run({
          program: Predict.make("question -> answer"),
          devset: devset(12),
          metric: Metrics.answerExactMatch
        })
        return { evaluation, usage: (yield* LanguageModel.LanguageModel).usage() }
      }).pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { temperature: 0, numRetries: 8 })),
        Effect.provide(stack(sim))
      )
      const faults = sim.stats().faults["500"]
      expect(faults).toBeGreaterThan(0)
      expect(result.usage["openai/gpt-4o-mini"]).toMatchObject({ calls: 12, retries: faults, errors: 0 })
    }).pipe(Effect.scoped))
})

describe("the disk cache is namespaced by endpoint", () => {
  it.live("an answer cached from one server is not served for the same model name from another", () =>
    Effect.gen(function*() {
      const local = yield* simulator({ answers: () => "[[ ## answer ## ]]\nfrom local\n\n[[ ## completed ## ]]" })
      const remote = yield* simulator({ answers: () => "[[ ## answer ## ]]\nfrom remote\n\n[[ ## completed ## ]]" })
      const dir = tempDir("dspex-e2e-ns-")
      const ask = (sim: typeof local) =>
        Predict.make("question -> answer").call({ question: "Who are you?" }).pipe(
          Effect.provideService(LM.CurrentLM, LM.make("openai/same-model", { temperature: 0 })),
          Effect.provide(stack(sim, { cache: Cache.layerTiered({}, { path: dir }) }))
        )
      expect((yield* ask(local)).get("answer")).toBe("from local")
      expect((yield* ask(remote)).get("answer")).toBe("from remote")
      expect(remote.stats().totalRequests).toBe(1)
      // Each endpoint's own answer is still cached.
      expect((yield* ask(local)).get("answer")).toBe("from local")
      expect(local.stats().totalRequests).toBe(1)
    }).pipe(Effect.scoped))
})
