/**
 * Where a Predict call's client CPU goes, layer by layer, against the same simulated server at zero
 * latency: the raw SDK, the smallest Effect program doing the same work, then DSPex's provider,
 * LanguageModel runtime, adapter and module, each adding one layer to the previous side. Short chunks
 * of each side run in a new random order every round, many rounds, so slow drifts of this shared
 * machine and the garbage one side leaves for the next hit every side alike; each figure is the side's
 * mean CPU per call and its ratio to the raw SDK. Expect ±10% between runs on a busy machine.
 *
 *   node --expose-gc bench/predict-layers.ts [--chunk 200] [--rounds 150] [--concurrency 8]
 */
import { ChatAdapter, LanguageModel, LM } from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { Effect, Redacted } from "effect"
import { parseArgs } from "node:util"
import type OpenAI from "openai"
import {
  apiKey,
  demos,
  dspexRuntime,
  inputsOf,
  lmOf,
  makeProgram,
  messagesFor,
  model,
  rawCall,
  rawClient,
  signature
} from "./setup.ts"
import { pool, report, round, spawnSimulator } from "./util.ts"

const { values } = parseArgs({
  options: {
    chunk: { type: "string", default: "200" },
    rounds: { type: "string", default: "150" },
    concurrency: { type: "string", default: "8" }
  }
})
const chunk = Number(values.chunk)
const rounds = Number(values.rounds)
const concurrency = Number(values.concurrency)

const sim = await spawnSimulator()
const runtime = dspexRuntime(sim.openaiBaseUrl)
const client = rawClient(sim.openaiBaseUrl)
const provider: LanguageModel.Provider = await Effect.runPromise(
  OpenAi.provider({ apiKey: Redacted.make(apiKey), baseURL: sim.openaiBaseUrl })
)
const program = makeProgram()
const lm = lmOf(false)
const messages = messagesFor(64)
const indices = Array.from({ length: chunk }, (_, i) => i)
const format = (i: number) => ChatAdapter.defaultAdapter.format(signature, demos, inputsOf(i))
const parse = (text: string) => ChatAdapter.defaultAdapter.parse(signature, text)
const each = <E>(f: (i: number) => Effect.Effect<unknown, E, LanguageModel.LanguageModel>) =>
  runtime.runPromise(
    Effect.forEach(indices, f, { concurrency, discard: true }).pipe(Effect.provideService(LM.CurrentLM, lm))
  )

const sides: ReadonlyArray<readonly [string, string, () => Promise<unknown>]> = [
  [
    "raw",
    "raw openai SDK, preformatted messages (baseline)",
    () => pool(chunk, concurrency, async (i) => void (await rawCall(client, messages[i % messages.length]!)))
  ],
  ["effect-floor", "format + SDK call + parse as the smallest Effect program", () =>
    each((i) =>
      Effect.flatMap(
        Effect.promise(() =>
          client.chat.completions.create({
            model,
            messages: format(i) as Array<OpenAI.Chat.ChatCompletionMessageParam>
          })
        ),
        (r) => parse(r.choices[0]?.message.content ?? "")
      )
    )],
  [
    "provider",
    "format + DSPex OpenAI provider + parse",
    () =>
      each((i) =>
        Effect.flatMap(
          provider.complete({ model, messages: format(i), n: 1, timeoutMs: 60_000 }),
          (r) => parse(r.outputs[0]?.text ?? "")
        )
      )
  ],
  [
    "language-model",
    "format + LanguageModel.generate + parse",
    () =>
      each((i) =>
        LanguageModel.LanguageModel.use((m) =>
          Effect.flatMap(m.generate(lm, { messages: format(i) }), (r) => parse(r.outputs[0]?.text ?? ""))
        )
      )
  ],
  [
    "adapter",
    "ChatAdapter.call",
    () => each((i) => ChatAdapter.defaultAdapter.call({ lm, signature, demos, inputs: inputsOf(i), config: {} }))
  ],
  ["predict", "Predict.call", () => each((i) => program.call(inputsOf(i)))]
]

// A seeded PRNG (mulberry32) so a run's orders can be reproduced.
let seed = 0x5eed
const next = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

try {
  for (let w = 0; w < 4; w++) for (const [, , run] of sides) await run()
  const cpu = new Map<string, number>()
  for (let r = 0; r < rounds; r++) {
    const order = [...sides]
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    for (const [name, , run] of order) {
      const c0 = process.cpuUsage()
      await run()
      const d = process.cpuUsage(c0)
      cpu.set(name, (cpu.get(name) ?? 0) + d.user + d.system)
    }
  }
  const perCall = (name: string) => cpu.get(name)! / (rounds * chunk)
  const raw = perCall("raw")
  let previous = raw
  for (const [name, label] of sides) {
    const value = perCall(name)
    report({
      bench: "predict-layers",
      figure: `${label} (concurrency ${concurrency}, 0 ms latency)`,
      value: round(value, 1),
      unit: "µs CPU / call (mean)",
      baseline: { name: "raw openai SDK", value: round(raw, 1) },
      ratio: round(value / raw),
      addedByLayer: round(value - previous, 1),
      calls: rounds * chunk
    })
    previous = value
  }
} finally {
  await runtime.dispose()
  await sim.close()
}
