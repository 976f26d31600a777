/**
 * Remote monitors: `NoProc` at once for a name nobody serves (asked of NATS, not of a membership table
 * that may not have heard anybody yet), and every watch a monitor registers released with its Scope.
 */
import { Actor, ActorError } from "@dspex/runtime"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Node from "../src/Node.ts"
import * as RemoteActor from "../src/RemoteActor.ts"
import { echoActor } from "./support/actors.ts"
import { clientLayer, elapsed, failure, heartbeatMs, isSubscribed, livenessMs, until } from "./support/effects.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"
import { type NodeProcess, spawnNode } from "./support/nodeProcess.ts"
import { Counter } from "./support/protocol.ts"

describe("remote monitors", () => {
  let nats: NatsServer
  let a: NodeProcess
  beforeAll(async () => {
    nats = await startNatsServer()
    a = await spawnNode({ nats: nats.url, name: "monitored-a", counter: "counter", heartbeatMs, livenessMs })
  }, 30_000)
  afterAll(async () => {
    await a?.kill("SIGKILL")
    await nats?.close()
  })

  it.live("a monitor on a name nobody serves completes at once with NoProc", () =>
    Effect.gen(function*() {
      const nobody = yield* RemoteActor.ref("nobody", Counter)
      const { exit, ms } = yield* elapsed(Effect.scoped(Effect.flatten(nobody.monitor())))
      expect(exit._tag).toBe("Success")
      const reason = exit._tag === "Success" ? exit.value : undefined
      expect(reason?._tag).toBe("NoProc")
      expect(reason?._tag === "NoProc" && [reason.actor, reason.message]).toEqual([
        "nobody",
        expect.stringContaining("no node serves nobody")
      ])
      // NATS answers "no responders" in one round trip: well before a liveness timeout
      expect(ms).toBeLessThan(livenessMs / 2)
      const node = yield* Node.Node
      expect(node.stats().probes).toBe(0)
    }).pipe(Effect.provide(clientLayer(nats.url))), 15_000)

  it.live(
    "a node that has heard nobody yet does not take its empty table for noproc: the probe finds the server",
    () =>
      Effect.gen(function*() {
        // a fresh node: the monitor is registered before any heartbeat could have arrived
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
        const down = yield* Effect.forkChild(Effect.flatten(counter.monitor()))
        yield* Effect.sleep(`${livenessMs + 500} millis`)
        expect(down.pollUnsafe()).toBeUndefined()
        // and it watches the right incarnation: a crash is what it reports
        expect(failure(yield* Effect.exit(counter.ask({ _tag: "Crash" })))).toBeInstanceOf(ActorError.ActorGone)
        const reason = yield* Fiber.join(down)
        expect([reason._tag, reason._tag === "Failure" && reason.message]).toEqual([
          "Failure",
          expect.stringContaining("crash requested")
        ])
      }).pipe(Effect.provide(clientLayer(nats.url, { name: "fresh-client" }))),
    15_000
  )

  it.live(
    "a monitor's watches are released when its Scope closes, also the monitor Actor.link drops",
    () =>
      Effect.gen(function*() {
        const node = yield* Node.Node
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
        const exitSubject = "dspex.exit.counter"
        expect(yield* isSubscribed(exitSubject)).toBe(false)

        // two monitors share one exit subscription; it goes with their scope
        yield* Effect.scoped(
          Effect.gen(function*() {
            yield* Effect.asVoid(counter.monitor())
            yield* Effect.asVoid(counter.monitor())
            expect(yield* isSubscribed(exitSubject)).toBe(true)
          })
        )
        expect(yield* isSubscribed(exitSubject)).toBe(false)

        // Actor.link races a monitor on each side; the remote side's monitor goes with the link's scope
        yield* Effect.scoped(
          Effect.gen(function*() {
            const local = yield* Actor.start(echoActor)
            yield* Actor.link(local, counter)
            expect(yield* isSubscribed(exitSubject)).toBe(true)
          })
        )
        expect(yield* isSubscribed(exitSubject)).toBe(false)

        // and the node-down watches: one per monitor on the counter's node, none once the scope is closed
        yield* until(() => node.servers("counter").length === 1, 5_000, "membership lists the counter's node")
        const baseline = node.stats().watchers
        yield* Effect.scoped(
          Effect.gen(function*() {
            yield* Effect.asVoid(counter.monitor())
            yield* Effect.asVoid(counter.monitor())
            yield* until(
              () => node.stats().watchers === baseline + 2 && node.stats().probes === 0,
              3_000,
              "both monitors watch the node"
            )
          })
        )
        expect(node.stats()).toMatchObject({ watchers: baseline, probes: 0 })
      }).pipe(Effect.provide(clientLayer(nats.url))),
    15_000
  )
})
