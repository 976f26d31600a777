import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Metric, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { SupervisorEscalation } from "../src/ActorError.ts"
import * as ChildSpec from "../src/ChildSpec.ts"
import * as Supervisor from "../src/Supervisor.ts"
import { is, makeProbe, waitFor } from "./helpers.ts"

const startsOf = (log: Array<string>) => log.filter((l) => l.startsWith("start:"))

describe("Supervisor strategies", () => {
  it.effect("oneForOne restarts only the crashed child", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        strategy: "oneForOne",
        children: [p.child("a"), p.child("b"), p.child("c")]
      })
      const sub = yield* sup.subscribe
      assert.deepStrictEqual(p.log, ["start:a", "start:b", "start:c"])
      p.log.length = 0
      yield* p.crash("b")
      yield* waitFor(sub, is("ChildRestarted", "b"))
      assert.deepStrictEqual(p.log, ["stop:b", "start:b"])
      const snap = yield* sup.snapshot
      assert.deepStrictEqual(snap.children.map((c) => [c.id, c.status, c.restarts]), [["a", "running", 0], [
        "b",
        "running",
        1
      ], ["c", "running", 0]])
    }))

  it.effect("oneForAll stops the others in reverse order, then restarts all in start order", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        name: "all-4",
        strategy: "oneForAll",
        children: [p.child("a"), p.child("b"), p.child("c"), p.child("d")]
      })
      const sub = yield* sup.subscribe
      p.log.length = 0
      yield* p.crash("b")
      yield* waitFor(sub, is("ChildRestarted", "d"))
      assert.deepStrictEqual(p.log, [
        "stop:b",
        "stop:d",
        "stop:c",
        "stop:a",
        "start:a",
        "start:b",
        "start:c",
        "start:d"
      ])
      const snap = yield* sup.snapshot
      // each child was started again once; the supervisor decided one restart (as its intensity counts it)
      assert.deepStrictEqual(snap.children.map((c) => c.restarts), [1, 1, 1, 1])
      assert.strictEqual(snap.restarts, 1)
      const counted = yield* Metric.value(Metric.withAttributes(Supervisor.metrics.restarts, { supervisor: "all-4" }))
      assert.strictEqual(counted.count, 1)
    }))

  it.effect("restForOne restarts the crashed child and those started after it", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        strategy: "restForOne",
        children: [p.child("a"), p.child("b"), p.child("c"), p.child("d")]
      })
      const sub = yield* sup.subscribe
      p.log.length = 0
      yield* p.crash("b")
      yield* waitFor(sub, is("ChildRestarted", "d"))
      assert.deepStrictEqual(p.log, ["stop:b", "stop:d", "stop:c", "start:b", "start:c", "start:d"])
      assert.strictEqual(p.starts.get("a"), 1)
    }))
})

describe("Restart types", () => {
  it.effect("permanent restarts after a normal exit and after a failure", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ maxRestarts: 10, children: [p.child("w", { restart: "permanent" })] })
      const sub = yield* sup.subscribe
      yield* p.exit("w")
      yield* waitFor(sub, is("ChildRestarted", "w"))
      yield* p.crash("w")
      yield* waitFor(sub, is("ChildRestarted", "w"))
      assert.strictEqual(p.starts.get("w"), 3)
    }))

  it.effect("transient restarts after a failure but not after a normal exit", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ children: [p.child("t", { restart: "transient" })] })
      const sub = yield* sup.subscribe
      yield* p.crash("t")
      yield* waitFor(sub, is("ChildRestarted", "t"))
      assert.strictEqual(p.starts.get("t"), 2)
      yield* p.exit("t")
      const seen = yield* waitFor(sub, is("ChildExited", "t"))
      const exited = seen.at(-1)!
      assert.strictEqual(exited._tag === "ChildExited" && exited.reason._tag, "Normal")
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.children[0]!.status, "stopped")
      assert.strictEqual(snap.children[0]!.lastExit?._tag, "Normal")
      assert.strictEqual(p.starts.get("t"), 2)
    }))

  it.effect("temporary is never restarted and is removed", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ children: [p.child("tmp", { restart: "temporary" }), p.child("keep")] })
      const sub = yield* sup.subscribe
      yield* p.crash("tmp")
      yield* waitFor(sub, is("ChildExited", "tmp"))
      const snap = yield* sup.snapshot
      assert.deepStrictEqual(snap.children.map((c) => c.id), ["keep"])
      assert.strictEqual(p.starts.get("tmp"), 1)
    }))
})

describe("Intensity and escalation", () => {
  it.effect("beyond maxRestarts within the window: children stop in reverse order and the supervisor escalates", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        name: "sup",
        maxRestarts: 2,
        within: "1 minute",
        children: [p.child("a"), p.child("b"), p.child("c")]
      })
      const sub = yield* sup.subscribe
      for (let i = 0; i < 2; i++) {
        yield* p.crash("b")
        yield* waitFor(sub, is("ChildRestarted", "b"))
      }
      p.log.length = 0
      yield* p.crash("b", "third")
      const error = yield* Effect.flip(sup.join)
      assert.instanceOf(error, SupervisorEscalation)
      assert.strictEqual(error.supervisor, "sup")
      assert.strictEqual(error.child, "b")
      assert.strictEqual(error.restarts, 2)
      assert.strictEqual(error.withinMs, 60_000)
      assert.deepStrictEqual(Cause.squash(error.lastCause), "third")
      assert.deepStrictEqual(p.log, ["stop:b", "stop:c", "stop:a"])
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.status, "escalated")
      assert.isTrue(snap.children.every((c) => c.status === "stopped"))
      const events = yield* waitFor(sub, is("SupervisorStopped"))
      assert.isTrue(events.some(is("Escalated", "b")))
    }))

  it.effect("restarts outside the window do not accumulate", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ maxRestarts: 1, within: "10 seconds", children: [p.child("a")] })
      const sub = yield* sup.subscribe
      for (let i = 0; i < 3; i++) {
        yield* p.crash("a")
        yield* waitFor(sub, is("ChildRestarted", "a"))
        yield* TestClock.adjust("11 seconds")
      }
      assert.strictEqual((yield* sup.snapshot).status, "running")
      assert.strictEqual(p.starts.get("a"), 4)
    }))

  it.effect("a nested supervisor's escalation ends its (permanent) child spec with Escalated, and the parent restarts it", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const parent = yield* Supervisor.make({
        name: "parent",
        maxRestarts: 5,
        children: [p.child("sibling"), Supervisor.spec("inner", { maxRestarts: 0, children: [p.child("leaf")] })]
      })
      const sub = yield* parent.subscribe
      yield* p.crash("leaf")
      const events = yield* waitFor(sub, is("ChildRestarted", "inner"))
      const exited = events.find(is("ChildExited", "inner"))
      assert.isDefined(exited)
      assert.strictEqual(exited!._tag === "ChildExited" && exited!.reason._tag, "Escalated")
      const snap = yield* parent.snapshot
      const inner = snap.children.find((c) => c.id === "inner")!
      assert.strictEqual(inner.restarts, 1)
      assert.instanceOf(Cause.squash(inner.lastCause!), SupervisorEscalation)
      assert.strictEqual(inner.supervisor?.children[0]?.status, "running")
      assert.strictEqual(p.starts.get("leaf"), 2)
      assert.strictEqual(p.starts.get("sibling"), 1)
    }))

  it.effect("a restart whose start fails counts toward intensity and escalates when it keeps failing", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        name: "s",
        maxRestarts: 2,
        children: [p.child("ok"), p.child("bad", { failStart: (n) => n > 1 })]
      })
      yield* p.crash("bad")
      const error = yield* Effect.flip(sup.join)
      assert.instanceOf(error, SupervisorEscalation)
      assert.strictEqual(error.child, "bad")
      assert.strictEqual(p.starts.get("bad"), 3) // the first incarnation + 2 failed restarts
      assert.deepStrictEqual(p.log.filter((l) => l.includes("ok")), ["start:ok", "stop:ok"])
    }))

  it.effect("a restart whose start fails is retried within the intensity", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        maxRestarts: 3,
        children: [p.child("flaky", { failStart: (n) => n === 2 || n === 3 })]
      })
      const sub = yield* sup.subscribe
      yield* p.crash("flaky")
      yield* waitFor(sub, is("ChildRestarted", "flaky"))
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.children[0]!.status, "running")
      assert.strictEqual(snap.children[0]!.restarts, 3)
      assert.strictEqual(snap.restarts, 3)
      assert.strictEqual(p.starts.get("flaky"), 4)
    }))
})

describe("Backoff", () => {
  it.effect("waits for the backoff schedule's delay before each restart", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        maxRestarts: 5,
        within: "1 hour",
        backoff: Schedule.exponential("100 millis"),
        children: [p.child("a")]
      })
      const sub = yield* sup.subscribe
      yield* p.crash("a")
      yield* waitFor(sub, is("ChildExited", "a"))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(p.starts.get("a"), 1)
      assert.strictEqual((yield* sup.snapshot).children[0]!.status, "restarting")
      yield* TestClock.adjust("1 millis")
      yield* waitFor(sub, is("ChildRestarted", "a"))
      assert.strictEqual(p.starts.get("a"), 2)
      // Second restart: the delay doubles.
      yield* p.crash("a")
      yield* waitFor(sub, is("ChildExited", "a"))
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(p.starts.get("a"), 2)
      yield* TestClock.adjust("1 millis")
      yield* waitFor(sub, is("ChildRestarted", "a"))
      assert.strictEqual(p.starts.get("a"), 3)
    }))
})

describe("Dynamic children", () => {
  it.effect("startChild, terminateChild, restartChild, deleteChild", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ name: "dyn", children: [p.child("a")] })
      yield* sup.startChild(p.child("b"))
      assert.deepStrictEqual(startsOf(p.log), ["start:a", "start:b"])
      const dup = yield* Effect.flip(sup.startChild(p.child("b")))
      assert.strictEqual(dup._tag, "DuplicateChild")

      yield* sup.terminateChild("b")
      let snap = yield* sup.snapshot
      assert.deepStrictEqual(snap.children.map((c) => [c.id, c.status]), [["a", "running"], ["b", "stopped"]])
      assert.strictEqual(p.log.at(-1), "stop:b")

      yield* sup.restartChild("b")
      snap = yield* sup.snapshot
      assert.strictEqual(snap.children[1]!.status, "running")
      assert.strictEqual(p.starts.get("b"), 2)

      yield* sup.terminateChild("b")
      yield* sup.deleteChild("b")
      snap = yield* sup.snapshot
      assert.deepStrictEqual(snap.children.map((c) => c.id), ["a"])
      assert.strictEqual(p.log.at(-1), "stop:b")

      const missing = yield* Effect.flip(sup.terminateChild("zzz"))
      assert.strictEqual(missing._tag, "ChildNotFound")
      const failed = yield* Effect.flip(sup.startChild(p.child("never", { failStart: () => true })))
      assert.strictEqual(failed._tag, "ChildStartFailed")
      assert.deepStrictEqual((yield* sup.snapshot).children.map((c) => c.id), ["a"])
    }))

  it.effect("a dynamically started child is supervised like the others", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ children: [] })
      const sub = yield* sup.subscribe
      yield* sup.startChild(p.child("late"))
      yield* p.crash("late")
      yield* waitFor(sub, is("ChildRestarted", "late"))
      assert.strictEqual(p.starts.get("late"), 2)
    }))

  it.effect("commands after the supervisor stopped fail with SupervisorNotRunning", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const sup = yield* Supervisor.make({ children: [] }).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const e = yield* Effect.flip(sup.startChild(ChildSpec.make("x", Effect.never)))
      assert.strictEqual(e._tag, "SupervisorNotRunning")
      yield* sup.join // completes (no escalation)
    }))
})

describe("Snapshot and events", () => {
  it.effect("snapshot shows nested trees, statuses, restart counts and typed last exits", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        name: "root",
        strategy: "oneForAll",
        children: [
          p.child("a"),
          Supervisor.spec("mid", {
            strategy: "restForOne",
            children: [p.child("x"), Supervisor.spec("deep", { children: [p.child("y")] })]
          })
        ]
      })
      const sub = yield* sup.subscribe
      yield* p.crash("a", "kaput")
      yield* waitFor(sub, is("ChildRestarted", "mid"))
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.name, "root")
      assert.strictEqual(snap.strategy, "oneForAll")
      const [a, mid] = snap.children
      assert.strictEqual(a!.lastExit?._tag, "Failure")
      assert.strictEqual(Cause.squash(a!.lastCause!), "kaput")
      assert.strictEqual(mid!.lastExit?._tag, "Shutdown")
      assert.strictEqual(mid!.supervisor?.name, "mid")
      assert.strictEqual(mid!.supervisor?.strategy, "restForOne")
      const deep = mid!.supervisor?.children[1]
      assert.strictEqual(deep?.supervisor?.name, "deep")
      assert.deepStrictEqual(deep?.supervisor?.children.map((c) => [c.id, c.status]), [["y", "running"]])
    }))

  it.effect("events stream: started, exited with reason, restarted, supervisor stopped", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const scope = yield* Scope.make()
      const sup = yield* Supervisor.make({ name: "ev", children: [p.child("a")] }).pipe(Scope.provide(scope))
      const collected = yield* Effect.forkChild(Stream.runCollect(sup.events))
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      yield* p.crash("a")
      const sub = yield* sup.subscribe.pipe(Scope.provide(scope))
      yield* waitFor(sub, is("ChildRestarted", "a"))
      yield* Scope.close(scope, Exit.void)
      const events = Array.from(yield* Fiber.join(collected))
      assert.deepStrictEqual(events.map((e) => e._tag), [
        "ChildExited",
        "ChildStarted",
        "ChildRestarted",
        "ChildExited",
        "SupervisorStopped"
      ])
      const first = events[0]!
      assert.strictEqual(first._tag === "ChildExited" && first.reason._tag, "Failure")
      const last = events[3]!
      assert.strictEqual(last._tag === "ChildExited" && last.reason._tag, "Shutdown")
    }))

  it.effect("a Layer child is built at start and released at stop", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { Layer } = yield* Effect.promise(() => import("effect"))
      const layer = Layer.effectDiscard(
        Effect.acquireRelease(Effect.sync(() => log.push("acquire")), () => Effect.sync(() => log.push("release")))
      )
      const scope = yield* Scope.make()
      yield* Supervisor.make({ children: [ChildSpec.fromLayer("res", layer)] }).pipe(Scope.provide(scope))
      assert.deepStrictEqual(log, ["acquire"])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(log, ["acquire", "release"])
    }))

  it.effect("Supervisor.run fails with the escalation", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const crashing = ChildSpec.make("c", Effect.andThen(Deferred.succeed(started, undefined), Effect.fail("x")))
      const exit = yield* Effect.exit(Supervisor.run({ maxRestarts: 1, children: [crashing] }))
      assert.isTrue(Exit.isFailure(exit))
      assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), SupervisorEscalation)
    }))
})
