import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { timeoutFail } from "../src/internal/lmTimeout.ts"

// These run on the real clock (it.live): that is the path with the hand-written timer.
describe("timeoutFail on the system clock", () => {
  it.live("passes a success through", () =>
    Effect.gen(function*() {
      expect(yield* timeoutFail(Effect.succeed(1), 1_000, () => "timeout")).toBe(1)
      expect(yield* timeoutFail(Effect.as(Effect.sleep("5 millis"), 2), 1_000, () => "timeout")).toBe(2)
    }))

  it.live("passes a failure through", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        timeoutFail(Effect.as(Effect.sleep("5 millis"), 0).pipe(Effect.andThen(Effect.fail("boom"))), 1_000, () =>
          "timeout")
      )
      expect(exit).toEqual(Exit.fail("boom"))
    }))

  it.live("fails with onTimeout and interrupts the call", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const call = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      const exit = yield* Effect.exit(timeoutFail(call, 20, () => "timeout"))
      expect(exit).toEqual(Exit.fail("timeout"))
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.live("interrupting the caller interrupts the call", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const call = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const fiber = yield* Effect.forkChild(timeoutFail(call, 10_000, () => "timeout"))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))
})

describe("timeoutFail under TestClock", () => {
  it.effect("uses Effect's timeout, so TestClock drives it", () =>
    Effect.gen(function*() {
      const { TestClock } = yield* Effect.promise(() => import("effect/testing"))
      const fiber = yield* Effect.forkChild(timeoutFail(Effect.never, 1_000, () => "timeout"))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail("timeout"))
    }))
})
