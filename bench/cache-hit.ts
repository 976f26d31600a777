/**
 * Cache-hit latency through `LanguageModel.generate`: memory cache, the OpenAI provider against the
 * simulator (child process) for the one miss that warms the entry, then many identical calls timed one
 * by one inside a single Effect (so no per-call runtime start-up is counted). p50 and p99 in µs, each
 * beside the same loop timing `Effect.void` in the same run (the measurement floor).
 *
 *   node --expose-gc bench/cache-hit.ts [--calls 20000]
 */
import { Cache, LanguageModel } from "@dspex/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { dspexRuntime, lmOf, median, messagesFor, minorGc } from "./setup.ts"
import { percentile, report, round, spawnSimulator } from "./util.ts"

const { values } = parseArgs({ options: { calls: { type: "string", default: "20000" } } })
const calls = Number(values.calls)

const sim = await spawnSimulator()
const runtime = dspexRuntime(sim.openaiBaseUrl, { cache: Cache.layerMemory() })
const lm = lmOf(true)
const messages = messagesFor(1)[0]!

/** Per-call latencies in µs of `calls` runs of `effect`, timed one by one. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const out = new Array<number>(calls)
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now()
      yield* effect
      out[i] = (performance.now() - t0) * 1000
    }
    return out.sort((a, b) => a - b)
  })

try {
  const result = await runtime.runPromise(
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const generate = model.generate(lm, { messages })
      const miss = yield* generate
      if (miss.cacheHit) throw new Error("the first call should have missed the cache")
      const hit = yield* generate
      if (!hit.cacheHit) throw new Error("the second call should have hit the cache")
      const hits: Array<Array<number>> = []
      const floors: Array<Array<number>> = []
      // Alternate the measured loop and the floor a few times; keep the per-percentile median.
      for (let r = 0; r < 3; r++) {
        minorGc()
        hits.push(yield* timed(generate))
        minorGc()
        floors.push(yield* timed(Effect.void))
      }
      return { hits, floors }
    })
  )
  for (const p of [50, 99] as const) {
    const value = median(result.hits.map((xs) => percentile(xs, p)))
    const floor = median(result.floors.map((xs) => percentile(xs, p)))
    report({
      bench: "cache-hit",
      figure: `LanguageModel.generate cache hit, memory cache (p${p})`,
      value: round(value, 2),
      unit: "µs",
      baseline: { name: "the same timing loop around Effect.void (measurement floor)", value: round(floor, 2) },
      ratio: round(value / floor, 1),
      target: p === 50 ? "p50 < 50 µs" : "reported",
      pass: p === 50 ? value < 50 : undefined,
      calls
    })
  }
} finally {
  await runtime.dispose()
  await sim.close()
}
