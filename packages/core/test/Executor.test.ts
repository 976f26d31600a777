import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Fiber, Layer, Metric, type Scope, Stream } from "effect"
import * as Executor from "../src/Executor.ts"
import { fiberCounter } from "./fiberCounter.ts"

const task = <A, E>(id: string, effect: Effect.Effect<A, E>): Executor.Task<A, E> => ({
  descriptor: { id, kind: "test" },
  effect
})

const yieldTimes = (n: number) => Effect.repeat(Effect.yieldNow, { times: n })

/** Tasks that count how many of them run at once. */
const gauge = () => {
  let inFlight = 0
  let max = 0
  const tracked = <A>(effect: Effect.Effect<A>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        inFlight++
        max = Math.max(max, inFlight)
      }),
      () => effect,
      () => Effect.sync(() => inFlight--)
    )
  return { tracked, max: () => max, inFlight: () => inFlight }
}

describe("Executor.layerLocal()", () => {
  it.effect("returns every task's outcome in input order; failures do not abort the batch", () =>
    Effect.gen(function*() {
      const tasks = [
        task("a", Effect.as(yieldTimes(5), "A")),
        task("b", Effect.fail("boom")),
        task("c", Effect.succeed("C")),
        task("d", Effect.die(new Error("defect")))
      ]
      const results = yield* Executor.runAll(tasks).pipe(Effect.provide(Executor.layerLocal({ concurrency: 4 })))
      expect(results.map((r) => [r.index, r.id])).toEqual([[0, "a"], [1, "b"], [2, "c"], [3, "d"]])
      expect(Exit.isSuccess(results[0]!.exit) && results[0]!.exit.value).toBe("A")
      expect(Exit.isFailure(results[1]!.exit)).toBe(true)
      expect(Exit.isSuccess(results[2]!.exit) && results[2]!.exit.value).toBe("C")
      expect(Exit.isFailure(results[3]!.exit)).toBe(true)
    }))

  it.effect("streams results in completion order", () =>
    Effect.gen(function*() {
      const tasks = [30, 1, 10].map((n, i) => task(`t${i}`, Effect.as(yieldTimes(n), i)))
      const order = yield* Stream.runCollect(Executor.runBatch(tasks, { concurrency: 3 })).pipe(
        Effect.provide(Executor.layerLocal({ concurrency: 8 }))
      )
      expect(order.map((r) => r.index)).toEqual([1, 2, 0])
    }))

  it.effect("never runs more tasks at once than the concurrency bound", () =>
    Effect.gen(function*() {
      const g = gauge()
      const tasks = Array.from({ length: 20 }, (_, i) => task(`t${i}`, g.tracked(yieldTimes(3 + (i % 4)))))
      yield* Executor.runAll(tasks, { concurrency: 3 }).pipe(Effect.provide(Executor.layerLocal({ concurrency: 8 })))
      expect(g.max()).toBe(3)

      const g2 = gauge()
      const more = Array.from({ length: 20 }, (_, i) => task(`u${i}`, g2.tracked(yieldTimes(3))))
      yield* Executor.runAll(more).pipe(Effect.provide(Executor.layerLocal({ concurrency: 5 })))
      expect(g2.max()).toBe(5)
    }))

  it.effect("interrupting the batch interrupts the running tasks and starts no more", () =>
    Effect.gen(function*() {
      let started = 0
      let interrupted = 0
      const tasks = Array.from({ length: 10 }, (_, i) =>
        task(
          `t${i}`,
          Effect.sync(() => started++).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Effect.sync(() => interrupted++))
          )
        ))
      const fiber = yield* Effect.forkChild(
        Executor.runAll(tasks, { concurrency: 4 }).pipe(Effect.provide(Executor.layerLocal({ concurrency: 8 })))
      )
      while (started < 4) {
        yield* Effect.yieldNow
      }
      yield* Fiber.interrupt(fiber)
      expect(started).toBe(4)
      expect(interrupted).toBe(4)
    }))

  it.effect("reads its default concurrency from DSPEX_NUM_THREADS (8 when unset)", () =>
    Effect.gen(function*() {
      const configured = yield* Effect.provide(
        Executor.Executor,
        Executor.layerLocal().pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DSPEX_NUM_THREADS: "3" })))
        )
      )
      expect(configured.defaultConcurrency).toBe(3)
      expect(configured.name).toBe("local")
      const unset = yield* Effect.provide(
        Executor.Executor,
        Executor.layerLocal().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))
      )
      expect(unset.defaultConcurrency).toBe(8)
      const invalid = yield* Effect.flip(
        Effect.provide(
          Executor.Executor,
          Executor.layerLocal().pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DSPEX_NUM_THREADS: "many" })))
          )
        )
      )
      expect(invalid).toMatchObject({ _tag: "LMConfigurationError", variable: "DSPEX_NUM_THREADS" })
    }))
})

/** Counts fibers started and still running while `effect` runs (scoped), after letting interrupted ones unwind. */
const tracked = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const counter = fiberCounter()
    const result = yield* Effect.scoped(effect).pipe(Effect.provideService(Metric.FiberRuntimeMetrics, counter.service))
    yield* counter.settle
    return { result, active: counter.active(), started: counter.started() }
  })

/** A task that kills the worker fiber running it: the interruption escapes the task's own Exit. */
const killWorker = Effect.withFiber((fiber) => {
  fiber.interruptUnsafe()
  return Effect.never
})

describe("Executor.layerLocal() supervision", () => {
  it.effect("a crashed worker is restarted; its task fails with the crash cause and every other task completes", () =>
    Effect.gen(function*() {
      const fibers = new Set<number>()
      const g = gauge()
      const tasks = Array.from({ length: 20 }, (_, i) =>
        task<number, never>(
          `t${i}`,
          i === 5
            ? killWorker
            : g.tracked(Effect.withFiber((fiber) => {
              fibers.add(fiber.id)
              return Effect.as(yieldTimes(2 + (i % 3)), i * 10)
            }))
        ))
      const results = yield* Executor.runAll(tasks, { concurrency: 4 }).pipe(
        Effect.provide(Executor.layerLocal({ concurrency: 8 }))
      )
      expect(results.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      const crashed = results[5]!.exit
      expect(Exit.isFailure(crashed) && Cause.hasInterrupts(crashed.cause)).toBe(true)
      for (const r of results) {
        if (r.index !== 5) expect(Exit.isSuccess(r.exit) && r.exit.value).toBe(r.index * 10)
      }
      // Four workers plus the restarted incarnation of the one that died, still at most four at once.
      expect(fibers.size).toBe(5)
      expect(g.max()).toBe(4)
    }))

  it.effect("a storm of crashes escalates: every task is still reported and the stream ends", () =>
    Effect.gen(function*() {
      const tasks = Array.from({ length: 20 }, (_, i) => task<number, never>(`t${i}`, killWorker))
      const results = yield* Executor.runAll(tasks, { concurrency: 2 }).pipe(
        Effect.provide(Executor.layerLocal({ concurrency: 8 }))
      )
      expect(results.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(results.every((r) => Exit.isFailure(r.exit))).toBe(true)
      const escalated = results.filter((r) =>
        Exit.isFailure(r.exit) &&
        r.exit.cause.reasons.some((x) =>
          x._tag === "Die" && (x.defect as { _tag?: string })._tag === "SupervisorEscalation"
        )
      )
      expect(escalated.length).toBeGreaterThan(0)
    }))

  it.effect("a finished batch and an interrupted batch leave no fiber running", () =>
    Effect.gen(function*() {
      const done = yield* tracked(
        Executor.runAll(Array.from({ length: 30 }, (_, i) => task(`t${i}`, Effect.as(yieldTimes(i % 4), i))), {
          concurrency: 6
        }).pipe(
          Effect.provide(Executor.layerLocal({ concurrency: 8 }))
        )
      )
      expect(done.result.length).toBe(30)
      expect(done.started).toBeGreaterThan(6)
      expect(done.active).toBe(0)

      let running = 0
      const stopped = yield* tracked(Effect.gen(function*() {
        const tasks = Array.from({ length: 10 }, (_, i) =>
          task(`s${i}`, Effect.andThen(Effect.sync(() => running++), Effect.never)))
        const fiber = yield* Effect.forkChild(
          Executor.runAll(tasks, { concurrency: 4 }).pipe(Effect.provide(Executor.layerLocal({ concurrency: 8 })))
        )
        while (running < 4) {
          yield* Effect.yieldNow
        }
        yield* Fiber.interrupt(fiber)
      }))
      expect(stopped.active).toBe(0)
    }))

  it.effect("an empty batch ends at once", () =>
    Effect.gen(function*() {
      const results = yield* Executor.runAll<number, never, never>([]).pipe(
        Effect.provide(Executor.layerLocal({ concurrency: 4 }))
      )
      expect(results).toEqual([])
    }))
})
