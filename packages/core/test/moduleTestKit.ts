/**
 * Test doubles for module tests: a scripted LanguageModel (DSPy's DummyLM idea) that records every
 * request, and a minimal `[[ ## field ## ]]` adapter used only where ChatAdapter is not available.
 */
import { Effect, Layer } from "effect"
import type { Adapter, AdapterCall, Demo } from "../src/Adapter.ts"
import { AdapterParseError } from "../src/Errors.ts"
import { LanguageModel, type LMRequest, type LMResponse, type LMUsage } from "../src/LanguageModel.ts"
import type { LM } from "../src/LM.ts"
import type { LMError } from "../src/LMError.ts"
import type { Message } from "../src/Message.ts"
import type { Signature } from "../src/Signature.ts"

export type Script =
  | string
  | ReadonlyArray<string>
  | ((
    request: LMRequest,
    lm: LM
  ) => string | ReadonlyArray<string> | Effect.Effect<string | ReadonlyArray<string>, LMError>)

export interface Recorded {
  readonly lm: LM
  readonly request: LMRequest
}

export const usage: LMUsage = { promptTokens: 10, completionTokens: 5, totalTokens: 15 }

/**
 * A LanguageModel replying from a script: a list of replies consumed in order, or one function of the
 * request answering every call. A reply is one completion (a string) or several (an array, for n > 1).
 */
export const scriptedLM = (script: ReadonlyArray<Script> | Extract<Script, Function>) => {
  const calls: Array<Recorded> = []
  const queue = typeof script === "function" ? undefined : [...script]
  const next = (request: LMRequest, lm: LM): Effect.Effect<string | ReadonlyArray<string>, LMError> => {
    const s = queue === undefined ? script as Script : queue.shift()
    if (s === undefined) return Effect.die(new Error(`scripted LM: no reply left for call ${calls.length}`))
    if (typeof s === "function") {
      const out = s(request, lm)
      return Effect.isEffect(out) ? out : Effect.succeed(out)
    }
    return Effect.succeed(s)
  }
  const service = LanguageModel.of({
    generate: (given, request) =>
      Effect.suspend(() => {
        const lm = given ?? { model: "test/current" }
        calls.push({ lm, request })
        return Effect.map(next(request, lm), (out): LMResponse => ({
          outputs: (typeof out === "string" ? [out] : out).map((text) => ({ text })),
          usage,
          model: lm.model,
          cacheHit: false
        }))
      }),
    capabilities: () => ({ structuredOutputs: false, jsonObject: false, tools: false }),
    history: () => [],
    usage: () => ({})
  })
  return { service, calls, layer: Layer.succeed(LanguageModel, service) }
}

/** Renders a reply the way ChatAdapter expects one. */
export const reply = (fields: Readonly<Record<string, unknown>>): string =>
  Object.entries(fields).map(([k, v]) => `[[ ## ${k} ## ]]\n${typeof v === "string" ? v : JSON.stringify(v)}`).join(
    "\n\n"
  ) +
  "\n\n[[ ## completed ## ]]"

const section = (name: string, value: unknown) =>
  `[[ ## ${name} ## ]]\n${typeof value === "string" ? value : JSON.stringify(value)}`

const format = (
  signature: Signature,
  demos: ReadonlyArray<Demo>,
  inputs: Readonly<Record<string, unknown>>
): ReadonlyArray<Message> => {
  const messages: Array<Message> = [{ role: "system", content: signature.instructions }]
  for (const demo of demos) {
    messages.push({
      role: "user",
      content: signature.inputNames.filter((n) => n in demo).map((n) => section(n, demo[n])).join("\n\n")
    })
    messages.push({
      role: "assistant",
      content: signature.outputNames.filter((n) => n in demo).map((n) => section(n, demo[n])).join("\n\n")
    })
  }
  messages.push({
    role: "user",
    content: signature.inputNames.filter((n) => n in inputs).map((n) => section(n, inputs[n])).join("\n\n")
  })
  return messages
}

const parse = (signature: Signature, completion: string): Effect.Effect<Record<string, unknown>, AdapterParseError> => {
  const out: Record<string, unknown> = {}
  const re = /\[\[ ## (\w+) ## \]\]\n?([\s\S]*?)(?=\n*\[\[ ## |\s*$)/g
  for (const m of completion.matchAll(re)) {
    const name = m[1]!
    if (signature.outputNames.includes(name) && !(name in out)) out[name] = m[2]!.trim()
  }
  const missing = signature.outputNames.filter((n) => !(n in out))
  return missing.length === 0
    ? Effect.succeed(out)
    : Effect.fail(
      new AdapterParseError({
        adapter: "TestAdapter",
        signature: signature.toString(),
        completion,
        reason: `missing ${missing.join(", ")}`
      })
    )
}

/** A minimal adapter: instructions as system message, `[[ ## f ## ]]` sections, no type handling. */
export const testAdapter: Adapter = {
  name: "TestAdapter",
  format,
  parse,
  call: (call: AdapterCall) =>
    Effect.gen(function*() {
      const lm = yield* LanguageModel
      const messages = format(call.signature, call.demos, call.inputs)
      const response = yield* lm.generate(call.lm, { ...call.config, messages })
      const outputs = yield* Effect.forEach(response.outputs, (o) => parse(call.signature, o.text))
      return { outputs, response, adapter: "TestAdapter" }
    })
}

/** The real ChatAdapter when it loads (imported by a variable path while its dependencies are being written). */
export const loadChatAdapter = async (): Promise<Adapter | undefined> => {
  const path = "../src/ChatAdapter.ts"
  try {
    const mod = (await import(path)) as { defaultAdapter?: Adapter }
    return mod.defaultAdapter
  } catch {
    return undefined
  }
}
