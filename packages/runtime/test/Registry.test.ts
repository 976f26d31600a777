import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema, Scope } from "effect"
import * as Actor from "../src/Actor.ts"
import * as Protocol from "../src/Protocol.ts"
import * as Registry from "../src/Registry.ts"
import * as Supervisor from "../src/Supervisor.ts"
import { is, waitFor } from "./helpers.ts"

const Ping = Protocol.make({ Ping: { success: Schema.Literal("pong") }, Crash: {} })
const Other = Protocol.make({ Ping: { success: Schema.Literal("pong") } })

const pinger = (name?: string) =>
  Actor.make({
    name,
    protocol: Ping,
    initialState: undefined,
    handlers: {
      Ping: () => Effect.succeed(["pong", undefined] as const),
      Crash: () => Effect.die("crash")
    }
  })

describe("Registry", () => {
  it.effect("register, whereis (typed by protocol), unregister", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(pinger())
      yield* Registry.register("p", ref)
      const found = yield* Registry.whereis("p", Ping)
      assert.isTrue(Option.isSome(found))
      const reply: "pong" = yield* Option.getOrThrow(found).ask({ _tag: "Ping" })
      assert.strictEqual(reply, "pong")
      assert.isTrue(Option.isNone(yield* Registry.whereis("p", Other)))
      assert.isTrue(Option.isNone(yield* Registry.whereis("nobody")))
      yield* Registry.unregister("p")
      assert.isTrue(Option.isNone(yield* Registry.whereis("p")))
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("a name held by a live actor cannot be taken; the same ref may re-register", () =>
    Effect.gen(function*() {
      const a = yield* Actor.start(pinger())
      const b = yield* Actor.start(pinger())
      yield* Registry.register("x", a)
      yield* Registry.register("x", a)
      const err = yield* Effect.flip(Registry.register("x", b))
      assert.strictEqual(err._tag, "NameTaken")
      assert.strictEqual(err.name, "x")
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("names and group memberships are dropped when the actor stops for good", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ref = yield* Actor.start(pinger()).pipe(Scope.provide(scope))
      const keep = yield* Actor.start(pinger())
      yield* Registry.register("temp", ref)
      yield* Registry.join("workers", ref)
      yield* Registry.join("workers", keep)
      assert.strictEqual((yield* Registry.members("workers")).length, 2)
      yield* Scope.close(scope, Exit.void)
      yield* Effect.yieldNow
      assert.isTrue(Option.isNone(yield* Registry.whereis("temp")))
      const members = yield* Registry.members("workers")
      assert.deepStrictEqual(members, [keep])
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("a supervised actor keeps its name across restarts and loses it when terminated", () =>
    Effect.gen(function*() {
      const spec = Actor.spec(pinger("svc"), { id: "svc" })
      const sup = yield* Supervisor.make({ children: [spec] })
      const sub = yield* sup.subscribe
      yield* Registry.register("svc", spec.ref)
      yield* spec.ref.tell({ _tag: "Crash" })
      yield* waitFor(sub, is("ChildRestarted", "svc"))
      const again = yield* Registry.whereis("svc", Ping)
      assert.isTrue(Option.isSome(again))
      assert.strictEqual(yield* Option.getOrThrow(again).ask({ _tag: "Ping" }), "pong")
      yield* sup.terminateChild("svc")
      yield* Effect.yieldNow
      assert.isTrue(Option.isNone(yield* Registry.whereis("svc")))
      assert.deepStrictEqual(yield* Effect.service(Registry.Registry).pipe(Effect.flatMap((r) => r.names)), [])
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("join, leave, members", () =>
    Effect.gen(function*() {
      const a = yield* Actor.start(pinger())
      const b = yield* Actor.start(pinger())
      yield* Registry.join("g", a)
      yield* Registry.join("g", b)
      yield* Registry.join("g", a)
      assert.sameMembers([...(yield* Registry.members("g"))], [a, b])
      yield* Registry.leave("g", a)
      assert.deepStrictEqual(yield* Registry.members("g"), [b])
      assert.deepStrictEqual(yield* Registry.members("empty"), [])
    }).pipe(Effect.provide(Registry.layer)))
})
