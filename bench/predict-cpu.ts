/**
 * Per-call framework CPU: `Predict.call` (ChatAdapter format → LanguageModel → OpenAI provider over the
 * `openai` SDK → parse) against the raw SDK sending the same messages to the same simulated server at
 * zero latency, both at the same concurrency. Only this process's CPU is counted (the simulator runs in a
 * child process). Short rounds alternate which side goes first, so both see the same machine conditions;
 * the ratio is the median of the per-round ratios.
 *
 *   node --expose-gc bench/predict-cpu.ts [--calls 400] [--rounds 21] [--concurrency 8]
 */
import { CurrentLM } from "@dspex/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { dspexRuntime, inputsOf, lmOf, makeProgram, median, messagesFor, minorGc, rawCall, rawClient } from "./setup.ts"
import { cpuTimeOf, pool, report, round, spawnSimulator } from "./util.ts"

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "400" },
    rounds: { type: "string", default: "21" },
    concurrency: { type: "string", default: "8" }
  }
})
const calls = Number(values.calls)
const rounds = Number(values.rounds)
const concurrency = Number(values.concurrency)

const sim = await spawnSimulator()
const runtime = dspexRuntime(sim.openaiBaseUrl)
const client = rawClient(sim.openaiBaseUrl)
const program = makeProgram()
const lm = lmOf(false)
const messages = messagesFor(calls)
const indices = Array.from({ length: calls }, (_, i) => i)

const dspex = (n: number) =>
  runtime.runPromise(
    Effect.forEach(indices.slice(0, n), (i) => program.call(inputsOf(i)), { concurrency, discard: true }).pipe(
      Effect.provideService(CurrentLM, lm)
    )
  )

const raw = (n: number) => pool(n, concurrency, async (i) => void (await rawCall(client, messages[i % messages.length]!)))

/** CPU of one side's round; the nursery is emptied first so no round pays for another's garbage. */
const measure = async (f: (n: number) => Promise<unknown>): Promise<number> => {
  minorGc()
  const { cpuMs } = await cpuTimeOf(async () => {
    await f(calls)
    minorGc()
  })
  return (cpuMs * 1000) / calls
}

try {
  // Warm-up: JIT, connection pools, lazily loaded modules.
  for (let i = 0; i < 4; i++) {
    await dspex(250)
    await raw(250)
  }
  const ours: Array<number> = []
  const theirs: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    let a: number
    let b: number
    if (r % 2 === 0) {
      a = await measure(dspex)
      b = await measure(raw)
    } else {
      b = await measure(raw)
      a = await measure(dspex)
    }
    ours.push(a)
    theirs.push(b)
    ratios.push(a / b)
  }
  const ratio = median(ratios)
  report({
    bench: "predict-cpu",
    figure: `Predict.call client CPU per 1000 calls (concurrency ${concurrency}, 0 ms latency, cache off)`,
    value: round(median(ours), 1),
    unit: "ms CPU / 1000 calls",
    baseline: { name: "raw openai SDK chat.completions.create, same messages", value: round(median(theirs), 1) },
    ratio: round(ratio),
    target: "ratio <= 1.15",
    pass: ratio <= 1.15,
    rounds: ratios.map((x) => round(x, 2)),
    callsPerRound: calls
  })
} finally {
  await runtime.dispose()
  await sim.close()
}
