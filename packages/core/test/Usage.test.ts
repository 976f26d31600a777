import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CurrentAdapter } from "../src/Adapter.ts"
import * as Evaluate from "../src/Evaluate.ts"
import * as Example from "../src/Example.ts"
import * as Executor from "../src/Executor.ts"
import * as LM from "../src/LM.ts"
import * as Module from "../src/Module.ts"
import * as Predict from "../src/Predict.ts"
import * as Usage from "../src/Usage.ts"
import { reply, scriptedLM, testAdapter } from "./moduleTestKit.ts"

class TwoStep extends Module.Module {
  first = Predict.make("question -> answer")
  second = Predict.make("draft -> answer")
  forward(inputs: { question: string }) {
    return Effect.flatMap(this.first.call(inputs), (p) => this.second.call({ draft: p.get("answer") }))
  }
}

const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(
    Effect.provideService(CurrentAdapter, testAdapter),
    Effect.provideService(LM.CurrentLM, LM.make("test/m")),
    Effect.provide(
      Layer.mergeAll(scriptedLM(() => reply({ answer: "4" })).layer, Executor.layerLocal({ concurrency: 4 }))
    )
  ) as Effect.Effect<A, E>

describe("Usage", () => {
  it.effect("counts every predictor call inside, nested modules and the Executor's task fibers included", () =>
    Effect.gen(function*() {
      const [, one] = yield* run(Usage.capture(new TwoStep().call({ question: "2+2?" })))
      expect(one.lmCalls).toBe(2)
      expect(one.tokens).toBeGreaterThan(0)
      const devset = [1, 2, 3].map((i) => Example.make({ question: `${i}?`, answer: "4" }).withInputs("question"))
      const [result, all] = yield* run(
        Usage.capture(Evaluate.run({ program: new TwoStep(), devset, metric: () => true, numThreads: 3 }))
      )
      expect(result.score).toBe(100)
      expect(all.lmCalls).toBe(6)
      expect(all.tokens).toBe(one.tokens * 3)
    }))

  it.effect("captures nest, and tap reports a failed run's usage", () =>
    Effect.gen(function*() {
      const [[, inner], outer] = yield* run(
        Usage.capture(Effect.andThen(
          Predict.make("question -> answer").call({ question: "a" }),
          Usage.capture(Predict.make("question -> answer").call({ question: "b" }))
        ))
      )
      expect([inner.lmCalls, outer.lmCalls]).toEqual([1, 2])
      let seen = -1
      yield* run(
        Usage.tap(
          Effect.andThen(Predict.make("question -> answer").call({ question: "c" }), Effect.fail("boom")),
          (u) => {
            seen = u.lmCalls
          }
        )
      ).pipe(Effect.flip)
      expect(seen).toBe(1)
      const live = yield* run(Usage.track((used) =>
        Effect.gen(function*() {
          const before = used().lmCalls
          yield* Predict.make("question -> answer").call({ question: "d" })
          return [before, used().lmCalls]
        })
      ))
      expect(live).toEqual([0, 1])
    }))
})
