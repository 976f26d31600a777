/**
 * Remote actors against a real nats-server (started here on a free port, never the machine's 4222) with
 * nodes in their own processes (test/support/node.ts). Nodes heartbeat every 200 ms and count as down
 * after 1 s of silence, so liveness checks stay short.
 */
import { ActorError, ChildSpec, Protocol, Supervisor, type SupervisorEvent } from "@dspex/runtime"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, PubSub, Schema } from "effect"
import * as Codec from "../src/Codec.ts"
import { NatsUnavailable, NoResponders, RemoteReplyInvalid } from "../src/Errors.ts"
import * as NatsConnection from "../src/NatsConnection.ts"
import * as Node from "../src/Node.ts"
import * as RemoteActor from "../src/RemoteActor.ts"
import { clientLayer, elapsed, eventually, failure, heartbeatMs, livenessMs } from "./support/effects.ts"
import { freePort, type NatsServer, startNatsServer } from "./support/natsServer.ts"
import { type NodeProcess, spawnNode } from "./support/nodeProcess.ts"
import { Counter, Echo, Overdrawn } from "./support/protocol.ts"

describe("RemoteActor across processes", () => {
  let nats: NatsServer
  let a: NodeProcess
  let b: NodeProcess
  beforeAll(async () => {
    nats = await startNatsServer()
    ;[a, b] = await Promise.all([
      spawnNode({ nats: nats.url, name: "worker-a", counter: "counter", heartbeatMs, livenessMs }),
      spawnNode({ nats: nats.url, name: "worker-b", echo: "echo", heartbeatMs, livenessMs })
    ])
  }, 30_000)
  afterAll(async () => {
    await Promise.all([a?.kill("SIGKILL"), b?.kill("SIGKILL")])
    await nats?.close()
  })

  it.live(
    "tell and ask reach actors in other processes, with replies typed by the protocol",
    () =>
      Effect.gen(function*() {
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
        const before = yield* counter.ask({ _tag: "Get" })
        yield* counter.tell({ _tag: "Add", n: 2 })
        yield* counter.tell({ _tag: "Add", n: 3 })
        expect(yield* counter.ask({ _tag: "Get" })).toBe(before + 5)
        const who = yield* counter.ask({ _tag: "Whoami" })
        expect([who.pid, who.node]).toEqual([a.pid, "worker-a"])
        const echo = yield* RemoteActor.ref("echo", Echo)
        expect(yield* echo.ask({ _tag: "Echo", text: "héllo ✓" })).toBe("héllo ✓")
      }).pipe(Effect.provide(clientLayer(nats.url))),
    15_000
  )

  it.live("a handler's typed error, an ask timeout and no responders are typed errors", () =>
    Effect.gen(function*() {
      const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
      const overdrawn = failure(yield* Effect.exit(counter.ask({ _tag: "Take", n: 1_000_000 })))
      expect(overdrawn).toBeInstanceOf(Overdrawn)
      expect((overdrawn as Overdrawn).requested).toBe(1_000_000)

      // (the actor stays busy with the sleep for a while after the ask gave up)
      const slow = failure(yield* Effect.exit(counter.ask({ _tag: "Sleep", ms: 600 }, { timeout: "200 millis" })))
      expect(slow).toBeInstanceOf(ActorError.AskTimeout)
      expect([(slow as ActorError.AskTimeout).tag, (slow as ActorError.AskTimeout).timeoutMs]).toEqual(["Sleep", 200])

      // nobody serves "nobody": NATS says so at once, long before the 5 s timeout
      const nobody = yield* RemoteActor.ref("nobody", Counter, { timeout: "5 seconds" })
      const { exit, ms } = yield* elapsed(nobody.ask({ _tag: "Get" }))
      expect(ms).toBeLessThan(2_000)
      const unreachable = failure(exit)
      expect(unreachable).toBeInstanceOf(ActorError.ActorUnreachable)
      const noResponders = failure(yield* Effect.exit(nobody.askRemote({ _tag: "Get" })))
      expect(noResponders).toBeInstanceOf(NoResponders)
      expect({ ...(unreachable as ActorError.ActorUnreachable) }).toEqual({
        _tag: "ActorUnreachable",
        actor: "nobody",
        transport: "NoResponders",
        detail: (noResponders as NoResponders).message,
        retryable: true
      })
      // the counter still answers after all that
      expect(typeof (yield* counter.ask({ _tag: "Get" }))).toBe("number")
    }).pipe(Effect.provide(clientLayer(nats.url))), 15_000)

  it.live(
    "a request that fails the protocol Schema off the wire is MessageRejected; the actor keeps running",
    () =>
      Effect.gen(function*() {
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
        const before = yield* counter.ask({ _tag: "Whoami" })
        const count = yield* counter.ask({ _tag: "Get" })

        // a client that bypasses the Schema (another language, a bug) sends garbage straight to the subject
        const connection = yield* NatsConnection.NatsConnection
        for (const payload of [`{"_tag":"Add","n":"two"}`, `{"_tag":"Reset"}`, "not json"]) {
          const reply = yield* Effect.promise(() =>
            connection.client.request("dspex.actor.counter", payload, { timeout: 2_000 })
          )
          const decoded = Codec.decodeReply(Counter, "counter", "Add", reply.data)
          expect(decoded._tag).toBe("runtime")
          expect(decoded._tag === "runtime" && decoded.error).toBeInstanceOf(ActorError.MessageRejected)
        }
        const first = yield* Effect.promise(() =>
          connection.client.request("dspex.actor.counter", `{"_tag":"Add","n":"two"}`, { timeout: 2_000 })
        )
        const rejected = Codec.decodeReply(Counter, "counter", "Add", first.data)
        expect(
          rejected._tag === "runtime" && [rejected.error._tag, (rejected.error as ActorError.MessageRejected).path]
        ).toEqual(["MessageRejected", "n"])

        // a node on another protocol version: its messages pass its own Schema, the server's Schema rejects them
        const CounterV2 = Protocol.make({ Add: { payload: Schema.Struct({ n: Schema.String }) } })
        const v2 = yield* RemoteActor.ref("counter", CounterV2, { timeout: "2 seconds" })
        const v2Error = failure(yield* Effect.exit(v2.ask({ _tag: "Add", n: "2" })))
        expect(v2Error).toBeInstanceOf(ActorError.MessageRejected)
        expect((v2Error as ActorError.MessageRejected).path).toBe("n")

        // same incarnation, same state: nothing crashed
        expect(yield* counter.ask({ _tag: "Whoami" })).toEqual(before)
        expect(yield* counter.ask({ _tag: "Get" })).toBe(count)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    15_000
  )

  it.live(
    "a reply that does not fit the protocol is ActorUnreachable (not retryable) from ask, RemoteReplyInvalid from askRemote",
    () =>
      Effect.gen(function*() {
        // a responder on another protocol version (or not DSPex at all) answers with something undecodable
        const connection = yield* NatsConnection.NatsConnection
        const sub = connection.client.subscribe("dspex.actor.garbled", {
          callback: (err, msg) => {
            if (err === null) msg.respond(`{"t":"ok","v":"forty-two"}`)
          }
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => sub.unsubscribe()))
        const garbled = yield* RemoteActor.ref("garbled", Counter, { timeout: "2 seconds" })
        const unreachable = failure(yield* Effect.exit(garbled.ask({ _tag: "Get" })))
        expect(unreachable).toBeInstanceOf(ActorError.ActorUnreachable)
        const invalid = failure(yield* Effect.exit(garbled.askRemote({ _tag: "Get" })))
        expect(invalid).toBeInstanceOf(RemoteReplyInvalid)
        expect({ ...(unreachable as ActorError.ActorUnreachable) }).toEqual({
          _tag: "ActorUnreachable",
          actor: "garbled",
          transport: "RemoteReplyInvalid",
          detail: (invalid as RemoteReplyInvalid).message,
          retryable: false
        })
      }).pipe(Effect.scoped, Effect.provide(clientLayer(nats.url))),
    15_000
  )

  it.live(
    "a remote monitor sees the actor's incarnation exit; the node's supervisor restarts it in place",
    () =>
      Effect.gen(function*() {
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "2 seconds" })
        const before = yield* counter.ask({ _tag: "Whoami" })
        const exited = yield* counter.monitor()
        const crashed = failure(yield* Effect.exit(counter.ask({ _tag: "Crash" })))
        expect(crashed).toBeInstanceOf(ActorError.ActorGone)
        const reason = yield* exited
        expect(reason._tag).toBe("Failure")
        expect(reason._tag === "Failure" && reason.message).toContain("crash requested")
        const after = yield* eventually(counter.ask({ _tag: "Whoami" }), 3_000)
        expect(after.pid).toBe(before.pid)
        expect(after.startedAt).not.toBe(before.startedAt)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    15_000
  )

  it.live(
    "membership lists both nodes with their actors; the NATS services API discovers them",
    () =>
      Effect.gen(function*() {
        const members = yield* eventually(
          Effect.flatMap(Node.members(), (ms) => (ms.some((m) =>
              m.name === "worker-a"
            ) && ms.some((m) => m.name === "worker-b")
            ? Effect.succeed(ms)
            : Effect.fail("not yet"))),
          3_000
        )
        const byName = new Map(members.map((m) => [m.name, m]))
        expect(byName.get("worker-a")?.actors).toEqual(["counter"])
        expect(byName.get("worker-a")?.id).toBe(a.nodeId)
        expect(byName.get("worker-b")?.actors).toEqual(["echo"])
        expect(byName.get("test-client")?.self).toBe(true)
        const node = yield* Node.Node
        expect((yield* node.whereis("echo")).map((m) => m.name)).toEqual(["worker-b"])

        const services = yield* node.discover("500 millis")
        const announced = new Map(services.map((s) => [s.metadata?.node_name, s]))
        expect(announced.get("worker-a")?.name).toBe("dspex-node")
        expect(announced.get("worker-a")?.metadata?.actors).toBe("counter")
        expect(announced.get("worker-a")?.metadata?.node_id).toBe(a.nodeId)
        expect(announced.get("worker-b")?.metadata?.actors).toBe("echo")
      }).pipe(Effect.provide(clientLayer(nats.url))),
    15_000
  )

  it.live(
    "SIGKILL a node: its remote monitor fires within the liveness timeout and a supervisor here starts the work again",
    () =>
      Effect.gen(function*() {
        const spawned: Array<NodeProcess> = []
        const downs: Array<{ readonly reason: ActorError.ExitReason; readonly at: number }> = []
        const firstUp = yield* Deferred.make<void>()
        const secondUp = yield* Deferred.make<void>()
        // the child owns a node process serving "worker"; when the remote monitor fires it crashes, and the
        // supervisor's restart spawns a fresh node
        const workerNode = ChildSpec.withInit(
          "worker-node",
          Effect.acquireRelease(
            Effect.promise(() =>
              spawnNode({
                nats: nats.url,
                name: `worker-c${spawned.length + 1}`,
                counter: "worker",
                heartbeatMs,
                livenessMs
              })
            ),
            (proc) => Effect.promise(() => proc.kill("SIGKILL"))
          ),
          (proc) =>
            Effect.gen(function*() {
              spawned.push(proc)
              const ref = yield* RemoteActor.ref("worker", Counter, { timeout: "2 seconds" })
              const down = yield* ref.monitor()
              yield* Deferred.succeed(spawned.length === 1 ? firstUp : secondUp, undefined)
              const reason = yield* down
              downs.push({ reason, at: Date.now() })
              return yield* Effect.fail(`node ${proc.name} is down`)
            })
        )
        const supervisor = yield* Supervisor.make({
          name: "remote-work",
          children: [workerNode],
          maxRestarts: 3,
          within: "30 seconds"
        })
        const events = yield* supervisor.subscribe
        yield* Deferred.await(firstUp)
        const worker = yield* RemoteActor.ref("worker", Counter, { timeout: "2 seconds" })
        expect((yield* worker.ask({ _tag: "Whoami" })).pid).toBe(spawned[0]!.pid)

        const killedAt = Date.now()
        yield* Effect.promise(() => spawned[0]!.kill("SIGKILL"))
        yield* Deferred.await(secondUp)
        const detectedIn = downs[0]!.at - killedAt
        expect(detectedIn).toBeLessThanOrEqual(livenessMs + 600)
        // OTP's noconnection: the reason names the node, not a Failure wrapping a membership error
        const reason = downs[0]!.reason
        expect(reason._tag).toBe("NodeDown")
        expect(reason._tag === "NodeDown" && [reason.node, reason.nodeName]).toEqual([spawned[0]!.nodeId, "worker-c1"])
        expect(reason._tag === "NodeDown" && reason.message).toContain("stopped heartbeating")

        const seen: Array<SupervisorEvent.SupervisorEvent> = []
        while (!seen.some((e) => e._tag === "ChildRestarted")) seen.push(yield* PubSub.take(events))
        const who = yield* eventually(worker.ask({ _tag: "Whoami" }), 5_000)
        expect(who.pid).toBe(spawned[1]!.pid)
        expect(who.pid).not.toBe(spawned[0]!.pid)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    30_000
  )

  it.live("a node that leaves gracefully is seen at once, as a Shutdown", () =>
    Effect.gen(function*() {
      const echo = yield* RemoteActor.ref("echo", Echo)
      expect(yield* echo.ask({ _tag: "Echo", text: "still here" })).toBe("still here")
      const node = yield* Node.Node
      const nodeDown = yield* node.watch(b.nodeId)
      const actorDown = yield* echo.monitor()
      const stoppedAt = Date.now()
      yield* Effect.promise(() => b.kill("SIGTERM"))
      expect((yield* actorDown)._tag).toBe("Shutdown")
      const down = yield* nodeDown
      expect(down.reason).toBe("left")
      // well before the liveness timeout would have noticed the silence
      expect(Date.now() - stoppedAt).toBeLessThan(livenessMs)
      expect((yield* Node.members()).some((m) => m.name === "worker-b")).toBe(false)
    }).pipe(Effect.provide(clientLayer(nats.url))), 15_000)
})

describe("RemoteActor through a NATS outage", () => {
  let nats: NatsServer
  let d: NodeProcess
  beforeAll(async () => {
    nats = await startNatsServer()
    d = await spawnNode({ nats: nats.url, name: "worker-d", counter: "counter", heartbeatMs, livenessMs })
  }, 30_000)
  afterAll(async () => {
    await d?.kill("SIGKILL")
    await nats?.close()
  })

  it.live(
    "asks fail fast while NATS is down and work again once it is back, without restarting the actor",
    () =>
      Effect.gen(function*() {
        const connection = yield* NatsConnection.NatsConnection
        const counter = yield* RemoteActor.ref("counter", Counter, { timeout: "3 seconds" })
        yield* counter.tell({ _tag: "Add", n: 7 })
        const before = yield* counter.ask({ _tag: "Whoami" })
        expect(yield* counter.ask({ _tag: "Get" })).toBe(7)
        const monitor = yield* Effect.forkChild(Effect.scoped(Effect.flatten(counter.monitor())))
        const nobody = yield* RemoteActor.ref("nobody", Counter)
        // an ask in flight when NATS goes away fails at once, not after its 3 s timeout
        const inFlight = yield* Effect.forkChild(elapsed(counter.askRemote({ _tag: "Sleep", ms: 2_500 })))
        yield* Effect.sleep("100 millis")

        yield* Effect.promise(() => nats.stop())
        yield* eventually(
          Effect.suspend(() => (connection.isConnected() ? Effect.fail("still connected") : Effect.void)),
          2_000
        )
        const lost = yield* Fiber.join(inFlight)
        expect(lost.ms).toBeLessThan(2_000)
        expect(failure(lost.exit)).toBeInstanceOf(NatsUnavailable)

        const { exit, ms } = yield* elapsed(counter.ask({ _tag: "Get" }))
        expect(ms).toBeLessThan(200)
        const unreachable = failure(exit)
        expect(unreachable).toBeInstanceOf(ActorError.ActorUnreachable)
        expect(unreachable).not.toBeInstanceOf(ActorError.ActorGone)
        const unavailable = failure(yield* Effect.exit(counter.askRemote({ _tag: "Get" })))
        expect(unavailable).toBeInstanceOf(NatsUnavailable)
        expect((unavailable as NatsUnavailable).url).toBe(nats.url)
        expect({ ...(unreachable as ActorError.ActorUnreachable) }).toEqual({
          _tag: "ActorUnreachable",
          actor: "counter",
          transport: "NatsUnavailable",
          detail: (unavailable as NatsUnavailable).message,
          retryable: true
        })
        expect((unreachable as ActorError.ActorUnreachable).message).toContain("counter")
        expect(failure(yield* Effect.exit(counter.tellRemote({ _tag: "Add", n: 1 })))).toBeInstanceOf(NatsUnavailable)
        const toldUnreachable = failure(yield* Effect.exit(counter.tell({ _tag: "Add", n: 1 })))
        expect(toldUnreachable).toBeInstanceOf(ActorError.ActorUnreachable)
        expect([
          (toldUnreachable as ActorError.ActorUnreachable).transport,
          (toldUnreachable as ActorError.ActorUnreachable).retryable
        ]).toEqual(["NatsUnavailable", true])

        // only NATS can say that nobody serves a name: a monitor registered while it is down waits for it
        const nobodyDown = yield* Effect.forkChild(Effect.scoped(Effect.flatten(nobody.monitor())))

        // stay down longer than the liveness timeout: nobody may be declared dead for a NATS outage
        yield* Effect.sleep(`${livenessMs + 500} millis`)
        expect(nobodyDown.pollUnsafe()).toBeUndefined()
        yield* Effect.promise(() => nats.start())
        const noProc = yield* Fiber.join(nobodyDown)
        expect(noProc._tag).toBe("NoProc")
        expect(noProc._tag === "NoProc" && noProc.actor).toBe("nobody")

        expect(yield* eventually(counter.ask({ _tag: "Get" }), 5_000)).toBe(7)
        expect(yield* counter.ask({ _tag: "Whoami" })).toEqual(before)
        yield* Effect.sleep(`${livenessMs} millis`)
        expect(monitor.pollUnsafe()).toBeUndefined()
        expect((yield* Node.members()).some((m) => m.name === "worker-d")).toBe(true)
      }).pipe(Effect.provide(clientLayer(nats.url))),
    30_000
  )
})

describe("NatsConnection at start", () => {
  it.live("an unreachable NATS is a NatsUnavailable naming the URL, not a hang", () =>
    Effect.gen(function*() {
      const url = `nats://127.0.0.1:${yield* Effect.promise(freePort)}`
      const { exit, ms } = yield* elapsed(
        Effect.scoped(NatsConnection.make({ servers: url, connectTimeout: "1 second" }))
      )
      const error = failure(exit)
      expect(error).toBeInstanceOf(NatsUnavailable)
      expect((error as NatsUnavailable).url).toBe(url)
      expect((error as NatsUnavailable).message).toContain(url)
      expect(ms).toBeLessThan(3_000)
    }), 10_000)

  it.live("without servers it connects to DSPEX_NATS_URL", () =>
    Effect.gen(function*() {
      const url = `nats://127.0.0.1:${yield* Effect.promise(freePort)}`
      const layer = NatsConnection.layer({ connectTimeout: "1 second" }).pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DSPEX_NATS_URL: url })))
      )
      const error = failure(yield* Effect.exit(Effect.provide(Effect.void, layer)))
      expect((error as NatsUnavailable).url).toBe(url)
    }), 10_000)
})
