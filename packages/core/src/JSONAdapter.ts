/**
 * JSONAdapter: inputs in `[[ ## name ## ]]` sections, outputs as one JSON object. Renders byte-identical
 * to DSPy 3.3.1; asks the provider for OpenAI strict Structured Outputs when the model supports them
 * (falling back once to `json_object` mode), else for `json_object`, else sends a plain request; parses
 * replies with JSON repair and DSPy's rules.
 *
 * @example
 * ```ts
 * import { JSONAdapter, LM, Signature } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const signature = Signature.make("question -> answer: float")
 * const messages = JSONAdapter.defaultAdapter.format(signature, [], { question: "2+2?" }) // asks for a JSON object with `answer`
 * const program = Effect.gen(function*() {
 *   const lm = LM.make("openai/gpt-4o-mini")
 *   const result = yield* JSONAdapter.defaultAdapter.call({ lm, signature, demos: [], inputs: { question: "2+2?" } })
 *   return result.outputs[0] // { answer: 4 }
 * })
 * ```
 */
import { Effect } from "effect"
import type { Adapter, AdapterCall, Demo } from "./Adapter.ts"
import type { FieldType } from "./FieldType.ts"
import {
  callSpan,
  completeOutputs,
  EMPTY_RESPONSE,
  outputIndex,
  type ParseCore,
  parseError,
  roundTrip,
  tracedParse
} from "./internal/adapterCall.ts"
import {
  chatSections,
  chatUserContent,
  has,
  joinParts,
  type Layout,
  perSignature,
  placeholder,
  pydanticSchema,
  renderMessages,
  STRUCTURE_INTRO,
  typeHint
} from "./internal/adapterFormat.ts"
import { firstBalancedObject, parseField, repairLoads } from "./internal/parseValue.ts"
import { pyJsonDumps } from "./internal/pyText.ts"
import { LanguageModel, type ModelCapabilities, type ResponseFormat } from "./LanguageModel.ts"
import type { Signature } from "./Signature.ts"

/** The outputs as one model type, so numbers in demo JSON print as their fields' Python types. */
const outputsType = perSignature((sig): FieldType => ({
  _tag: "object",
  name: "DSPyProgramOutputs",
  properties: sig.outputs.map((f) => ({ name: f.name, type: f.type, optional: false }))
}))

const reminder = perSignature((sig) =>
  `Respond with a JSON object in the following order of fields: ${
    sig.outputs.map((f) => `\`${f.name}\`${typeHint(f)}`).join(", then ")
  }.`
)

/** The JSONAdapter layout (system structure, user and assistant turns). */
const jsonLayout: Layout = {
  name: "JSONAdapter",
  structure: (sig) =>
    joinParts([
      STRUCTURE_INTRO,
      "Inputs will have the following structure:",
      chatSections(sig.inputs, placeholder),
      "Outputs will be a JSON object with the following fields.",
      pyJsonDumps(Object.fromEntries(sig.outputs.map((f) => [f.name, placeholder(f)])), undefined, 2)
    ]),
  user: (sig, values, prefix, mainRequest) =>
    chatUserContent(sig, values, prefix, mainRequest ? reminder(sig) : undefined),
  assistant: (sig, values, missing) =>
    pyJsonDumps(
      Object.fromEntries(sig.outputs.map((f) => [f.name, has(values, f.name) ? values[f.name] : missing])),
      outputsType(sig),
      2
    )
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * DSPy's `JSONAdapter.parse`: repair the reply as JSON; if that is no object, take the first balanced
 * `{...}`; keep only output keys and parse each value for its field.
 */
const parseJson = (adapter: string): ParseCore => (sig, completion) => {
  if (completion === "") return parseError(adapter, sig, completion, EMPTY_RESPONSE)
  let fields = repairLoads(completion)
  if (!isPlainObject(fields)) {
    const object = firstBalancedObject(completion)
    if (object !== undefined) fields = repairLoads(object)
  }
  if (!isPlainObject(fields)) {
    return parseError(adapter, sig, completion, "LM response cannot be serialized to a JSON object.")
  }
  const outputs = outputIndex(sig)
  const found = new Map<string, unknown>()
  for (const [name, raw] of Object.entries(fields)) {
    const field = outputs.get(name)
    if (field === undefined) continue
    const result = parseField(field, raw)
    if (!result.ok) {
      return parseError(adapter, sig, completion, `Failed to parse field ${name}: ${result.error}`, { field: name })
    }
    found.set(name, result.value)
  }
  return completeOutputs(adapter, sig, completion, found)
}

// ---------------------------------------------------------------------------------------------------
// Request modes

/** Types strict Structured Outputs cannot express (every object needs declared properties). */
const openEnded = (t: FieldType): boolean => {
  switch (t._tag) {
    case "dict":
    case "any":
      return true
    case "list":
      return openEnded(t.item)
    case "tuple":
      return t.items.some(openEnded) || (t.rest !== undefined && openEnded(t.rest))
    case "optional":
      return openEnded(t.inner)
    case "union":
      return t.members.some(openEnded)
    case "object":
      return t.properties.some((p) => openEnded(p.type))
    default:
      return false
  }
}

type JsonSchema = Record<string, unknown>

/** OpenAI strict mode: every object lists all its properties as required and forbids others. */
const enforceStrict = (s: JsonSchema): void => {
  if (s.type === "object") {
    const props = s.properties as Record<string, JsonSchema> | undefined
    if (props === undefined) {
      s.properties = {}
      s.required = []
    } else {
      s.required = Object.keys(props)
      for (const p of Object.values(props)) enforceStrict(p)
    }
    s.additionalProperties = false
  }
  if (s.type === "array" && typeof s.items === "object" && s.items !== null) enforceStrict(s.items as JsonSchema)
  // DSPy stops at arrays and $defs; objects inside anyOf (and a tuple's prefixItems) need the same
  // treatment or OpenAI rejects them.
  if (Array.isArray(s.anyOf)) { for (const m of s.anyOf as Array<JsonSchema>) enforceStrict(m) }
  if (Array.isArray(s.prefixItems)) { for (const m of s.prefixItems as Array<JsonSchema>) enforceStrict(m) }
  if (typeof s.$defs === "object" && s.$defs !== null) {
    for (const d of Object.values(s.$defs as Record<string, JsonSchema>)) {
      enforceStrict(d)
    }
  }
}

/**
 * The `json_schema` response format DSPy builds from the output fields (model "DSPyProgramOutputs").
 *
 * @example
 * ```ts
 * import { JSONAdapter, Signature } from "@dspex/core"
 *
 * JSONAdapter.structuredOutputFormat(Signature.make("q -> answer: int")).json_schema.schema.required // ["answer"]
 * ```
 */
export const structuredOutputFormat = perSignature((sig): Extract<ResponseFormat, { type: "json_schema" }> => {
  const schema = pydanticSchema(outputsType(sig))
  enforceStrict(schema)
  return { type: "json_schema", json_schema: { name: "DSPyProgramOutputs", schema, strict: true } }
})

const JSON_OBJECT: ResponseFormat = { type: "json_object" }

type Mode = "structured" | "json_object" | "plain"

const requestMode = (caps: ModelCapabilities, sig: Signature, allowStructured: boolean): Mode => {
  if (!caps.structuredOutputs && !caps.jsonObject) return "plain"
  if (allowStructured && caps.structuredOutputs && !sig.outputs.some((f) => openEnded(f.type))) return "structured"
  return caps.jsonObject ? "json_object" : "plain"
}

export interface JSONAdapterOptions {
  /** Ask for strict Structured Outputs where the model supports them (default true, as in DSPy). */
  readonly structuredOutputs?: boolean | undefined
}

const format = (sig: Signature, demos: ReadonlyArray<Demo>, inputs: Readonly<Record<string, unknown>>) =>
  renderMessages(jsonLayout, sig, demos, inputs)

const parseCore = parseJson("JSONAdapter")
const parse = tracedParse("JSONAdapter", parseCore)

const pipeline = { name: "JSONAdapter", format, parse: parseCore }

/**
 * A JSONAdapter.
 *
 * @example
 * ```ts
 * import { JSONAdapter } from "@dspex/core"
 *
 * const jsonOnly = JSONAdapter.make({ structuredOutputs: false }) // json_object mode where supported, never strict Structured Outputs
 * ```
 */
export const make = (options: JSONAdapterOptions = {}): Adapter => {
  const allowStructured = options.structuredOutputs ?? true
  return {
    name: "JSONAdapter",
    format,
    parse,
    call: (call: AdapterCall) =>
      Effect.gen(function*() {
        const model = yield* LanguageModel
        const caps = model.capabilities(call.lm)
        const mode = requestMode(caps, call.signature, allowStructured)
        if (mode === "plain") return yield* roundTrip(pipeline, call)
        if (mode === "json_object") return yield* roundTrip(pipeline, call, JSON_OBJECT)
        return yield* roundTrip(pipeline, call, structuredOutputFormat(call.signature)).pipe(
          // A reply that does not parse, or a provider that rejects the schema: once more in JSON mode.
          Effect.catchIf(
            (e) => e._tag === "AdapterParseError" || e._tag === "LMBadRequest",
            () => roundTrip(pipeline, call, caps.jsonObject ? JSON_OBJECT : undefined)
          )
        )
      }).pipe(callSpan("JSONAdapter", call))
  }
}

/**
 * A JSONAdapter with DSPy's defaults.
 *
 * @example
 * ```ts
 * import { Adapter, JSONAdapter, Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer").call({ question: "2+2?" })
 * const withJson = Effect.provideService(program, Adapter.CurrentAdapter, JSONAdapter.defaultAdapter)
 * ```
 */
export const defaultAdapter: Adapter = make()
