/**
 * Node membership on its own (a real nats-server, this process as the node, other nodes faked by
 * publishing their heartbeats and leaves): the events stream is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Codec from "../src/Codec.ts"
import * as NatsConnection from "../src/NatsConnection.ts"
import * as Node from "../src/Node.ts"
import { clientLayer, until } from "./support/effects.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

describe("Node", () => {
  let nats: NatsServer
  beforeAll(async () => {
    nats = await startNatsServer()
  }, 30_000)
  afterAll(async () => {
    await nats?.close()
  })

  it.live(
    "a subscriber that stops reading events loses its oldest ones (counted) instead of growing memory; one that reads loses none",
    () =>
      Effect.gen(function*() {
        const node = yield* Node.Node
        const connection = yield* NatsConnection.NatsConnection
        // one subscriber takes its first event and never reads again; another reads everything
        const stuck = yield* Effect.forkChild(Stream.runForEach(node.events, () => Effect.never))
        const seen: Array<Node.MemberEvent> = []
        const reader = yield* Effect.forkChild(Stream.runForEach(node.events, (e) => Effect.sync(() => seen.push(e))))
        yield* Effect.sleep("100 millis")

        // 300 nodes join and leave, 5 at a time (a burst larger than the buffer would outrun any reader)
        const fakes = 300
        for (let i = 0; i < fakes; i++) {
          const id = `fake-${i}`
          connection.client.publish(
            `dspex.node.${id}.hb`,
            Codec.encodeAnnouncement({ id, name: id, version: "0.1.0", actors: [], metadata: {}, startedAt: 0 })
          )
          connection.client.publish(`dspex.node.${id}.leave`)
          if (i % 5 === 4) {
            yield* Effect.promise(() => connection.client.flush())
            yield* Effect.sleep("5 millis")
          }
        }
        yield* until(() => seen.length === 2 * fakes, 5_000, `the reading subscriber sees all ${2 * fakes} events`)

        // 600 events through a 16-event buffer: the stuck subscriber holds at most 16 (plus the one it took)
        const { droppedEvents, members } = node.stats()
        expect(members).toBe(1)
        expect(droppedEvents).toBeGreaterThanOrEqual(2 * fakes - 16 - 1)
        expect(droppedEvents).toBeLessThanOrEqual(2 * fakes)
        expect(seen.filter((e) => e._tag === "Joined")).toHaveLength(fakes)
        expect(seen.filter((e) => e._tag === "Down" && e.down.reason === "left")).toHaveLength(fakes)
        yield* Fiber.interrupt(stuck)
        yield* Fiber.interrupt(reader)
      }).pipe(Effect.provide(clientLayer(nats.url, { eventBuffer: 16 }))),
    15_000
  )

  it("a node id is one subject token", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(Node.make({ id: "a.b" })).pipe(Effect.provide(NatsConnection.layer({ servers: nats.url })))
      )
      expect(exit._tag).toBe("Failure")
    }).pipe(Effect.runPromise))
})
