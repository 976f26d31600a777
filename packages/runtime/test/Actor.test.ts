import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schedule, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Actor from "../src/Actor.ts"
import { ActorGone, AskTimeout, LinkedExit, MailboxFull, MessageRejected } from "../src/ActorError.ts"
import * as Protocol from "../src/Protocol.ts"
import * as Supervisor from "../src/Supervisor.ts"
import { is, waitFor } from "./helpers.ts"

class Overdrawn extends Schema.TaggedError<Overdrawn>()("Overdrawn", { balance: Schema.Number }) {}

const Account = Protocol.make({
  Deposit: { payload: Schema.Struct({ amount: Schema.Number }), success: Schema.Number },
  Withdraw: { payload: Schema.Struct({ amount: Schema.Number }), success: Schema.Number, error: Overdrawn },
  Balance: { success: Schema.Number },
  Crash: {},
  Stop: {},
  Block: { payload: Schema.Struct({ id: Schema.Number }) }
})

/** `gate` blocks Block handlers until opened (for mailbox tests). */
const account = (
  options: {
    readonly gate?: Deferred.Deferred<void>
    readonly capacity?: number
    readonly overflow?: "backpressure" | "drop" | "fail"
    readonly name?: string
  } = {}
) =>
  Actor.make({
    name: options.name,
    protocol: Account,
    initialState: 0,
    mailbox: { capacity: options.capacity, overflow: options.overflow },
    handlers: {
      Deposit: ({ amount }, balance) => Effect.succeed([balance + amount, balance + amount] as const),
      Withdraw: ({ amount }, balance) =>
        amount > balance
          ? Effect.fail(new Overdrawn({ balance }))
          : Effect.succeed([balance - amount, balance - amount] as const),
      Balance: (_, balance) => Effect.succeed([balance, balance] as const),
      Crash: () => Effect.die("crash requested"),
      Stop: (_, balance, ctx) => Effect.as(ctx.stop, [undefined, balance] as const),
      Block: (_, balance) =>
        Effect.as(
          options.gate === undefined ? Effect.void : Deferred.await(options.gate),
          [undefined, balance] as const
        )
    }
  })

describe("ask and tell", () => {
  it.effect("replies are typed; a handler's typed error goes to the asker and the actor keeps its state", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(account())
      yield* ref.tell({ _tag: "Deposit", amount: 10 })
      const after: number = yield* ref.ask({ _tag: "Deposit", amount: 5 })
      assert.strictEqual(after, 15)
      const err = yield* Effect.flip(ref.ask({ _tag: "Withdraw", amount: 100 }))
      assert.instanceOf(err, Overdrawn)
      assert.strictEqual((err as Overdrawn).balance, 15)
      assert.strictEqual(yield* ref.ask({ _tag: "Balance" }), 15)
    }))

  it.effect("a message that fails its Schema is rejected with the field and reason, and the actor keeps serving", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(account({ name: "acct" }))
      const bad = yield* Effect.flip(ref.ask({ _tag: "Deposit", amount: "ten" } as never))
      assert.instanceOf(bad, MessageRejected)
      assert.strictEqual((bad as MessageRejected).actor, "acct")
      assert.strictEqual((bad as MessageRejected).tag, "Deposit")
      assert.strictEqual((bad as MessageRejected).path, "amount")
      assert.match((bad as MessageRejected).issue, /number/)
      const unknown = yield* Effect.flip(ref.tell({ _tag: "Nope" } as never))
      assert.strictEqual(unknown._tag, "MessageRejected")
      assert.strictEqual((unknown as MessageRejected).path, "_tag")
      const missing = yield* Effect.flip(ref.tell({ _tag: "Deposit" } as never))
      assert.strictEqual((missing as MessageRejected).issue, "Missing key")
      assert.strictEqual(yield* ref.ask({ _tag: "Deposit", amount: 1 }), 1)
      assert.strictEqual(Actor.stats(ref)?.rejected, 3)
      assert.strictEqual(Actor.stats(ref)?.incarnation, 1)
    }))

  it.effect("ask times out with AskTimeout (test clock)", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(account({ gate, name: "slow" }))
      yield* ref.tell({ _tag: "Block", id: 1 })
      const fiber = yield* Effect.forkChild(Effect.flip(ref.ask({ _tag: "Balance" }, { timeout: "100 millis" })))
      yield* TestClock.adjust("99 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const err = yield* Fiber.join(fiber)
      assert.instanceOf(err, AskTimeout)
      assert.deepStrictEqual([(err as AskTimeout).actor, (err as AskTimeout).tag, (err as AskTimeout).timeoutMs], [
        "slow",
        "Balance",
        100
      ])
      assert.isTrue((err as AskTimeout).retryable)
    }))

  it.live("ask times out with AskTimeout (real clock)", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(account({ gate }))
      yield* ref.tell({ _tag: "Block", id: 1 })
      const err = yield* Effect.flip(ref.ask({ _tag: "Balance" }, { timeout: "10 millis" }))
      assert.strictEqual(err._tag, "AskTimeout")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* ref.ask({ _tag: "Balance" }), 0)
    }))

  it.effect("ask to a stopped actor fails with ActorGone carrying the exit reason", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ref = yield* Actor.start(account({ name: "gone" })).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const err = yield* Effect.flip(ref.ask({ _tag: "Balance" }))
      assert.instanceOf(err, ActorGone)
      assert.strictEqual((err as ActorGone).reason._tag, "Shutdown")
      const tellErr = yield* Effect.flip(ref.tell({ _tag: "Deposit", amount: 1 }))
      assert.strictEqual(tellErr._tag, "ActorGone")
    }))

  it.effect("a crash fails the in-flight ask and later asks (unsupervised) with the failure reason", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(account())
      const err = yield* Effect.flip(ref.ask({ _tag: "Crash" }))
      assert.instanceOf(err, ActorGone)
      assert.strictEqual((err as ActorGone).reason._tag, "Failure")
      const later = yield* Effect.flip(ref.ask({ _tag: "Balance" }))
      assert.strictEqual((later as ActorGone).reason._tag, "Failure")
    }))
})

describe("Mailbox overflow", () => {
  it.effect("backpressure: tell waits while the mailbox is full", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(account({ gate, capacity: 2, overflow: "backpressure" }))
      yield* ref.tell({ _tag: "Block", id: 0 }) // taken by the actor, which blocks
      yield* Effect.yieldNow
      yield* ref.tell({ _tag: "Block", id: 1 })
      yield* ref.tell({ _tag: "Block", id: 2 })
      const waiting = yield* Effect.forkChild(ref.tell({ _tag: "Deposit", amount: 7 }))
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe())
      assert.strictEqual(Actor.stats(ref)?.mailboxSize, 2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(waiting)
      assert.strictEqual(yield* ref.ask({ _tag: "Balance" }), 7)
      assert.strictEqual(Actor.stats(ref)?.dropped, 0)
    }))

  it.effect("drop: messages beyond capacity are dropped and counted (visible in the supervisor snapshot)", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const spec = Actor.spec(account({ gate, capacity: 2, overflow: "drop" }), { id: "dropper" })
      const sup = yield* Supervisor.make({ children: [spec] })
      yield* spec.ref.tell({ _tag: "Block", id: 0 })
      yield* Effect.yieldNow
      for (let i = 1; i <= 5; i++) yield* spec.ref.tell({ _tag: "Deposit", amount: 1 })
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.children[0]!.actor?.dropped, 3)
      assert.strictEqual(snap.children[0]!.actor?.overflow, "drop")
      const full = yield* Effect.flip(spec.ref.ask({ _tag: "Balance" }))
      assert.strictEqual(full._tag, "MailboxFull")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* spec.ref.ask({ _tag: "Balance" }), 2)
    }))

  it.effect("fail: a full mailbox fails the send with MailboxFull", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(account({ gate, capacity: 1, overflow: "fail", name: "strict" }))
      yield* ref.tell({ _tag: "Block", id: 0 })
      yield* Effect.yieldNow
      yield* ref.tell({ _tag: "Deposit", amount: 1 })
      const err = yield* Effect.flip(ref.tell({ _tag: "Deposit", amount: 1 }))
      assert.instanceOf(err, MailboxFull)
      assert.deepStrictEqual([(err as MailboxFull).actor, (err as MailboxFull).capacity], ["strict", 1])
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* ref.ask({ _tag: "Balance" }), 1)
    }))
})

describe("Supervised actors", () => {
  it.effect("a restarted actor starts from its initial state; its ref keeps working", () =>
    Effect.gen(function*() {
      const spec = Actor.spec(account(), { id: "acct" })
      const sup = yield* Supervisor.make({ children: [spec] })
      const sub = yield* sup.subscribe
      yield* spec.ref.ask({ _tag: "Deposit", amount: 50 })
      const crash = yield* Effect.flip(spec.ref.ask({ _tag: "Crash" }))
      assert.strictEqual(crash._tag, "ActorGone")
      yield* waitFor(sub, is("ChildRestarted", "acct"))
      assert.strictEqual(yield* spec.ref.ask({ _tag: "Balance" }), 0)
      assert.strictEqual(Actor.stats(spec.ref)?.incarnation, 2)
    }))

  it.effect("asks sent during the restart window wait in the mailbox for the next incarnation", () =>
    Effect.gen(function*() {
      const spec = Actor.spec(account(), { id: "acct" })
      const sup = yield* Supervisor.make({ backoff: Schedule.spaced("1 second"), children: [spec] })
      const sub = yield* sup.subscribe
      yield* spec.ref.tell({ _tag: "Crash" })
      yield* waitFor(sub, is("ChildExited", "acct"))
      assert.strictEqual(Actor.stats(spec.ref)?.status, "restarting")
      const pending = yield* Effect.forkChild(spec.ref.ask({ _tag: "Deposit", amount: 3 }, { timeout: "10 seconds" }))
      yield* Effect.yieldNow
      assert.isUndefined(pending.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(pending), 3)
    }))

  it.effect("once the supervisor gives up, pending and later asks fail with ActorGone", () =>
    Effect.gen(function*() {
      const spec = Actor.spec(account(), { id: "acct", restart: "transient" })
      yield* Supervisor.make({ children: [spec] })
      yield* spec.ref.ask({ _tag: "Stop" })
      const final = yield* Actor.awaitStopped(spec.ref)
      assert.strictEqual(final._tag, "Normal")
      const err = yield* Effect.flip(spec.ref.ask({ _tag: "Balance" }))
      assert.strictEqual(err._tag, "ActorGone")
      assert.strictEqual((err as ActorGone).reason._tag, "Normal")
    }))
})

describe("monitor and link", () => {
  it.effect("monitor fires once, with the watched incarnation's exit reason", () =>
    Effect.gen(function*() {
      const spec = Actor.spec(account(), { id: "watched" })
      const sup = yield* Supervisor.make({ maxRestarts: 10, children: [spec] })
      const sub = yield* sup.subscribe
      let fired = 0
      const watch = yield* spec.ref.monitor()
      const watcher = yield* Effect.forkChild(Effect.tap(watch, () => Effect.sync(() => fired++)))
      yield* spec.ref.tell({ _tag: "Crash" })
      const reason = yield* Fiber.join(watcher)
      assert.strictEqual(reason._tag, "Failure")
      yield* waitFor(sub, is("ChildRestarted", "watched"))
      // A second crash of the next incarnation does not re-notify the first monitor.
      const second = yield* spec.ref.monitor()
      yield* spec.ref.tell({ _tag: "Crash" })
      assert.strictEqual((yield* second)._tag, "Failure")
      assert.strictEqual(fired, 1)
      assert.strictEqual((yield* watch)._tag, "Failure") // the same, settled value
    }))

  it.effect("monitor of a stopped actor fires at once with the final reason", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ref = yield* Actor.start(account()).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const watch = yield* ref.monitor()
      assert.strictEqual((yield* watch)._tag, "Shutdown")
    }))

  it.effect("link: an abnormal exit terminates the linked actor with a typed Linked reason", () =>
    Effect.gen(function*() {
      const a = Actor.spec(account({ name: "A" }), { id: "A" })
      const b = Actor.spec(account({ name: "B" }), { id: "B" })
      const sup = yield* Supervisor.make({ maxRestarts: 10, children: [a, b] })
      const sub = yield* sup.subscribe
      yield* b.ref.ask({ _tag: "Deposit", amount: 9 })
      yield* Actor.link(a.ref, b.ref)
      yield* a.ref.tell({ _tag: "Crash" })
      const events = yield* waitFor(sub, is("ChildRestarted", "B"))
      const bExit = events.find(is("ChildExited", "B"))
      assert.isDefined(bExit)
      const reason = bExit!._tag === "ChildExited" ? bExit!.reason : undefined
      assert.strictEqual(reason?._tag, "Linked")
      assert.strictEqual(reason?._tag === "Linked" && reason.peer, "A")
      const snap = yield* sup.snapshot
      assert.strictEqual(snap.children[1]!.lastExit?._tag, "Linked")
      assert.strictEqual(yield* b.ref.ask({ _tag: "Balance" }), 0) // B was restarted from its initial state
    }))

  it.effect("link: a normal exit does not propagate", () =>
    Effect.gen(function*() {
      const a = Actor.spec(account({ name: "A" }), { id: "A", restart: "transient" })
      const b = Actor.spec(account({ name: "B" }), { id: "B" })
      yield* Supervisor.make({ children: [a, b] })
      yield* Actor.link(a.ref, b.ref)
      yield* b.ref.ask({ _tag: "Deposit", amount: 4 })
      yield* a.ref.ask({ _tag: "Stop" })
      yield* Actor.awaitStopped(a.ref)
      assert.strictEqual(yield* b.ref.ask({ _tag: "Balance" }), 4)
      assert.strictEqual(Actor.stats(b.ref)?.incarnation, 1)
    }))

  it.effect("Actor.linked: the effect fails with LinkedExit when the actor crashes", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(account({ name: "peer" }))
      const fiber = yield* Effect.forkChild(Actor.linked(ref, Effect.never))
      yield* Effect.yieldNow
      yield* ref.tell({ _tag: "Crash" })
      const err = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(err, LinkedExit)
      assert.strictEqual((err as LinkedExit).peer, "peer")
      assert.strictEqual((err as LinkedExit).reason._tag, "Failure")
    }))

  it.effect("Actor.linked: a failing effect terminates the actor", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(account())
      yield* Effect.flip(Actor.linked(ref, Effect.fail("boom")))
      const reason = yield* Actor.awaitStopped(ref)
      assert.strictEqual(reason._tag, "Linked")
    }))
})
