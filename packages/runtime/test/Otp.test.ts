/**
 * Where DSPex's supervisors and actors follow Erlang/OTP's documented semantics on the paths that once deviated
 * (issue 11): bounded shutdown, start failures, transient nested supervisors, links and shutdown, group restarts,
 * dynamic-children errors, the intensity window and restart counting. Each test fails on the code before the fix.
 * Names that did not exist before (ChildRunning, ...) are compared by `_tag`, so the file loads on the old code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Metric, PubSub, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Actor from "../src/Actor.ts"
import { SupervisorEscalation } from "../src/ActorError.ts"
import type { ExitReason } from "../src/ActorError.ts"
import * as ChildSpec from "../src/ChildSpec.ts"
import * as Protocol from "../src/Protocol.ts"
import * as Supervisor from "../src/Supervisor.ts"
import type { SupervisorEvent } from "../src/SupervisorEvent.ts"
import { is, makeProbe, tracked, waitFor } from "./helpers.ts"

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const result = yield* effect
    return { result, ms: Date.now() - t0 }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Cause.squash((exit as Exit.Failure<A, E>).cause)
}

/** A child whose stop takes `releaseMs` that no interruption can shorten; `up` completes once it holds its resource. */
const stubborn = (
  id: string,
  how: "scoped" | "uninterruptible",
  releaseMs: number,
  log: Array<string>,
  options?: ChildSpec.Options
) => {
  const up = Deferred.makeUnsafe<void>()
  const acquire = Effect.andThen(Effect.sync(() => log.push(`acquire:${id}`)), Deferred.succeed(up, undefined))
  const release = Effect.andThen(Effect.sleep(releaseMs), Effect.sync(() => log.push(`release:${id}`)))
  const spec = ChildSpec.make(
    id,
    how === "scoped"
      // releases a resource inside its own Effect.scoped: the release runs in the child's fiber, uninterruptibly
      ? Effect.scoped(Effect.andThen(Effect.acquireRelease(acquire, () => release), Effect.never))
      : Effect.andThen(acquire, Effect.andThen(Effect.uninterruptible(release), Effect.never)),
    options
  )
  return { spec, up: Deferred.await(up) }
}

const Echo = Protocol.make({ Echo: { payload: Schema.Struct({ s: Schema.String }), success: Schema.String } })
const echo = (name: string) =>
  Actor.make({
    name,
    protocol: Echo,
    initialState: 0,
    handlers: { Echo: ({ s }, n) => Effect.succeed([s, n + 1] as const) }
  })

describe("1. A shutdown never holds the supervisor past the child's shutdown", () => {
  for (const how of ["scoped", "uninterruptible"] as const) {
    it.live(`terminateChild returns after the grace period when the child's ${how} release takes longer; the child is reported`, () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const slow = stubborn("slow", how, 800, log, { shutdown: "50 millis" })
        const sup = yield* Supervisor.make({ name: `bounded-${how}`, children: [slow.spec] })
        const sub = yield* sup.subscribe
        yield* slow.up
        const { ms } = yield* elapsed(sup.terminateChild("slow"))
        assert.isBelow(ms, 500, `terminateChild took ${ms} ms`)
        assert.notInclude(log, "release:slow") // still releasing in the background
        const snap = yield* sup.snapshot
        assert.strictEqual(snap.children[0]!.status, "stopped")
        assert.strictEqual((snap.children[0] as { lingering?: ReadonlyArray<unknown> }).lingering?.length, 1)
        assert.strictEqual((snap as { shutdownTimeouts?: number }).shutdownTimeouts, 1)
        const counted = yield* Metric.value(
          Metric.withAttributes(Supervisor.metrics.shutdownTimeouts, { supervisor: `bounded-${how}` })
        )
        assert.strictEqual(counted.count, 1)
        const seen = yield* waitFor(sub, (e) => e._tag === ("ChildReleased" as SupervisorEvent["_tag"]))
        const wouldNot = seen.find((e) => e._tag === ("ChildWouldNotStop" as SupervisorEvent["_tag"])) as {
          graceMs: number
          child: string
        } | undefined
        assert.deepStrictEqual([wouldNot?.child, wouldNot?.graceMs], ["slow", 50])
        assert.include(log, "release:slow")
        assert.strictEqual(
          ((yield* sup.snapshot).children[0] as { lingering?: ReadonlyArray<unknown> }).lingering?.length,
          0
        )
      }))
  }

  it.live("brutal: the supervisor does not wait at all for uninterruptible work", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const slow = stubborn("slow", "uninterruptible", 800, log, { shutdown: "brutal" })
      const sup = yield* Supervisor.make({ children: [slow.spec] })
      yield* slow.up
      const { ms } = yield* elapsed(sup.terminateChild("slow"))
      assert.isBelow(ms, 200, `terminateChild took ${ms} ms`)
      assert.strictEqual(
        ((yield* sup.snapshot).children[0] as { lingering?: ReadonlyArray<unknown> }).lingering?.length,
        1
      )
    }))

  it.live("a sibling's crash is restarted while another child is still failing to stop", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const p = makeProbe()
      const slow = stubborn("slow", "scoped", 1_500, log, { shutdown: "50 millis" })
      const sup = yield* Supervisor.make({ children: [slow.spec, p.child("sibling")] })
      const sub = yield* sup.subscribe
      yield* slow.up
      const terminating = yield* Effect.forkChild(sup.terminateChild("slow"))
      yield* Effect.sleep("10 millis")
      const { ms } = yield* elapsed(Effect.andThen(p.crash("sibling"), waitFor(sub, is("ChildRestarted", "sibling"))))
      assert.isBelow(ms, 600, `the sibling was restarted after ${ms} ms`)
      yield* Fiber.join(terminating)
    }))

  it.live("a restart while the old incarnation still releases is visible, and awaitPreviousRelease keeps them apart", () =>
    Effect.gen(function*() {
      for (const waits of [false, true]) {
        const log: Array<string> = []
        let n = 0
        const up = yield* Deferred.make<void>()
        const holder = ChildSpec.withInit(
          "holder",
          Effect.gen(function*() {
            if (waits) yield* ChildSpec.awaitPreviousRelease
            const k = ++n
            log.push(`acquire:${k}`)
            return k
          }),
          (k) =>
            Effect.scoped(
              Effect.addFinalizer(() => Effect.andThen(Effect.sleep(300), Effect.sync(() => log.push(`release:${k}`))))
                .pipe(
                  Effect.andThen(Deferred.succeed(up, undefined)),
                  Effect.andThen(Effect.never)
                )
            ),
          { shutdown: "20 millis" }
        )
        const p = makeProbe()
        const sup = yield* Supervisor.make({ strategy: "oneForAll", children: [p.child("crasher"), holder] })
        const sub = yield* sup.subscribe
        yield* Deferred.await(up)
        yield* p.crash("crasher")
        yield* waitFor(sub, is("ChildRestarted", "holder"))
        const during = (yield* sup.snapshot).children[1] as { lingering?: ReadonlyArray<{ incarnation: number }> }
        yield* waitFor(sub, (e) => e._tag === ("ChildReleased" as SupervisorEvent["_tag"]))
        if (waits) {
          assert.deepStrictEqual(log, ["acquire:1", "release:1", "acquire:2"])
          assert.strictEqual(during.lingering?.length, 0)
        } else {
          // they overlapped, and the snapshot said so while they did
          assert.deepStrictEqual(log, ["acquire:1", "acquire:2", "release:1"])
          assert.strictEqual(during.lingering?.length, 1)
        }
      }
    }))

  it.live("an actor incarnation that lingers does not touch the next one's messages, monitors or mailbox", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const Slow = Protocol.make({
        Block: { success: Schema.String },
        Hold: { success: Schema.String },
        Which: { success: Schema.Number }
      })
      const slow = Actor.spec(
        Actor.make({
          name: "slow",
          protocol: Slow,
          initialState: 0,
          handlers: {
            // stuck uninterruptibly for 300 ms: its incarnation cannot stop within its 20 ms shutdown
            Block: (_, s) =>
              Effect.as(
                Effect.andThen(Deferred.succeed(entered, undefined), Effect.uninterruptible(Effect.sleep(300))),
                ["unblocked", s] as const
              ),
            Hold: (_, s) => Effect.as(Deferred.await(gate), ["held", s] as const),
            Which: (_, s, ctx) => Effect.succeed([ctx.incarnation, s] as const)
          }
        }),
        { id: "slow", shutdown: "20 millis" }
      )
      const p = makeProbe()
      const sup = yield* Supervisor.make({ strategy: "oneForAll", children: [p.child("crasher"), slow] })
      const sub = yield* sup.subscribe
      const blocked = yield* Effect.forkChild(Effect.exit(slow.ref.ask({ _tag: "Block" })))
      yield* Deferred.await(entered)
      yield* p.crash("crasher")
      yield* waitFor(sub, is("ChildRestarted", "slow"))
      // the old incarnation still runs its handler; the new one serves
      assert.strictEqual(yield* slow.ref.ask({ _tag: "Which" }), 2)
      const held = yield* Effect.forkChild(slow.ref.ask({ _tag: "Hold" }, { timeout: "5 seconds" }))
      const watch = yield* slow.ref.monitor()
      const watching = yield* Effect.forkChild(watch)
      yield* waitFor(sub, (e) => e._tag === ("ChildReleased" as SupervisorEvent["_tag"]))
      // the old incarnation's end settled its own message, not the new incarnation's
      assert.isDefined(yield* Fiber.await(blocked))
      yield* Effect.sleep("20 millis")
      assert.isUndefined(held.pollUnsafe())
      assert.isUndefined(watching.pollUnsafe())
      assert.strictEqual(Actor.stats(slow.ref)?.status, "running")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(held), "held")
      assert.strictEqual(yield* slow.ref.ask({ _tag: "Which" }), 2)
    }))

  it.live("once a lingering incarnation is done, no fiber is left", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { active } = yield* tracked(() =>
        Effect.gen(function*() {
          const slow = stubborn("slow", "scoped", 100, log, { shutdown: "10 millis" })
          const sup = yield* Supervisor.make({ children: [slow.spec] })
          const sub = yield* sup.subscribe
          yield* slow.up
          yield* sup.terminateChild("slow")
          yield* waitFor(sub, (e) => e._tag === ("ChildReleased" as SupervisorEvent["_tag"]))
        })
      )
      assert.strictEqual(active, 0)
    }))
})

describe("2. A child that cannot start fails Supervisor.make at once", () => {
  it.effect("with ChildStartFailed naming the child; those already started stop in reverse order; no retry", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const exit = yield* Effect.exit(
        Supervisor.make({
          name: "boot",
          maxRestarts: 5,
          children: [p.child("a"), p.child("b"), p.child("bad", { failStart: () => true }), p.child("never")]
        })
      )
      const error = failureOf(exit) as { _tag: string; supervisor: string; child: string; cause: Cause.Cause<unknown> }
      assert.strictEqual(error._tag, "ChildStartFailed")
      assert.strictEqual(error.supervisor, "boot")
      assert.strictEqual(error.child, "bad")
      assert.strictEqual(Cause.squash(error.cause), "start bad failed")
      assert.strictEqual(p.starts.get("bad"), 1)
      assert.isUndefined(p.starts.get("never"))
      assert.deepStrictEqual(p.log, ["start:a", "start:b", "startfail:bad", "stop:b", "stop:a"])
    }))

  it.effect("a child that fails its first start and would then succeed still fails the start", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const exit = yield* Effect.exit(
        Supervisor.make({ maxRestarts: 3, children: [p.child("flaky", { failStart: (n) => n === 1 })] })
      )
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "ChildStartFailed")
      assert.strictEqual(p.starts.get("flaky"), 1)
    }))

  it.effect("a nested supervisor's start failure is its spec's start failure in the parent", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const exit = yield* Effect.exit(
        Supervisor.make({
          name: "parent",
          children: [
            p.child("a"),
            Supervisor.spec("inner", { children: [p.child("leaf", { failStart: () => true })] })
          ]
        })
      )
      const error = failureOf(exit) as { _tag: string; child: string; cause: Cause.Cause<unknown> }
      assert.deepStrictEqual([error._tag, error.child], ["ChildStartFailed", "inner"])
      const inner = Cause.squash(error.cause) as { _tag: string; child: string }
      assert.deepStrictEqual([inner._tag, inner.child], ["ChildStartFailed", "leaf"])
      assert.deepStrictEqual(p.log, ["start:a", "startfail:leaf", "stop:a"])
    }))
})

describe("3. A nested supervisor that gives up exits as a shutdown", () => {
  it.effect("a transient nested supervisor is not restarted by its parent; a permanent one is", () =>
    Effect.gen(function*() {
      for (const restart of ["transient", "permanent"] as const) {
        const p = makeProbe()
        const parent = yield* Supervisor.make({
          name: "parent",
          maxRestarts: 5,
          children: [
            p.child("sibling"),
            Supervisor.spec("inner", { maxRestarts: 0, children: [p.child("leaf")] }, { restart })
          ]
        })
        const sub = yield* parent.subscribe
        yield* p.crash("leaf")
        const seen = yield* waitFor(sub, is("ChildExited", "inner"))
        const exited = seen.at(-1) as { reason: ExitReason }
        assert.strictEqual(exited.reason._tag, "Escalated")
        if (restart === "permanent") yield* waitFor(sub, is("ChildRestarted", "inner"))
        const snap = yield* parent.snapshot
        const inner = snap.children.find((c) => c.id === "inner")!
        assert.strictEqual(snap.status, "running")
        assert.strictEqual(inner.status, restart === "transient" ? "stopped" : "running")
        assert.strictEqual(inner.lastExit?._tag, "Escalated")
        assert.instanceOf(Cause.squash(inner.lastCause!), SupervisorEscalation)
        assert.strictEqual(p.starts.get("leaf"), restart === "transient" ? 1 : 2)
        assert.strictEqual(p.starts.get("sibling"), 1)
      }
    }))
})

describe("4. Links propagate a supervisor's shutdown of the peer", () => {
  it.effect("terminating one linked actor terminates the other with a Linked(Shutdown) exit; permanent restarts, transient does not", () =>
    Effect.gen(function*() {
      for (const restart of ["permanent", "transient"] as const) {
        const a = Actor.spec(echo("A"), { id: "A" })
        const b = Actor.spec(echo("B"), { id: "B", restart })
        const sup = yield* Supervisor.make({ children: [a, b] })
        const sub = yield* sup.subscribe
        yield* Actor.link(a.ref, b.ref)
        yield* sup.terminateChild("A")
        const seen = yield* waitFor(sub, is("ChildExited", "B"))
        const reason = (seen.at(-1) as { reason: ExitReason }).reason
        assert.strictEqual(reason._tag, "Linked")
        assert.deepStrictEqual(reason._tag === "Linked" && [reason.peer, (reason as { peerExit?: string }).peerExit], [
          "A",
          "Shutdown"
        ])
        if (restart === "permanent") yield* waitFor(sub, is("ChildRestarted", "B"))
        const snap = yield* sup.snapshot
        const bSnap = snap.children.find((c) => c.id === "B")!
        assert.strictEqual(bSnap.lastExit?._tag, "Linked")
        assert.strictEqual(bSnap.status, restart === "permanent" ? "running" : "stopped")
        assert.strictEqual(Actor.stats(b.ref)?.incarnation, restart === "permanent" ? 2 : 1)
      }
    }))

  it.effect("an effect linked to an actor fails with LinkedExit when the actor is shut down", () =>
    Effect.gen(function*() {
      const a = Actor.spec(echo("A"), { id: "A" })
      const sup = yield* Supervisor.make({ children: [a] })
      const fiber = yield* Effect.forkChild(Actor.linked(a.ref, Effect.never))
      yield* Effect.yieldNow
      yield* sup.terminateChild("A")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual((error as { _tag: string })._tag, "LinkedExit")
      assert.strictEqual((error as { reason: ExitReason }).reason._tag, "Shutdown")
    }))
})

describe("6. Group restarts, dynamic-children errors, the intensity window, restart counts", () => {
  it.effect("oneForAll restarts the group's terminated children and its transient children that ended normally", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        strategy: "oneForAll",
        children: [p.child("a"), p.child("b"), p.child("t", { restart: "transient" })]
      })
      const sub = yield* sup.subscribe
      yield* sup.terminateChild("b")
      yield* p.exit("t")
      yield* waitFor(sub, is("ChildExited", "t"))
      assert.deepStrictEqual((yield* sup.snapshot).children.map((c) => c.status), ["running", "stopped", "stopped"])
      yield* p.crash("a")
      yield* waitFor(sub, is("ChildRestarted", "t"))
      assert.deepStrictEqual((yield* sup.snapshot).children.map((c) => c.status), ["running", "running", "running"])
      assert.deepStrictEqual([p.starts.get("a"), p.starts.get("b"), p.starts.get("t")], [2, 2, 2])
    }))

  it.effect("restForOne restarts the stopped children after the crashed one, not those before it", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        strategy: "restForOne",
        children: [p.child("a"), p.child("b"), p.child("c"), p.child("d")]
      })
      const sub = yield* sup.subscribe
      yield* sup.terminateChild("a")
      yield* sup.terminateChild("d")
      yield* p.crash("b")
      yield* waitFor(sub, is("ChildRestarted", "d"))
      assert.deepStrictEqual((yield* sup.snapshot).children.map((c) => c.status), [
        "stopped",
        "running",
        "running",
        "running"
      ])
      assert.deepStrictEqual([p.starts.get("a"), p.starts.get("d")], [1, 2])
    }))

  it.effect("restartChild and deleteChild refuse a running child with ChildRunning and leave it alone", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ name: "dyn", children: [p.child("a")] })
      const restart = yield* Effect.flip(sup.restartChild("a"))
      const remove = yield* Effect.flip(sup.deleteChild("a"))
      for (const e of [restart, remove]) {
        assert.strictEqual(e._tag, "ChildRunning")
        assert.deepStrictEqual([(e as { supervisor: string }).supervisor, (e as { child: string }).child], ["dyn", "a"])
        assert.isTrue((e as { suggestion: string }).suggestion.includes("terminateChild"))
      }
      assert.strictEqual(p.starts.get("a"), 1)
      assert.deepStrictEqual((yield* sup.snapshot).children.map((c) => [c.id, c.status]), [["a", "running"]])
      assert.deepStrictEqual(p.log, ["start:a"])
    }))

  it.effect("a restart exactly `within` old still counts toward the intensity (OTP keeps it)", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({ maxRestarts: 1, within: "10 seconds", children: [p.child("a")] })
      const sub = yield* sup.subscribe
      yield* p.crash("a")
      yield* waitFor(sub, is("ChildRestarted", "a"))
      yield* TestClock.adjust("10 seconds")
      yield* p.crash("a")
      const error = yield* Effect.flip(sup.join)
      assert.instanceOf(error, SupervisorEscalation)
    }))

  it.effect("a group restart counts once in the snapshot and the metric, as in the intensity", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make({
        name: "group-once",
        strategy: "oneForAll",
        maxRestarts: 1,
        children: [p.child("a"), p.child("b"), p.child("c")]
      })
      const sub = yield* sup.subscribe
      yield* p.crash("b")
      yield* waitFor(sub, is("ChildRestarted", "c"))
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.restarts, 1)
      assert.deepStrictEqual(snap.children.map((c) => c.restarts), [1, 1, 1])
      const counted = yield* Metric.value(
        Metric.withAttributes(Supervisor.metrics.restarts, { supervisor: "group-once" })
      )
      assert.strictEqual(counted.count, 1)
      assert.strictEqual(snap.status, "running") // one restart within maxRestarts 1
    }))
})

describe("Supervisor events and names", () => {
  it.effect("a subscriber that stops reading cannot grow the supervisor's memory: the buffer slides and counts what it dropped", () =>
    Effect.gen(function*() {
      const p = makeProbe()
      const sup = yield* Supervisor.make(
        { maxRestarts: 10_000, within: "1 hour", eventBuffer: 16, children: [p.child("a")] } as Supervisor.Options
      )
      const idle = yield* sup.subscribe // never read
      const reader = yield* sup.subscribe
      for (let i = 0; i < 200; i++) {
        yield* p.crash("a")
        yield* waitFor(reader, is("ChildRestarted", "a"))
      }
      // three events per restart; the idle subscriber keeps only the newest 16
      const kept = yield* PubSub.takeAll(idle)
      assert.strictEqual(kept.length, 16)
      assert.strictEqual(kept.at(-1)!._tag, "ChildRestarted")
      assert.isAtLeast((yield* sup.snapshot as Effect.Effect<{ eventsDropped?: number }>).eventsDropped ?? 0, 600 - 16)
    }))

  it.effect("an unnamed supervisor has one stable name (its metrics get one series, not one per supervisor)", () =>
    Effect.gen(function*() {
      const a = yield* Supervisor.make({ children: [] })
      const b = yield* Supervisor.make({ children: [] })
      assert.strictEqual(a.name, "supervisor")
      assert.strictEqual(b.name, "supervisor")
    }))
})
