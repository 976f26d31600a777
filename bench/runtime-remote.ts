/**
 * Remote `ask` over NATS loopback against a raw NATS request/reply with the same bytes, in the same run:
 * its own nats-server on a free port, and one node process (test/support/node.ts) serving both an echo
 * actor (`RemoteActor.serve`) and a plain NATS subscription that answers with the same reply envelope.
 * The client (this process) sends `{"_tag":"Echo","text":<payload>}` either way, one request at a time for
 * the latency percentiles, and `--concurrency` at once for throughput. Rounds alternate which side goes
 * first, and latencies are taken in alternating blocks of 100 calls so both sides see the same machine
 * load; latencies of all rounds are pooled.
 *
 * Then node death: `--kill-trials` times, a fresh node process serves a counter, an ask sleeping far
 * longer than the liveness timeout is sent to it, and the node is SIGKILLed; the figure is the time from
 * the kill to the ask's failure, against the client's liveness timeout (`--liveness`, heartbeats every
 * fifth of it).
 *
 *   node bench/runtime-remote.ts [--calls 2000] [--rounds 5] [--payload 256] [--concurrency 16] [--kill-trials 7] [--liveness 1000]
 */
import { ActorError } from "@dspex/runtime"
import { Effect, Exit, Fiber, Layer, ManagedRuntime } from "effect"
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { NatsConnection, Node, RemoteActor } from "../packages/runtime-nats/src/index.ts"
import { startNatsServer } from "../packages/runtime-nats/test/support/natsServer.ts"
import { spawnNode } from "../packages/runtime-nats/test/support/nodeProcess.ts"
import { Counter, Echo } from "../packages/runtime-nats/test/support/protocol.ts"
import { percentile, pool, report, round } from "./util.ts"

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
    payload: { type: "string", default: "256" },
    concurrency: { type: "string", default: "16" },
    "kill-trials": { type: "string", default: "7" },
    liveness: { type: "string", default: "1000" }
  }
})
const calls = Number(values.calls)
const rounds = Number(values.rounds)
const concurrency = Number(values.concurrency)
const text = "x".repeat(Number(values.payload))
const rawSubject = "bench.raw.echo"

const nats = await startNatsServer()
const server = await spawnNode({ nats: nats.url, name: "bench-server", echo: "echo", raw: rawSubject })
const runtime = ManagedRuntime.make(
  Node.layer({ name: "bench-client" }).pipe(
    Layer.provideMerge(NatsConnection.layer({ servers: nats.url, name: "bench-client" }))
  )
)

try {
  const { ref, client } = await runtime.runPromise(
    Effect.gen(function*() {
      const connection = yield* NatsConnection.NatsConnection
      return { ref: yield* RemoteActor.ref("echo", Echo, { timeout: "5 seconds" }), client: connection.client }
    })
  )
  const request = JSON.stringify({ _tag: "Echo", text })
  const decoder = new TextDecoder()

  /** DSPex: `n` sequential asks inside one Effect, each timed. */
  const dspexSequential = (n: number, out: Array<number>) =>
    runtime.runPromise(
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          const reply = yield* ref.ask({ _tag: "Echo", text })
          out.push(performance.now() - t0)
          if (reply.length !== text.length) throw new Error("bad echo")
        }
      })
    )

  /** Raw: the same request bytes, the same reply bytes, parsed as JSON. */
  const rawSequential = async (n: number, out: Array<number>) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const msg = await client.request(rawSubject, request, { timeout: 5_000 })
      const reply = JSON.parse(decoder.decode(msg.data)) as { v: string }
      out.push(performance.now() - t0)
      if (reply.v.length !== text.length) throw new Error("bad echo")
    }
  }

  const dspexConcurrent = (n: number) =>
    runtime.runPromise(
      Effect.forEach(Array.from({ length: n }, (_, i) => i), () => ref.ask({ _tag: "Echo", text }), {
        concurrency,
        discard: true
      })
    )
  const rawConcurrent = (n: number) =>
    pool(n, concurrency, async () => {
      const msg = await client.request(rawSubject, request, { timeout: 5_000 })
      JSON.parse(decoder.decode(msg.data))
    })

  // warm-up: JIT on both sides, subscriptions, the muxed reply inbox
  for (let i = 0; i < 2; i++) {
    await dspexSequential(500, [])
    await rawSequential(500, [])
    await dspexConcurrent(1000)
    await rawConcurrent(1000)
  }

  const ours: Array<number> = []
  const theirs: Array<number> = []
  const oursThroughput: Array<number> = []
  const theirsThroughput: Array<number> = []
  const cpu = { dspex: 0, raw: 0 }
  /** CPU time (ms) of the server process so far, from /proc (10 ms ticks). */
  const serverCpuMs = () => {
    const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  }
  const block = 100
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ["dspex", "raw"] : ["raw", "dspex"]
    // small alternating blocks, so both sides see the same machine load
    for (let done = 0; done < calls; done += block) {
      for (const side of order) {
        if (side === "dspex") await dspexSequential(block, ours)
        else await rawSequential(block, theirs)
      }
    }
    for (const side of order) {
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      const s0 = serverCpuMs()
      if (side === "dspex") await dspexConcurrent(calls)
      else await rawConcurrent(calls)
      const perSecond = calls / ((performance.now() - t0) / 1000)
      const c = process.cpuUsage(c0)
      cpu[side as "dspex" | "raw"] += (c.user + c.system) / 1000 + (serverCpuMs() - s0)
      ;(side === "dspex" ? oursThroughput : theirsThroughput).push(perSecond)
    }
  }

  ours.sort((a, b) => a - b)
  theirs.sort((a, b) => a - b)
  const median = (xs: Array<number>) => percentile([...xs].sort((a, b) => a - b), 50)
  const common = {
    calls: calls * rounds,
    payloadBytes: text.length,
    transport: "nats loopback, server in a child process"
  }
  for (const p of [50, 99]) {
    const value = percentile(ours, p) * 1000
    const base = percentile(theirs, p) * 1000
    const ratio = value / base
    report({
      bench: "runtime-remote",
      figure: `ask_latency_p${p}`,
      value: round(value, 1),
      unit: "us",
      baseline: { name: `raw NATS request/reply p${p}`, value: round(base, 1) },
      ratio: round(ratio, 3),
      target: "<= 1.3x",
      pass: ratio <= 1.3,
      ...common
    })
  }
  const tOurs = median(oursThroughput)
  const tTheirs = median(theirsThroughput)
  report({
    bench: "runtime-remote",
    figure: `ask_throughput_c${concurrency}`,
    value: Math.round(tOurs),
    unit: "asks/s",
    baseline: { name: `raw NATS request/reply at concurrency ${concurrency}`, value: Math.round(tTheirs) },
    ratio: round(tTheirs / tOurs, 3),
    target: "<= 1.3x (time per ask vs raw)",
    pass: tTheirs / tOurs <= 1.3,
    ...common,
    calls: calls * rounds
  })
  // CPU of client + server per ask (the nats-server's own CPU is the same for both and left out)
  const perAsk = (ms: number) => (ms * 1000) / (calls * rounds)
  report({
    bench: "runtime-remote",
    figure: "cpu_per_ask",
    value: round(perAsk(cpu.dspex), 1),
    unit: "us",
    baseline: { name: "raw NATS request/reply, client + responder CPU", value: round(perAsk(cpu.raw), 1) },
    ratio: round(cpu.dspex / cpu.raw, 3),
    ...common,
    concurrency
  })

  await askFailureAfterKill()
} finally {
  await runtime.dispose()
  await server.kill("SIGTERM")
  await nats.close()
}

/**
 * How long a remote ask pending on a node survives that node's SIGKILL: it should fail once the client's
 * membership declares the node down (liveness timeout after its last heartbeat, plus at most one sweep),
 * not at its own timeout. A client node of its own with the given liveness timeout.
 */
async function askFailureAfterKill(): Promise<void> {
  const trials = Number(values["kill-trials"])
  if (trials < 1) return
  const livenessMs = Number(values.liveness)
  const heartbeatMs = Math.max(10, Math.round(livenessMs / 5))
  const askTimeoutMs = livenessMs * 5
  const killer = ManagedRuntime.make(
    Node.layer({ name: "bench-killer", heartbeatInterval: heartbeatMs, livenessTimeout: livenessMs }).pipe(
      Layer.provideMerge(NatsConnection.layer({ servers: nats.url, name: "bench-killer" }))
    )
  )
  const times: Array<number> = []
  const outcomes = new Map<string, number>()
  try {
    const { ref, serves } = await killer.runPromise(
      Effect.gen(function*() {
        const node = yield* Node.Node
        return {
          ref: yield* RemoteActor.ref("doomed", Counter, { timeout: askTimeoutMs }),
          serves: (nodeId: string) => Effect.runSync(node.whereis("doomed")).some((n) => n.id === nodeId)
        }
      })
    )
    for (let i = 0; i < trials; i++) {
      const doomed = await spawnNode({
        nats: nats.url,
        name: `doomed-${i}`,
        counter: "doomed",
        heartbeatMs,
        livenessMs
      })
      for (const deadline = Date.now() + 10_000; !serves(doomed.nodeId);) {
        if (Date.now() > deadline) throw new Error(`membership never listed doomed-${i}`)
        await sleep(10)
      }
      const pending = killer.runFork(
        Effect.map(
          Effect.exit(ref.ask({ _tag: "Sleep", ms: askTimeoutMs * 2 })),
          (exit) => ({ exit, at: performance.now() })
        )
      )
      // the request reaches the actor, then the kill lands at a random phase of the node's heartbeats
      await sleep(200 + Math.random() * heartbeatMs)
      const killedAt = performance.now()
      await doomed.kill("SIGKILL")
      const { exit, at } = await killer.runPromise(Fiber.join(pending))
      times.push(at - killedAt)
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      const outcome = error?._tag !== "Fail"
        ? "no typed failure"
        : error.error instanceof ActorError.ActorGone
        ? `ActorGone(${error.error.reason._tag})`
        : (error.error as { _tag?: string })._tag ?? "unknown"
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
  } finally {
    await killer.dispose()
  }
  const sorted = [...times].sort((a, b) => a - b)
  const targetMs = livenessMs + 100
  const common = {
    trials,
    livenessTimeoutMs: livenessMs,
    heartbeatIntervalMs: heartbeatMs,
    askTimeoutMs,
    trialsMs: times.map((t) => round(t, 0)),
    outcomes: Object.fromEntries(outcomes),
    transport: "nats loopback, serving node in a child process, SIGKILLed"
  }
  for (
    const [figure, value] of [["ask_fail_after_sigkill_p50", percentile(sorted, 50)], [
      "ask_fail_after_sigkill_max",
      sorted[sorted.length - 1]!
    ]] as const
  ) {
    report({
      bench: "runtime-remote",
      figure,
      value: round(value, 0),
      unit: "ms",
      baseline: { name: "liveness timeout", value: livenessMs },
      ratio: round(value / livenessMs, 3),
      target: `<= liveness timeout + 100 ms (${targetMs} ms)`,
      pass: value <= targetMs,
      ...common
    })
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
