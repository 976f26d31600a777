/**
 * Rendering that ChatAdapter, JSONAdapter and XMLAdapter share, as DSPy 3.3.1's `Adapter` base class and
 * `adapters/utils.py` do it: field descriptions, type notes, value formatting, which demos are shown and
 * how, and the assembly of system + demo turns + user message. Each adapter supplies a `Layout` (its
 * section syntax); the system message depends only on the signature and is cached per Signature object.
 */
import type { Demo } from "../Adapter.ts"
import type { FieldType, LiteralValue } from "../FieldType.ts"
import type { Message } from "../Message.ts"
import type { Field, Signature } from "../Signature.ts"
import { dedent, pyFloatRepr, pyJsonDumps, pySplitLines, pyStr, pyStrip, toJsonable } from "./pyText.ts"

/**
 * Memoizes a function of a signature. Signatures are immutable, so whatever is derived from one alone
 * (system message, reminders, schemas) is computed once per Signature object.
 *
 * @example
 * const reminder = perSignature((sig) => `Respond with ${sig.outputNames.join(", ")}.`)
 */
export const perSignature = <A>(compute: (sig: Signature) => A): (sig: Signature) => A => {
  const cache = new WeakMap<Signature, A>()
  return (sig) => {
    let value = cache.get(sig)
    if (value === undefined) {
      value = compute(sig)
      cache.set(sig, value)
    }
    return value
  }
}

// ---------------------------------------------------------------------------------------------------
// Type names and JSON schemas as DSPy prints them

/** DSPy quotes Literal strings by hand (no backslash escaping), unlike Python's repr. */
const quoteLiteral = (s: string): string => {
  const single = s.includes("'")
  const double = s.includes("\"")
  if (single && !double) return `"${s}"`
  if (single && double) return `'${s.replace(/'/g, "\\'")}'`
  return `'${s}'`
}

const literalName = (v: LiteralValue): string =>
  typeof v === "string"
    ? quoteLiteral(v)
    : typeof v === "boolean"
    ? (v ? "True" : "False")
    : Number.isInteger(v)
    ? String(v)
    : pyFloatRepr(v)

/**
 * DSPy's `get_annotation_name`: the type shown in `1. \`answer\` (float):` and in output reminders.
 *
 * `asSource` writes tuples as a signature string spells them (`tuple[int, ...]`, `tuple[()]`), which
 * DSPy parses back, where DSPy's own name (`tuple[int, Ellipsis]`, `tuple[]`) does not parse.
 *
 * @example
 * annotationName(T.optional(T.int)) // "Union[int, NoneType]"
 * annotationName(T.tupleOf(T.int)) // "tuple[int, Ellipsis]"
 */
export const annotationName = (t: FieldType, asSource = false): string => {
  const name = (u: FieldType) => annotationName(u, asSource)
  switch (t._tag) {
    case "str":
    case "int":
    case "float":
    case "bool":
      return t._tag
    case "any":
      return "Any"
    case "none":
      return "NoneType"
    case "list":
      return `list[${name(t.item)}]`
    case "tuple": {
      // Python prints `...` in tuple[int, ...] as its repr-less name: get_annotation_name(Ellipsis) is "Ellipsis".
      if (t.bare === true) return "tuple"
      const args = t.items.map(name)
      if (t.rest !== undefined) args.push(name(t.rest), asSource ? "..." : "Ellipsis")
      return args.length === 0 && asSource ? "tuple[()]" : `tuple[${args.join(", ")}]`
    }
    case "dict":
      return `dict[${name(t.key)}, ${name(t.value)}]`
    case "literal":
      return `Literal[${t.values.map(literalName).join(", ")}]`
    case "optional":
      return `Union[${name(t.inner)}, NoneType]`
    case "union":
      return `Union[${t.members.map(name).join(", ")}]`
    case "object":
      return t.name
  }
}

/** Python's `str.title()` of a field name with underscores as spaces (pydantic's default field title). */
export const pyTitle = (name: string): string =>
  name.replace(/_/g, " ").toLowerCase().replace(
    /(^|[^\p{L}])(\p{L})/gu,
    (_, pre: string, ch: string) => pre + ch.toUpperCase()
  )

type JsonSchema = Record<string, unknown>

const literalSchema = (values: ReadonlyArray<LiteralValue>): JsonSchema => {
  const out: JsonSchema = values.length === 1 ? { const: values[0] } : { enum: [...values] }
  const kinds = new Set(
    values.map((v) => (typeof v === "number"
      ? (Number.isInteger(v) ? "integer" : "number")
      : typeof v === "boolean"
      ? "boolean"
      : "string")
    )
  )
  if (kinds.size === 1) out.type = [...kinds][0]
  return out
}

/** pydantic gives no title to a field whose schema is a model reference (Optional of one too). */
const isModelRef = (t: FieldType): boolean => t._tag === "object" || (t._tag === "optional" && isModelRef(t.inner))

const schemaOf = (t: FieldType, defs: Record<string, JsonSchema>, top: boolean): JsonSchema => {
  switch (t._tag) {
    case "str":
      return { type: "string" }
    case "int":
      return { type: "integer" }
    case "float":
      return { type: "number" }
    case "bool":
      return { type: "boolean" }
    case "any":
      return {}
    case "none":
      return { type: "null" }
    case "list":
      return { items: schemaOf(t.item, defs, false), type: "array" }
    case "tuple": {
      // pydantic's tuple_schema, keys in pydantic's (sorted) order: a fixed tuple has prefixItems and
      // minItems = maxItems; a variadic one `items` (after minItems/prefixItems for positions before it).
      const prefix = t.items.map((m) => schemaOf(m, defs, false))
      if (t.rest !== undefined) {
        return {
          items: schemaOf(t.rest, defs, false),
          ...(prefix.length > 0 ? { minItems: prefix.length, prefixItems: prefix } : {}),
          type: "array"
        }
      }
      return {
        maxItems: prefix.length,
        minItems: prefix.length,
        ...(prefix.length > 0 ? { prefixItems: prefix } : {}),
        type: "array"
      }
    }
    case "dict": {
      // pydantic (2.13) writes no key schema, whatever the key type.
      return { additionalProperties: t.value._tag === "any" ? true : schemaOf(t.value, defs, false), type: "object" }
    }
    case "literal":
      return literalSchema(t.values)
    case "optional":
      return { anyOf: [schemaOf(t.inner, defs, false), { type: "null" }] }
    case "union":
      return { anyOf: t.members.map((m) => schemaOf(m, defs, false)) }
    case "object": {
      const properties: Record<string, JsonSchema> = {}
      for (const p of t.properties) {
        properties[p.name] = {
          ...schemaOf(p.type, defs, false),
          ...(p.description === undefined ? {} : { description: p.description }),
          ...(isModelRef(p.type) ? {} : { title: pyTitle(p.name) })
        }
      }
      const required = t.properties.filter((p) => !p.optional).map((p) => p.name)
      const model: JsonSchema = {
        properties,
        ...(required.length > 0 ? { required } : {}),
        title: t.name,
        type: "object"
      }
      // pydantic inlines the top-level model and moves nested ones to $defs.
      if (top) return model
      defs[t.name] = model
      return { $ref: `#/$defs/${t.name}` }
    }
  }
}

/**
 * The JSON schema pydantic's `TypeAdapter(t).json_schema()` gives for this type (nested models under
 * `$defs`), which DSPy shows in type notes and sends as structured-output schemas.
 */
export const pydanticSchema = (t: FieldType): JsonSchema => {
  const defs: Record<string, JsonSchema> = {}
  const root = schemaOf(t, defs, true)
  return Object.keys(defs).length === 0 ? root : { ...root, $defs: defs }
}

/** DSPy's `move_type_to_front`: every mapping's keys sorted, `type` first. */
const typeFirst = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(typeFirst)
  if (typeof v !== "object" || v === null) return v
  const keys = Object.keys(v).sort((a, b) => (a === "type" ? -1 : b === "type" ? 1 : a < b ? -1 : a > b ? 1 : 0))
  const out: Record<string, unknown> = {}
  for (const k of keys) out[k] = typeFirst((v as Record<string, unknown>)[k])
  return out
}

// ---------------------------------------------------------------------------------------------------
// Field descriptions, type notes, task description

const isDefaultDesc = (f: Field): boolean => f.desc === `\${${f.name}}`

/** DSPy's `get_field_description_string`: numbered `name (type): desc` lines, the whole block stripped. */
export const fieldDescriptions = (fields: ReadonlyArray<Field>): string =>
  pyStrip(
    fields
      .map((f, i) => {
        const desc = isDefaultDesc(f) ? "" : f.desc
        const constraints = f.constraints === undefined || f.constraints === "" ? "" : `\nConstraints: ${f.constraints}`
        return `${i + 1}. \`${f.name}\` (${annotationName(f.type)}): ${desc}${constraints}`
      })
      .join("\n")
  )

/** "Your input fields are: ... Your output fields are: ..." */
export const fieldDescriptionBlock = (sig: Signature): string =>
  `Your input fields are:\n${fieldDescriptions(sig.inputs)}\nYour output fields are:\n${fieldDescriptions(sig.outputs)}`

/** DSPy's `translate_field_type`: the `{name}` placeholder plus, for typed outputs, a note on the value. */
export const placeholder = (f: Field): string => {
  const note = typeNote(f)
  return note === "" ? `{${f.name}}` : `{${f.name}}        # note: the value you produce ${note}`
}

const typeNote = (f: Field): string => {
  if (f.io === "input") return ""
  const t = f.type
  switch (t._tag) {
    case "str":
      return ""
    case "bool":
      return "must be True or False"
    case "int":
    case "float":
      return `must be a single ${t._tag} value`
    case "literal":
      return `must exactly match (no extra characters) one of: ${t.values.map((v) => pyStr(v)).join("; ")}`
    default:
      return `must adhere to the JSON schema: ${pyJsonDumps(typeFirst(pydanticSchema(t)))}`
  }
}

/** "In adhering to this structure, your objective is: " + the instructions, each line indented 8 spaces. */
export const taskDescription = (instructions: string): string =>
  `In adhering to this structure, your objective is: ${
    pySplitLines(dedent(instructions)).map((l) => `\n        ${l}`).join("")
  }`

/** " (must be formatted as a valid Python float)" for non-str outputs, as in DSPy's output reminder. */
export const typeHint = (
  f: Field
): string => (f.type._tag === "str" ? "" : ` (must be formatted as a valid Python ${annotationName(f.type)})`)

// ---------------------------------------------------------------------------------------------------
// Values

const formatBlob = (blob: unknown): string => {
  const s = typeof blob === "string" ? blob : pyStr(blob)
  if (!s.includes("\n") && !s.includes("«") && !s.includes("»")) return `«${s}»`
  return `«««\n    ${s.replace(/\n/g, "\n    ")}\n»»»`
}

const formatListForText = (value: ReadonlyArray<unknown>): string => {
  if (value.length === 0) return "N/A"
  if (value.length === 1) return formatBlob(value[0])
  return value.map((v, i) => `[${i + 1}] ${formatBlob(v)}`).join("\n")
}

/**
 * DSPy's `format_field_value`: strings verbatim, a list given to a `str` field as numbered «» items,
 * containers as one-line JSON, other values as Python's `str()` (`True`, `None`, `1.0`).
 *
 * @example
 * formatFieldValue(field, ["a", "b"]) // "[1] «a»\n[2] «b»" when field is str
 */
export const formatFieldValue = (f: Field, value: unknown): string => {
  if (typeof value === "string") return value
  if (Array.isArray(value) && f.type._tag === "str") return formatListForText(value)
  const jsonable = toJsonable(value)
  if (typeof jsonable === "object" && jsonable !== null) return pyJsonDumps(jsonable, f.type)
  return pyStr(jsonable, f.type)
}

/** A value is present in a demo or inputs record (undefined counts as absent, null as Python's None). */
export const has = (record: Readonly<Record<string, unknown>>, key: string): boolean =>
  Object.hasOwn(record, key) && record[key] !== undefined

// ---------------------------------------------------------------------------------------------------
// Message assembly

export const STRUCTURE_INTRO =
  "All interactions will be structured in the following way, with the appropriate values filled in."
export const INCOMPLETE_DEMO_PREFIX =
  "This is an example of the task, though some input or output fields are not supplied."
export const MISSING_IN_DEMO = "Not supplied for this particular example. "
const MISSING_IN_HISTORY = "Not supplied for this conversation history message. "

/** How one adapter lays out a system message and the contents of user and assistant turns. */
export interface Layout {
  readonly name: string
  /** Field structure block of the system message (between descriptions and objective). */
  readonly structure: (sig: Signature) => string
  /** A user turn: `prefix`, the inputs present in `values`, and the output reminder when `mainRequest`. */
  readonly user: (
    sig: Signature,
    values: Readonly<Record<string, unknown>>,
    prefix: string,
    mainRequest: boolean
  ) => string
  /** An assistant turn with every output field; absent ones get `missing`. */
  readonly assistant: (sig: Signature, values: Readonly<Record<string, unknown>>, missing: string) => string
}

const systemCache = new WeakMap<Layout, WeakMap<Signature, string>>()

/** The system message, computed once per (layout, signature): signatures are immutable. */
export const systemMessage = (layout: Layout, sig: Signature): string => {
  let perLayout = systemCache.get(layout)
  if (perLayout === undefined) {
    perLayout = new WeakMap()
    systemCache.set(layout, perLayout)
  }
  let text = perLayout.get(sig)
  if (text === undefined) {
    text = `${fieldDescriptionBlock(sig)}\n${layout.structure(sig)}\n${taskDescription(sig.instructions)}`
    perLayout.set(sig, text)
  }
  return text
}

/** Demos may arrive as Example or Prediction objects; their fields are what `toJSON` returns. */
const asRecord = (demo: Demo): Demo => {
  const toJSON = (demo as { toJSON?: unknown }).toJSON
  return typeof toJSON === "function" ? (toJSON.call(demo) as Demo) : demo
}

/** The demo turns: incomplete demos (some field absent) first, demos lacking inputs or outputs dropped. */
const demoTurns = (layout: Layout, sig: Signature, demos: ReadonlyArray<Demo>): Array<Message> => {
  const complete: Array<Demo> = []
  const incomplete: Array<Demo> = []
  const fields = sig.fields
  for (const given of demos) {
    const demo = asRecord(given)
    if (fields.every((f) => has(demo, f.name) && demo[f.name] !== null)) complete.push(demo)
    else if (sig.inputs.some((f) => has(demo, f.name)) && sig.outputs.some((f) => has(demo, f.name))) {
      incomplete.push(demo)
    }
  }
  const out: Array<Message> = []
  // DSPy shows the incomplete demos first.
  for (const demo of incomplete) {
    out.push({ role: "user", content: layout.user(sig, demo, INCOMPLETE_DEMO_PREFIX, false) })
    out.push({ role: "assistant", content: layout.assistant(sig, demo, MISSING_IN_DEMO) })
  }
  for (const demo of complete) {
    out.push({ role: "user", content: layout.user(sig, demo, "", false) })
    out.push({ role: "assistant", content: layout.assistant(sig, demo, MISSING_IN_HISTORY) })
  }
  return out
}

/**
 * The demo turns as last rendered for one demos array, kept while the array and its demos are unchanged.
 * A predictor sends the same demos on every call, and rendering them is most of the formatting work.
 * Only arrays of plain records with primitive values are kept: their contents can be compared exactly
 * (anything nested could change without the comparison noticing).
 */
interface DemoTurns {
  readonly items: ReadonlyArray<Demo>
  /** Each demo's keys and values, flattened, as they were when rendered. */
  readonly snapshot: ReadonlyArray<unknown>
  readonly turns: ReadonlyArray<Message>
}

const demoCache = new WeakMap<Layout, WeakMap<Signature, WeakMap<ReadonlyArray<Demo>, DemoTurns>>>()

const isPrimitive = (u: unknown): boolean => u === null || (typeof u !== "object" && typeof u !== "function")

/** The flattened keys and values of plain, primitive-valued demos; undefined when they cannot be compared. */
const snapshotOf = (demos: ReadonlyArray<Demo>): Array<unknown> | undefined => {
  const out: Array<unknown> = []
  for (const demo of demos) {
    const proto = Object.getPrototypeOf(demo)
    if (proto !== Object.prototype && proto !== null) return undefined
    for (const key in demo) {
      const value = demo[key]
      if (!isPrimitive(value)) return undefined
      out.push(key, value)
    }
    out.push(demoEnd)
  }
  return out
}
const demoEnd = Symbol("demoEnd")

const unchanged = (entry: DemoTurns, demos: ReadonlyArray<Demo>): boolean => {
  if (entry.items.length !== demos.length) return false
  const snap = entry.snapshot
  let i = 0
  for (let d = 0; d < demos.length; d++) {
    const demo = demos[d]!
    if (demo !== entry.items[d]) return false
    for (const key in demo) {
      if (snap[i] !== key || snap[i + 1] !== demo[key]) return false
      i += 2
    }
    if (snap[i++] !== demoEnd) return false
  }
  return i === snap.length
}

const cachedDemoTurns = (layout: Layout, sig: Signature, demos: ReadonlyArray<Demo>): ReadonlyArray<Message> => {
  let bySig = demoCache.get(layout)
  if (bySig === undefined) demoCache.set(layout, bySig = new WeakMap())
  let byDemos = bySig.get(sig)
  if (byDemos === undefined) bySig.set(sig, byDemos = new WeakMap())
  const entry = byDemos.get(demos)
  if (entry !== undefined && unchanged(entry, demos)) return entry.turns
  // Frozen: the same message objects go out on later calls, so nothing may edit them in place.
  const turns = demoTurns(layout, sig, demos).map((m) => Object.freeze(m))
  const snapshot = snapshotOf(demos)
  if (snapshot !== undefined) byDemos.set(demos, { items: [...demos], snapshot, turns })
  else byDemos.delete(demos)
  return turns
}

/** DSPy's `Adapter.format`: system message, demo turns, then the user message (omitted when empty). */
export const renderMessages = (
  layout: Layout,
  sig: Signature,
  demos: ReadonlyArray<Demo>,
  inputs: Readonly<Record<string, unknown>>
): Array<Message> => {
  const messages: Array<Message> = [{ role: "system", content: systemMessage(layout, sig) }]
  if (demos.length > 0) {
    for (const turn of cachedDemoTurns(layout, sig, demos)) messages.push(turn)
  }
  const user = layout.user(sig, inputs, "", true)
  if (user !== "") messages.push({ role: "user", content: user })
  return messages
}

/** `[[ ## name ## ]]\nvalue` sections joined by blank lines (DSPy's `format_field_with_value`). */
export const chatSections = (fields: ReadonlyArray<Field>, value: (f: Field) => string): string =>
  joinParts(fields.map((f) => `[[ ## ${f.name} ## ]]\n${value(f)}`))

/** A user turn in `[[ ## ]]` sections: prefix, present inputs, then the reminder for the main request. */
export const chatUserContent = (
  sig: Signature,
  values: Readonly<Record<string, unknown>>,
  prefix: string,
  reminder: string | undefined
): string => {
  const parts = [prefix]
  for (const f of sig.inputs) {
    if (has(values, f.name)) parts.push(`[[ ## ${f.name} ## ]]\n${formatFieldValue(f, values[f.name])}`)
  }
  if (reminder !== undefined) parts.push(reminder)
  parts.push("")
  return joinParts(parts)
}

/** Joins message parts with blank lines and strips the result, as DSPy's `"\n\n".join(...).strip()`. */
export const joinParts = (parts: ReadonlyArray<string>): string => pyStrip(parts.join("\n\n"))
