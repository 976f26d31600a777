import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Scope } from "effect"
import * as Cache from "../src/Cache.ts"
import * as Executor from "../src/Executor.ts"
import * as LanguageModel from "../src/LanguageModel.ts"
import { make as makeLM } from "../src/LM.ts"
import * as Providers from "../src/Providers.ts"
import * as Services from "../src/Services.ts"
import { fiberCounter } from "./fiberCounter.ts"

/** An in-test provider that answers every request and counts its calls. */
const testProvider = () => {
  let calls = 0
  const provider: LanguageModel.Provider = {
    name: "test",
    capabilities: () => ({ structuredOutputs: false, jsonObject: true, tools: false }),
    cost: () => 0,
    complete: (request) =>
      Effect.sync(() => {
        calls++
        return {
          outputs: [{ text: `answer to ${JSON.stringify(request.messages.at(-1)?.content)}`, finishReason: "stop" }],
          usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
          responseModel: request.model
        }
      })
  }
  return { provider, calls: () => calls }
}

const model = makeLM("test/small")
const ask = (text: string) =>
  LanguageModel.LanguageModel.use((lm) => lm.generate(model, { messages: [{ role: "user", content: text }] }))

describe("Services.layerSupervised", () => {
  it.effect("starts LanguageModel and Executor as running children; closing the scope stops the tree", () =>
    Effect.gen(function*() {
      const t = testProvider()
      const counter = fiberCounter()
      const layer = Services.layerSupervised({
        languageModel: LanguageModel.layer().pipe(Layer.provide([Providers.layer(t.provider), Cache.layerNone])),
        executor: Executor.layerLocal({ concurrency: 3 })
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.provideService(Metric.FiberRuntimeMetrics, counter.service)
      )
      const run = <A, E>(
        effect: Effect.Effect<A, E, LanguageModel.LanguageModel | Executor.Executor | Services.CoreSupervisor>
      ) =>
        effect.pipe(Effect.provideContext(context), Effect.provideService(Metric.FiberRuntimeMetrics, counter.service))

      const response = yield* run(ask("2+2?"))
      expect(response.outputs[0]!.text).toBe(`answer to "2+2?"`)
      const results = yield* run(
        Executor.runAll(
          ["a", "b", "c", "d"].map((q, i) => ({ descriptor: { id: `q${i}`, kind: "ask" }, effect: ask(q) }))
        )
      )
      expect(results.every((r) => Exit.isSuccess(r.exit))).toBe(true)
      expect(t.calls()).toBe(5)
      const executor = yield* run(Executor.Executor.useSync((e) => e))
      expect(executor.defaultConcurrency).toBe(3)

      const snapshot = yield* run(Services.CoreSupervisor.use((core) => core.snapshot))
      expect(snapshot.name).toBe("dspex-core")
      expect(snapshot.status).toBe("running")
      expect(snapshot.children.map((c) => [c.id, c.status])).toEqual([["languageModel", "running"], [
        "executor",
        "running"
      ]])
      expect(counter.active()).toBeGreaterThan(0)

      yield* Scope.close(scope, Exit.void)
      yield* counter.settle
      expect(counter.active()).toBe(0)
    }))

  it.effect("a restarted child is rebuilt and the provided service forwards to the new incarnation", () =>
    Effect.gen(function*() {
      const t = testProvider()
      let builds = 0
      const languageModel = Layer.effect(
        LanguageModel.LanguageModel,
        Effect.tap(LanguageModel.make(), () => Effect.sync(() => builds++))
      ).pipe(Layer.provide([Providers.layer(t.provider), Cache.layerNone]))
      const program = Effect.gen(function*() {
        yield* ask("first")
        const lm = yield* LanguageModel.LanguageModel
        expect(Object.values(lm.usage())[0]?.calls).toBe(1)
        const core = yield* Services.CoreSupervisor
        // OTP: restartChild refuses a running child; stop it first
        const running = yield* Effect.flip(core.supervisor.restartChild("languageModel"))
        expect(running._tag).toBe("ChildRunning")
        yield* core.supervisor.terminateChild("languageModel")
        yield* core.supervisor.restartChild("languageModel")
        expect(builds).toBe(2)
        // Same service object, new incarnation: its usage counters start over.
        expect(lm.usage()).toEqual({})
        yield* ask("second")
        expect(Object.values(lm.usage())[0]?.calls).toBe(1)
        const child = yield* Services.child("languageModel")
        expect(child?.status).toBe("running")
        expect(child?.restarts).toBe(1)
      })
      yield* program.pipe(
        Effect.provide(Services.layerSupervised({ languageModel, executor: Executor.layerLocal({ concurrency: 2 }) }))
      )
      expect(t.calls()).toBe(2)
    }))

  it.effect("a child that cannot be built fails the layer at once with ChildStartFailed naming it", () =>
    Effect.gen(function*() {
      let attempts = 0
      const broken = Layer.effect(
        LanguageModel.LanguageModel,
        Effect.suspend(() => (attempts++, Effect.die(new Error("no providers"))))
      ) as Layer.Layer<LanguageModel.LanguageModel>
      const exit = yield* Effect.exit(
        Effect.provide(
          Effect.void,
          Services.layerSupervised({
            languageModel: broken,
            executor: Executor.layerLocal({ concurrency: 1 }),
            maxRestarts: 3
          })
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const fail = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = (fail as { error: { _tag: string; child: string; message: string } } | undefined)?.error
        expect(error?._tag).toBe("ChildStartFailed")
        expect(error?.child).toBe("languageModel")
        expect(error?.message).toContain("no providers")
      }
      // not retried at start (OTP's start_link): one attempt, whatever maxRestarts says
      expect(attempts).toBe(1)
    }))
})
