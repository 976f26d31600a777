/**
 * A DSPex node in its own process, for tests and the benchmark:
 *
 *   node test/support/node.ts --nats nats://127.0.0.1:PORT --name worker-a [--counter counter] [--echo echo]
 *     [--raw SUBJECT] [--heartbeat MS] [--liveness MS]
 *
 * serves a supervised counter and/or an echo actor under the given cluster names (and, with --raw, a plain
 * NATS responder that echoes each request's `text` in a DSPex reply envelope), then prints one JSON line
 * `{"ready":true,"node":<id>,"name":..,"pid":..}`. SIGTERM leaves gracefully; a failure to start prints
 * the error to stderr and exits with code 1.
 */
import { Actor, Supervisor } from "@dspex/runtime"
import { Cause, Effect, Fiber, Layer } from "effect"
import { parseArgs } from "node:util"
import { NatsConnection, Node, RemoteActor } from "../../src/index.ts"
import { counterActor, echoActor } from "./actors.ts"

const { values } = parseArgs({
  options: {
    nats: { type: "string" },
    name: { type: "string", default: `node-${process.pid}` },
    counter: { type: "string" },
    echo: { type: "string" },
    raw: { type: "string" },
    heartbeat: { type: "string", default: "200" },
    liveness: { type: "string", default: "1000" }
  }
})
const name = values.name!

const program = Effect.gen(function*() {
  const node = yield* Node.Node
  const nats = yield* NatsConnection.NatsConnection
  const children = []
  const counter = values.counter === undefined ? undefined : Actor.spec(counterActor(name), { id: "counter" })
  const echo = values.echo === undefined ? undefined : Actor.spec(echoActor, { id: "echo" })
  if (counter !== undefined) children.push(counter)
  if (echo !== undefined) children.push(echo)
  yield* Supervisor.make({ name: `${name}-sup`, children, maxRestarts: 100, within: "1 second" })
  if (counter !== undefined) yield* RemoteActor.serve(values.counter!, counter.ref)
  if (echo !== undefined) yield* RemoteActor.serve(values.echo!, echo.ref)
  if (values.raw !== undefined) {
    const decoder = new TextDecoder()
    const sub = nats.client.subscribe(values.raw, {
      callback: (err, msg) => {
        if (err !== null) return
        const request = JSON.parse(decoder.decode(msg.data)) as { text: string }
        msg.respond(JSON.stringify({ t: "ok", v: request.text }))
      }
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => sub.unsubscribe()))
  }
  yield* Effect.promise(() => nats.client.flush())
  process.stdout.write(`${JSON.stringify({ ready: true, node: node.id, name, pid: process.pid })}\n`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(
    Node.layer({ name, heartbeatInterval: Number(values.heartbeat), livenessTimeout: Number(values.liveness) }).pipe(
      Layer.provideMerge(NatsConnection.layer(values.nats === undefined ? { name } : { servers: values.nats, name }))
    )
  )
)

const fiber = Effect.runFork(program)
fiber.addObserver((exit) => {
  if (exit._tag === "Failure" && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
process.once("SIGTERM", () => void Effect.runFork(Fiber.interrupt(fiber)))
process.once("SIGINT", () => void Effect.runFork(Fiber.interrupt(fiber)))
