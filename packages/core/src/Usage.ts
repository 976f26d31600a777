/**
 * The LM usage of one piece of work, measured where it runs: every predictor call inside `capture`
 * (forked fibers and the Executor's tasks included) adds its provider calls, tokens and cost. Cache hits
 * are free and not counted, as in DSPy's usage tracker. Optimizers use it to say what each trial cost.
 */
import { Effect } from "effect"
import { CurrentUsage, UsageCollector } from "./internal/moduleRun.ts"
import type { LMUsage } from "./LanguageModel.ts"

export interface Totals {
  /** Provider calls that answered (cache hits excluded). */
  readonly lmCalls: number
  readonly tokens: number
  /** USD, where the model's price is known. */
  readonly cost: number
  readonly byModel: Readonly<Record<string, LMUsage>>
}

const totalsOf = (c: UsageCollector): Totals => ({
  lmCalls: c.calls,
  tokens: Object.values(c.byModel).reduce((n, u) => n + u.totalTokens, 0),
  cost: c.cost,
  byModel: { ...c.byModel }
})

/**
 * Runs `effect` and returns its result with the LM usage of the predictor calls made inside it. Captures
 * nest: an outer capture counts what inner ones count.
 *
 * @example
 * ```ts
 * import { Predict, Usage } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const [prediction, usage] = yield* Usage.capture(Predict.make("question -> answer").call({ question: "2+2?" }))
 *   return `${prediction.get("answer")} in ${usage.lmCalls} calls, ${usage.tokens} tokens`
 * })
 * ```
 */
export const capture = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, Totals], E, R> =>
  Effect.withFiber((fiber) => {
    const collector = new UsageCollector(fiber.getRef(CurrentUsage))
    return effect.pipe(
      Effect.provideService(CurrentUsage, collector),
      Effect.map((a): [A, Totals] => [a, totalsOf(collector)])
    )
  })

/**
 * Like `capture`, for work that may fail or be interrupted: `onDone` gets the usage either way.
 *
 * @example
 * ```ts
 * import { Predict, Usage } from "@dspex/core"
 *
 * const call = Usage.tap(Predict.make("question -> answer").call({ question: "2+2?" }), (u) => console.log(u.lmCalls))
 * ```
 */
export const tap = <A, E, R>(effect: Effect.Effect<A, E, R>, onDone: (usage: Totals) => void): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const collector = new UsageCollector(fiber.getRef(CurrentUsage))
    return effect.pipe(
      Effect.provideService(CurrentUsage, collector),
      Effect.onExit(() => Effect.sync(() => onDone(totalsOf(collector))))
    )
  })

/**
 * Runs the effect `f` builds under a fresh usage count and hands `f` a live reader of it, for work that
 * watches its own spending as it goes (an optimizer's budget).
 *
 * @example
 * ```ts
 * import { Predict, Usage } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Usage.track((used) =>
 *   Effect.gen(function*() {
 *     yield* Predict.make("question -> answer").call({ question: "2+2?" })
 *     return used().lmCalls // 1
 *   })
 * )
 * ```
 */
export const track = <A, E, R>(f: (used: () => Totals) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const collector = new UsageCollector(fiber.getRef(CurrentUsage))
    return Effect.provideService(f(() => totalsOf(collector)), CurrentUsage, collector)
  })
