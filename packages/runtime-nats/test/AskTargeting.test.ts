/**
 * Where a remote ask goes and what happens to it when its node dies: asks target one serving node from
 * membership (round-robin), so the moment membership declares that node down its pending asks fail with
 * `ActorGone` (reason `NodeDown`) instead of waiting out their timeout. Real nats-server, nodes in their
 * own processes, SIGKILLed.
 */
import { ActorError } from "@dspex/runtime"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import * as Codec from "../src/Codec.ts"
import * as NatsConnection from "../src/NatsConnection.ts"
import * as Node from "../src/Node.ts"
import * as RemoteActor from "../src/RemoteActor.ts"
import { clientLayer, elapsed, failure, heartbeatMs, livenessMs } from "./support/effects.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"
import { type NodeProcess, spawnNode } from "./support/nodeProcess.ts"
import { Counter } from "./support/protocol.ts"

/** Waits until this node's membership lists exactly `ids` as the servers of `actor`. */
const serversAre = (actor: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const node = yield* Node.Node
    const want = [...ids].sort().join(",")
    const listed = node.whereis(actor).pipe(Effect.map((ns) => ns.map((n) => n.id).sort().join(",")))
    const deadline = Date.now() + 5_000
    while ((yield* listed) !== want) {
      if (Date.now() > deadline) return yield* Effect.die(`membership does not list ${want} as the servers of ${actor}`)
      yield* Effect.sleep("20 millis")
    }
  })

describe("remote asks target a serving node", () => {
  let nats: NatsServer
  const procs: Array<NodeProcess> = []
  beforeAll(async () => {
    nats = await startNatsServer()
  }, 30_000)
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill("SIGKILL")))
    await nats?.close()
  })
  const spawn = async (name: string, counter: string) => {
    const proc = await spawnNode({ nats: nats.url, name, counter, heartbeatMs, livenessMs })
    procs.push(proc)
    return proc
  }

  it.live(
    "an ask pending on a node that is SIGKILLed fails with ActorGone(NodeDown) once membership declares the node down",
    () =>
      Effect.gen(function*() {
        const victim = yield* Effect.promise(() => spawn("victim-node", "victim"))
        const node = yield* Node.Node
        yield* serversAre("victim", [victim.nodeId])
        const ref = yield* RemoteActor.ref("victim", Counter, { timeout: "8 seconds" })
        const pending = yield* Effect.forkChild(elapsed(ref.ask({ _tag: "Sleep", ms: 7_000 })))
        yield* Effect.sleep("300 millis") // the request has reached the actor

        const killedAt = Date.now()
        yield* Effect.promise(() => victim.kill("SIGKILL"))
        const { exit } = yield* Fiber.join(pending)
        const failedAfter = Date.now() - killedAt
        const gone = failure(exit)
        expect(gone).toBeInstanceOf(ActorError.ActorGone)
        const reason = (gone as ActorError.ActorGone).reason
        expect(reason._tag === "NodeDown" && [reason.node, reason.nodeName]).toEqual([victim.nodeId, "victim-node"])
        // the liveness timeout, not the 8 s ask timeout (the benchmark measures the tight figure)
        expect(failedAfter).toBeLessThanOrEqual(livenessMs + 600)
        expect(node.stats().pendingAsks).toBe(0)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    20_000
  )

  it.live(
    "two nodes serve a name: asks alternate between them, and killing one fails only the asks it held",
    () =>
      Effect.gen(function*() {
        const [p, q] = yield* Effect.promise(() =>
          Promise.all([spawn("shared-p", "shared"), spawn("shared-q", "shared")])
        )
        yield* serversAre("shared", [p!.nodeId, q!.nodeId])
        const ref = yield* RemoteActor.ref("shared", Counter, { timeout: "8 seconds" })

        const answered = new Map<number, number>()
        for (let i = 0; i < 4; i++) {
          const who = yield* ref.ask({ _tag: "Whoami" })
          answered.set(who.pid, (answered.get(who.pid) ?? 0) + 1)
        }
        expect([answered.get(p!.pid), answered.get(q!.pid)]).toEqual([2, 2])

        // four slow asks: two on each node
        const asks = yield* Effect.forEach(
          [0, 1, 2, 3],
          () => Effect.forkChild(Effect.exit(ref.ask({ _tag: "Sleep", ms: 1_500 })))
        )
        yield* Effect.sleep("300 millis")
        const killedAt = Date.now()
        yield* Effect.promise(() => p!.kill("SIGKILL"))
        const exits = yield* Effect.forEach(asks, Fiber.join)
        const lost = exits.filter((e) => e._tag === "Failure").map(failure)
        const served = exits.filter((e) => e._tag === "Success").map((e) => e.value)
        expect(served).toEqual(["slept 1500 ms", "slept 1500 ms"])
        expect(lost).toHaveLength(2)
        for (const e of lost) {
          expect(e).toBeInstanceOf(ActorError.ActorGone)
          expect((e as ActorError.ActorGone).reason._tag === "NodeDown" && (e as ActorError.ActorGone).reason)
            .toMatchObject({ node: p!.nodeId })
        }
        // q's two sleeps run one after the other (3 s), so only p's failures bound this
        expect(Date.now() - killedAt).toBeLessThan(3_000 + 1_000)

        // the survivor takes every ask now
        for (let i = 0; i < 3; i++) expect((yield* ref.ask({ _tag: "Whoami" })).pid).toBe(q!.pid)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    30_000
  )

  it.live(
    "a stale membership entry (a node listed for a name it does not serve) costs a retry, not a failure",
    () =>
      Effect.gen(function*() {
        const r = yield* Effect.promise(() => spawn("stale-r", "stale"))
        // a node that heartbeats as a server of "stale" but subscribes to nothing
        const connection = yield* NatsConnection.NatsConnection
        const ghost = Codec.encodeAnnouncement({
          id: "ghost",
          name: "ghost",
          version: "0.1.0",
          actors: ["stale"],
          metadata: {},
          startedAt: Date.now()
        })
        yield* Effect.forkChild(
          Effect.sync(() => connection.client.publish("dspex.node.ghost.hb", ghost)).pipe(
            Effect.repeat(Schedule.spaced(`${heartbeatMs} millis`))
          )
        )
        yield* serversAre("stale", [r.nodeId, "ghost"])
        const ref = yield* RemoteActor.ref("stale", Counter, { timeout: "2 seconds" })
        for (let i = 0; i < 6; i++) {
          const { exit, ms } = yield* elapsed(ref.ask({ _tag: "Whoami" }))
          expect(exit._tag === "Success" && exit.value.pid).toBe(r.pid)
          expect(ms).toBeLessThan(1_000)
        }
      }).pipe(Effect.provide(clientLayer(nats.url))),
    20_000
  )
})
