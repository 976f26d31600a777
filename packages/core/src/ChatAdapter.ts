/**
 * ChatAdapter: DSPy's default adapter. Fields travel in `[[ ## name ## ]]` sections, the reply ends with
 * `[[ ## completed ## ]]`. Renders byte-identical to DSPy 3.3.1 and parses replies by its rules; when a
 * reply cannot be parsed it retries the same call once with JSONAdapter (DSPy's
 * `use_json_adapter_fallback`), never after an LM error.
 *
 * @example
 * ```ts
 * import { ChatAdapter, Signature } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const sig = Signature.make("question -> answer")
 * const adapter = ChatAdapter.make({ useJsonAdapterFallback: false })
 * const messages = adapter.format(sig, [], { question: "2+2?" }) // [system, user]; the user message starts "[[ ## question ## ]]\n2+2?"
 * const outputs = await Effect.runPromise(adapter.parse(sig, "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]")) // { answer: "4" }
 * ```
 */
import type { Adapter, AdapterCall, Demo } from "./Adapter.ts"
import {
  callWithFallback,
  completeOutputs,
  EMPTY_RESPONSE,
  outputIndex,
  type ParseCore,
  parseError,
  tracedParse
} from "./internal/adapterCall.ts"
import {
  chatSections,
  chatUserContent,
  formatFieldValue,
  has,
  joinParts,
  type Layout,
  perSignature,
  placeholder,
  renderMessages,
  STRUCTURE_INTRO,
  typeHint
} from "./internal/adapterFormat.ts"
import { parseField } from "./internal/parseValue.ts"
import { pySplitLines, pyStrip } from "./internal/pyText.ts"
import * as JSONAdapter from "./JSONAdapter.ts"
import type { Field, Signature } from "./Signature.ts"

const reminder = perSignature((sig) =>
  `Respond with the corresponding output fields, starting with the field ${
    sig.outputs.map((f) => `\`[[ ## ${f.name} ## ]]\`${typeHint(f)}`).join(", then ")
  }, and then ending with the marker for \`[[ ## completed ## ]]\`.`
)

const valueOr = (values: Readonly<Record<string, unknown>>, missing: string) => (f: Field): string =>
  has(values, f.name) ? formatFieldValue(f, values[f.name]) : missing

/** The ChatAdapter layout (system structure, user and assistant turns). */
const chatLayout: Layout = {
  name: "ChatAdapter",
  structure: (sig) =>
    joinParts([
      STRUCTURE_INTRO,
      chatSections(sig.inputs, placeholder),
      chatSections(sig.outputs, placeholder),
      "[[ ## completed ## ]]\n"
    ]),
  user: (sig, values, prefix, mainRequest) =>
    chatUserContent(sig, values, prefix, mainRequest ? reminder(sig) : undefined),
  assistant: (sig, values, missing) =>
    `${chatSections(sig.outputs, valueOr(values, missing))}\n\n[[ ## completed ## ]]\n`
}

const header = /^\[\[ ## ([\p{L}\p{N}_]+) ## \]\]/u

const showValue = (v: string): string => (v.length > 200 ? `${v.slice(0, 200)}…` : v)

/**
 * DSPy's `ChatAdapter.parse`: sections start at lines beginning with `[[ ## name ## ]]` (text after the
 * header belongs to the section), the first section of each output wins, other headers are ignored.
 */
const parseChat = (adapter: string): ParseCore => (sig, completion) => {
  if (completion === "") return parseError(adapter, sig, completion, EMPTY_RESPONSE)
  const outputs = outputIndex(sig)
  const texts = new Map<string, string>()
  let current: Field | undefined
  let lines: Array<string> = []
  const flush = () => {
    if (current !== undefined && !texts.has(current.name)) texts.set(current.name, pyStrip(lines.join("\n")))
  }
  for (const line of pySplitLines(completion)) {
    const stripped = pyStrip(line)
    const m = stripped.startsWith("[[ ## ") ? header.exec(stripped) : null
    if (m === null) {
      if (current !== undefined) lines.push(line)
      continue
    }
    flush()
    current = outputs.get(m[1]!)
    // DSPy matches on the stripped line but slices the original one at the match's end; kept for parity.
    const rest = pyStrip(line.slice(m[0].length))
    lines = rest === "" ? [] : [rest]
  }
  flush()
  const found = new Map<string, unknown>()
  for (const [name, text] of texts) {
    const result = parseField(outputs.get(name)!, text)
    if (!result.ok) {
      return parseError(
        adapter,
        sig,
        completion,
        `Failed to parse field ${name} with value ${showValue(text)}: ${result.error}`,
        { field: name }
      )
    }
    found.set(name, result.value)
  }
  return completeOutputs(adapter, sig, completion, found)
}

export interface ChatAdapterOptions {
  /** Retry once with JSONAdapter when the reply cannot be parsed (default true, as in DSPy). */
  readonly useJsonAdapterFallback?: boolean | undefined
}

const format = (sig: Signature, demos: ReadonlyArray<Demo>, inputs: Readonly<Record<string, unknown>>) =>
  renderMessages(chatLayout, sig, demos, inputs)

const parseCore = parseChat("ChatAdapter")
const parse = tracedParse("ChatAdapter", parseCore)

/**
 * A ChatAdapter.
 *
 * @example
 * ```ts
 * import { ChatAdapter } from "@dspex/core"
 *
 * const strict = ChatAdapter.make({ useJsonAdapterFallback: false }) // an unparsable reply fails with AdapterParseError
 * ```
 */
export const make = (options: ChatAdapterOptions = {}): Adapter => {
  const fallback = options.useJsonAdapterFallback ?? true
  const pipeline = { name: "ChatAdapter", format, parse: parseCore }
  return {
    name: "ChatAdapter",
    format,
    parse,
    // LM errors (including context-window overflows) are never retried with another format.
    call: (call: AdapterCall) =>
      callWithFallback(pipeline, call, fallback ? JSONAdapter.defaultAdapter.call : undefined)
  }
}

/**
 * A ChatAdapter with DSPy's defaults (JSON fallback on).
 *
 * @example
 * ```ts
 * import { Adapter, ChatAdapter, Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer").call({ question: "2+2?" })
 * const withChat = Effect.provideService(program, Adapter.CurrentAdapter, ChatAdapter.defaultAdapter) // also what an unset adapter means
 * ```
 */
export const defaultAdapter: Adapter = make()
