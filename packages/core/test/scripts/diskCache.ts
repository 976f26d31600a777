/**
 * Run by Cache.test.ts in a child process (Node's warnings and built-in modules are per process): uses a
 * disk cache twice in the directory given as argument, then emits an unrelated ExperimentalWarning, and
 * prints one JSON line per step on stdout.
 */
import { Effect, Option } from "effect"
import * as Cache from "../../src/Cache.ts"
import type { LMResponse } from "../../src/LanguageModel.ts"

const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`)
print({ step: "imported" })

const response: LMResponse = {
  outputs: [{ text: "cached" }],
  usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
  model: "test/m",
  cacheHit: false
}
const roundTrip = Effect.gen(function*() {
  const cache = yield* Cache.Cache
  yield* cache.set("k", response)
  return Option.isSome(yield* cache.get("k"))
})

for (let i = 0; i < 2; i++) {
  const exit = await Effect.runPromiseExit(Effect.provide(roundTrip, Cache.layerDisk({ path: process.argv[2]! })))
  if (exit._tag === "Success") print({ step: "used", hit: exit.value })
  else {
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    const e = error?._tag === "Fail"
      ? error.error as { _tag: string; variable?: string; message: string; suggestion: string }
      : undefined
    print({ step: "failed", _tag: e?._tag, variable: e?.variable, message: e?.message, suggestion: e?.suggestion })
  }
}
process.emitWarning("Another feature is experimental", "ExperimentalWarning")
