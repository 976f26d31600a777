import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schedule, Schema, Scope } from "effect"
import * as Actor from "../src/Actor.ts"
import * as ChildSpec from "../src/ChildSpec.ts"
import * as Protocol from "../src/Protocol.ts"
import * as Supervisor from "../src/Supervisor.ts"
import { is, makeProbe, tracked, waitFor } from "./helpers.ts"

const Echo = Protocol.make({ Echo: { payload: Schema.Struct({ s: Schema.String }), success: Schema.String } })
const echo = Actor.make({
  protocol: Echo,
  initialState: 0,
  handlers: { Echo: ({ s }, n) => Effect.succeed([s, n + 1] as const) }
})

/** A child that forks helpers both ways (scoped and as a fiber child) and then blocks. */
const busy = (id: string, options?: ChildSpec.Options) =>
  ChildSpec.make(
    id,
    Effect.gen(function*() {
      yield* Effect.forkScoped(Effect.never)
      yield* Effect.forkChild(Effect.never)
      return yield* Effect.never
    }),
    options
  )

describe("No leaks", () => {
  it.effect("closing the tree's scope leaves no fiber running (nested supervisors, actors, helpers)", () =>
    Effect.gen(function*() {
      const a = Actor.spec(echo, { id: "echo" })
      const { active, started, result } = yield* tracked(() =>
        Effect.gen(function*() {
          yield* Supervisor.make({
            children: [
              busy("w1"),
              Supervisor.spec("mid", {
                strategy: "oneForAll",
                children: [busy("w2"), busy("w3", { shutdown: "brutal" })]
              }),
              a
            ]
          })
          yield* a.ref.tell({ _tag: "Echo", s: "x" })
          return yield* a.ref.ask({ _tag: "Echo", s: "y" })
        })
      )
      assert.strictEqual(result, "y")
      assert.isAbove(started, 8)
      assert.strictEqual(active, 0)
    }))

  it.effect("no leak after an escalation", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const { active, started } = yield* tracked(() =>
        Effect.gen(function*() {
          const sup = yield* Supervisor.make({ maxRestarts: 1, children: [p.child("a"), busy("b")] })
          const sub = yield* sup.subscribe
          yield* p.crash("a")
          yield* waitFor(sub, is("ChildRestarted", "a"))
          yield* p.crash("a")
          yield* Effect.flip(sup.join)
        })
      )
      assert.isAbove(started, 3)
      assert.strictEqual(active, 0)
    }))

  it.live("no leak when the scope closes while a child waits for its backoff", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const { active } = yield* tracked(() =>
        Effect.gen(function*() {
          const sup = yield* Supervisor.make({
            backoff: Schedule.spaced("10 seconds"),
            children: [p.child("a"), busy("b")]
          })
          const sub = yield* sup.subscribe
          yield* p.crash("a")
          yield* waitFor(sub, is("ChildExited", "a"))
          assert.strictEqual((yield* sup.snapshot).children[0]!.status, "restarting")
        })
      )
      assert.strictEqual(active, 0)
      assert.strictEqual(p.starts.get("a"), 1)
    }))

  it.effect("no leak when the scope closes while a child is starting", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const slowStart = ChildSpec.withInit(
        "slow",
        Effect.andThen(Deferred.succeed(entered, undefined), Effect.never),
        () => Effect.never
      )
      const { active } = yield* tracked(() =>
        Effect.gen(function*() {
          const sup = yield* Supervisor.make({ children: [] })
          yield* Effect.forkChild(sup.startChild(slowStart))
          yield* Deferred.await(entered)
        })
      )
      assert.strictEqual(active, 0)
    }))

  it.effect("no leak from an unsupervised actor", () =>
    Effect.gen(function*() {
      const { active } = yield* tracked(() =>
        Effect.gen(function*() {
          const ref = yield* Actor.start(echo)
          yield* ref.ask({ _tag: "Echo", s: "a" })
        })
      )
      assert.strictEqual(active, 0)
    }))
})

describe("Shutdown grace period", () => {
  // The start phase acquires (so the child counts as started only once its finalizers are registered).
  const slowFinalizer = (log: Array<string>, ms: number) =>
    Effect.gen(function*() {
      yield* Effect.addFinalizer(() => Effect.sync(() => log.push("early-released")))
      const helperUp = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        Effect.onInterrupt(Effect.andThen(Deferred.succeed(helperUp, undefined), Effect.never), () =>
          Effect.sync(() => log.push("helper-interrupted")))
      )
      yield* Deferred.await(helperUp)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() =>
          log.push("slow-begin")
        ).pipe(
          Effect.andThen(Effect.sleep(ms)),
          Effect.andThen(Effect.sync(() => log.push("slow-end")))
        )
      )
    })

  const runAndStop = (shutdown: ChildSpec.Shutdown, finalizerMs: number) =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const child = ChildSpec.withInit("c", slowFinalizer(log, finalizerMs), () => Effect.never, { shutdown })
      yield* Supervisor.make({ children: [child] }).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      return log
    })

  it.live("within the grace period, finalizers complete", () =>
    Effect.gen(function*() {
      const log = yield* runAndStop("2 seconds", 30)
      assert.deepStrictEqual(log, ["slow-begin", "slow-end", "helper-interrupted", "early-released"])
    }))

  it.live("past the grace period, the slow finalizer is interrupted and the remaining ones still release", () =>
    Effect.gen(function*() {
      const log = yield* runAndStop("20 millis", 5_000)
      assert.deepStrictEqual(log, ["slow-begin", "helper-interrupted", "early-released"])
    }))

  it.live("brutal: the slow finalizer is cut at once; the rest still release, scoped helpers are signalled", () =>
    Effect.gen(function*() {
      const log = yield* runAndStop("brutal", 5_000)
      // Forced finalizers are not awaited: the helper got its interrupt and unwinds on its own right after.
      yield* Effect.sleep("5 millis")
      assert.sameMembers(log, ["slow-begin", "helper-interrupted", "early-released"])
      assert.notInclude(log, "slow-end")
    }))

  it.effect("children stop in reverse start order when the scope closes", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const scope = yield* Scope.make()
      yield* Supervisor.make({
        children: [p.child("a"), p.child("b"), Supervisor.spec("n", { children: [p.child("c"), p.child("d")] })]
      }).pipe(
        Scope.provide(scope)
      )
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(p.log, [
        "start:a",
        "start:b",
        "start:c",
        "start:d",
        "stop:d",
        "stop:c",
        "stop:b",
        "stop:a"
      ])
    }))
})
