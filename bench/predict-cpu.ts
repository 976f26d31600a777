/**
 * Per-call framework CPU: `Predict.call` (ChatAdapter format → LanguageModel → OpenAI provider over the
 * `openai` SDK → parse) against the raw SDK sending the same messages to the same simulated server at
 * zero latency, both at the same concurrency. Only this process's CPU is counted (the simulator runs in a
 * child process). Short rounds alternate which side goes first, so both see the same machine conditions;
 * the ratio is the median of the per-round ratios.
 *
 * A third side, reported as its own figure, is the floor any Effect program pays for the same work: the
 * smallest Effect version of format → SDK call (with an AbortSignal, for interruption) → parse, run
 * with `Effect.forEach` like the DSPex side. The distance from it to DSPex is DSPex's own cost.
 *
 *   node --expose-gc bench/predict-cpu.ts [--calls 400] [--rounds 21] [--concurrency 8]
 */
import { ChatAdapter, LM } from "@dspex/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import type OpenAI from "openai"
import {
  demos,
  dspexRuntime,
  inputsOf,
  lmOf,
  makeProgram,
  median,
  messagesFor,
  minorGc,
  model,
  rawCall,
  rawClient,
  signature
} from "./setup.ts"
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
      Effect.provideService(LM.CurrentLM, lm)
    )
  )

const floor = (n: number) =>
  Effect.runPromise(
    Effect.forEach(indices.slice(0, n), (i) =>
      Effect.suspend(() => {
        const messages = ChatAdapter.defaultAdapter.format(signature, demos, inputsOf(i))
        return Effect.flatMap(
          // A failed call is a broken benchmark, so a defect.
          Effect.promise((signal) =>
            client.chat.completions.create({
              model,
              messages: messages as Array<OpenAI.Chat.ChatCompletionMessageParam>
            }, { signal, maxRetries: 0 })
          ),
          (r) => ChatAdapter.defaultAdapter.parse(signature, r.choices[0]?.message.content ?? "")
        )
      }), { concurrency, discard: true })
  )

const raw = (n: number) =>
  pool(n, concurrency, async (i) => void (await rawCall(client, messages[i % messages.length]!)))

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
    await floor(250)
  }
  const ours: Array<number> = []
  const theirs: Array<number> = []
  const floors: Array<number> = []
  const ratios: Array<number> = []
  const floorRatios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    let a: number
    let b: number
    let c: number
    if (r % 2 === 0) {
      a = await measure(dspex)
      b = await measure(raw)
      c = await measure(floor)
    } else {
      c = await measure(floor)
      b = await measure(raw)
      a = await measure(dspex)
    }
    ours.push(a)
    theirs.push(b)
    floors.push(c)
    ratios.push(a / b)
    floorRatios.push(c / b)
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
  const floorRatio = median(floorRatios)
  report({
    bench: "predict-cpu",
    figure:
      `Effect floor: the same format + SDK call + parse as the smallest Effect program (concurrency ${concurrency})`,
    value: round(median(floors), 1),
    unit: "ms CPU / 1000 calls",
    baseline: { name: "raw openai SDK chat.completions.create, same messages", value: round(median(theirs), 1) },
    ratio: round(floorRatio),
    dspexOverFloor: round(median(ratios.map((x, i) => x / floorRatios[i]!))),
    rounds: floorRatios.map((x) => round(x, 2)),
    callsPerRound: calls
  })
} finally {
  await runtime.dispose()
  await sim.close()
}
