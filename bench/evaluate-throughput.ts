/**
 * Batch Evaluate throughput against a simulated provider with 50 ms latency (its own process):
 *   - at concurrency 64, as a fraction of the raw `openai` SDK's throughput on the same calls (same
 *     messages, 64 in flight) measured in the same run;
 *   - at concurrency 16, as a fraction of the ideal 16 / 0.05 s = 320 calls/s.
 * Cache off, `LanguageModel.layer({ maxConcurrency })`, `Executor.layerLocal({ concurrency: c })`. Rounds alternate the
 * two sides; each figure is the median over rounds.
 *
 *   node --expose-gc bench/evaluate-throughput.ts [--rounds 5] [--latency-ms 50]
 */
import { Evaluate, Example, Executor, LM, Metrics } from "@dspex/core"
import { Facts } from "@dspex/simulator"
import { Effect, References } from "effect"
import { parseArgs } from "node:util"
import { dspexRuntime, lmOf, makeProgram, median, messagesFor, minorGc, rawCall, rawClient } from "./setup.ts"
import { pool, report, round, spawnSimulator } from "./util.ts"

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    "latency-ms": { type: "string", default: "50" }
  }
})
const rounds = Number(values.rounds)
const latencyMs = Number(values["latency-ms"])

const sim = await spawnSimulator(["--latency-ms", String(latencyMs)])
const client = rawClient(sim.openaiBaseUrl)
const program = makeProgram()
const lm = lmOf(false)
const arithmetic = Facts.datasets.arithmetic
const devsetOf = (n: number) =>
  Array.from({ length: n }, (_, i) => Example.make({ ...arithmetic[i % arithmetic.length]! }).withInputs("question"))
const messages = messagesFor(arithmetic.length)

interface Side {
  readonly run: () => Promise<void>
  readonly dispose: () => Promise<void>
}

/** Evaluate over `calls` examples at concurrency `c`; every example must score (the simulator answers them all). */
const dspexSide = (calls: number, c: number): Side => {
  const runtime = dspexRuntime(sim.openaiBaseUrl, { maxConcurrency: c })
  const devset = devsetOf(calls)
  const evaluate = Evaluate.run({ program, devset, metric: Metrics.answerExactMatch, numThreads: c }).pipe(
    Effect.provideService(LM.CurrentLM, lm),
    Effect.provide(Executor.layerLocal({ concurrency: c })),
    // stdout carries only the JSON figures: Evaluate's per-run summary is left out, warnings go to stderr.
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.provideService(References.LogToStderr, true)
  )
  return {
    run: async () => {
      const result = await runtime.runPromise(evaluate)
      if (result.score !== 100) throw new Error(`Evaluate scored ${result.score}%: some calls failed`)
    },
    dispose: () => runtime.dispose()
  }
}

const rawSide = (calls: number, c: number): Side => ({
  run: () => pool(calls, c, async (i) => void (await rawCall(client, messages[i % messages.length]!))),
  dispose: async () => {}
})

/** Calls per second of one run. */
const throughput = async (side: Side, calls: number): Promise<number> => {
  minorGc()
  const t0 = performance.now()
  await side.run()
  return calls / ((performance.now() - t0) / 1000)
}

const compare = async (calls: number, c: number, withRaw: boolean) => {
  const ours = dspexSide(calls, c)
  const theirs = rawSide(calls, c)
  try {
    // Warm-up (JIT, connection pool of c sockets) for both sides.
    await ours.run()
    if (withRaw) await theirs.run()
    const a: Array<number> = []
    const b: Array<number> = []
    const ratios: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      if (!withRaw) {
        a.push(await throughput(ours, calls))
        continue
      }
      let x: number
      let y: number
      if (r % 2 === 0) {
        x = await throughput(ours, calls)
        y = await throughput(theirs, calls)
      } else {
        y = await throughput(theirs, calls)
        x = await throughput(ours, calls)
      }
      a.push(x)
      b.push(y)
      ratios.push(x / y)
    }
    return { ours: a, theirs: b, ratios }
  } finally {
    await ours.dispose()
  }
}

try {
  const c64 = await compare(1000, 64, true)
  const r64 = median(c64.ratios)
  report({
    bench: "evaluate-throughput",
    figure: `Evaluate throughput, concurrency 64, ${latencyMs} ms latency, 1000 calls`,
    value: round(median(c64.ours), 1),
    unit: "calls/s",
    baseline: { name: "raw openai SDK, same 1000 calls, 64 in flight", value: round(median(c64.theirs), 1) },
    ratio: round(r64),
    target: "ratio >= 0.95",
    pass: r64 >= 0.95,
    rounds: c64.ratios.map((x) => round(x, 2))
  })

  const ideal = 16 / (latencyMs / 1000)
  const c16 = await compare(640, 16, true)
  const v16 = median(c16.ours)
  report({
    bench: "evaluate-throughput",
    figure: `Evaluate throughput, concurrency 16, ${latencyMs} ms latency, 640 calls`,
    value: round(v16, 1),
    unit: "calls/s",
    baseline: { name: `ideal 16 / ${latencyMs / 1000} s`, value: round(ideal, 1) },
    ratio: round(v16 / ideal),
    target: "ratio >= 0.95",
    pass: v16 / ideal >= 0.95,
    rounds: c16.ours.map((x) => round(x / ideal, 3)),
    // Context: the raw SDK on the same workload, which shows what the server and loopback leave of the ideal.
    rawSdk: { value: round(median(c16.theirs), 1), ratioToIdeal: round(median(c16.theirs) / ideal) }
  })
} finally {
  await sim.close()
}
