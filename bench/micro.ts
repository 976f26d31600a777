/**
 * Micro figures, each after a warm-up, in µs per call (mean and p50 over batches of 100 calls):
 *   - `Signature.make` parsing a typed signature string;
 *   - ChatAdapter `format` + `parse` (the public API: `parse` is an Effect, run with `Effect.runSync`) for
 *     a small signature with one demo.
 * Each comes with a reference measured in the same run (a JSON round trip of comparable data), so a
 * slow or busy machine shows up in the reference too.
 *
 *   node --expose-gc bench/micro.ts [--iterations 100000]
 */
import { ChatAdapter, Signature } from "@dspex/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { demos, inputsOf, minorGc, signature } from "./setup.ts"
import { percentile, report, round } from "./util.ts"

const { values } = parseArgs({ options: { iterations: { type: "string", default: "100000" } } })
const iterations = Number(values.iterations)
const batch = 100

/** Mean and p50 (of batch means) in µs per call. */
const time = (f: (i: number) => unknown): { mean: number; p50: number } => {
  let sink = 0
  for (let i = 0; i < Math.min(iterations, 20_000); i++) sink += f(i) === undefined ? 0 : 1
  minorGc()
  const perCall: Array<number> = []
  const start = performance.now()
  for (let b = 0; b < iterations / batch; b++) {
    const t0 = performance.now()
    for (let i = 0; i < batch; i++) sink += f(b * batch + i) === undefined ? 0 : 1
    perCall.push(((performance.now() - t0) * 1000) / batch)
  }
  const mean = ((performance.now() - start) * 1000) / iterations
  if (sink < 0) console.error(sink)
  perCall.sort((a, b) => a - b)
  return { mean, p50: percentile(perCall, 50) }
}

const figure = (
  name: string,
  ours: { mean: number; p50: number },
  reference: { name: string; value: { mean: number; p50: number } }
) => {
  for (const stat of ["mean", "p50"] as const) {
    report({
      bench: "micro",
      figure: `${name} (${stat})`,
      value: round(ours[stat], 2),
      unit: "µs / call",
      baseline: { name: reference.name, value: round(reference.value[stat], 2) },
      ratio: round(ours[stat] / reference.value[stat], 2),
      target: "< 50 µs",
      pass: ours[stat] < 50,
      iterations
    })
  }
}

// Signature.make: a typed, multi-field signature (the parser is not cached, so every call parses).
const source = "context: list[str], question: str -> answer: str, confidence: float"
const spec = {
  inputs: [{ name: "context", type: "list[str]" }, { name: "question", type: "str" }],
  outputs: [{ name: "answer", type: "str" }, { name: "confidence", type: "float" }]
}
const specJson = JSON.stringify(spec)
figure("Signature.make parse", time(() => Signature.make(source)), {
  name: "JSON.parse of the same signature as a JSON spec",
  value: time(() => JSON.parse(specJson))
})

// ChatAdapter format + parse: "question -> answer" with one demo, a well-formed reply.
const adapter = ChatAdapter.defaultAdapter
const completion = "[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"
const check = Effect.runSync(adapter.parse(signature, completion))
if (check.answer !== "42") throw new Error(`unexpected parse: ${JSON.stringify(check)}`)
const formatted = adapter.format(signature, demos, inputsOf(0))
const formattedJson = JSON.stringify(formatted)
figure(
  "ChatAdapter format + parse (1 demo)",
  time((i) => {
    adapter.format(signature, demos, inputsOf(i))
    return Effect.runSync(adapter.parse(signature, completion))
  }),
  {
    name: "JSON.stringify + JSON.parse of the formatted messages",
    value: time(() => JSON.parse(JSON.stringify(formatted)) ?? formattedJson)
  }
)
