/**
 * XMLAdapter: fields travel as `<name>…</name>`; list, dict and model outputs as nested XML
 * (`<keywords><item>a</item></keywords>`). Renders byte-identical to DSPy 3.3.1, parses replies as XML
 * (well-formedness errors included, as Python's ElementTree reports them) and, like DSPy's XMLAdapter
 * (a ChatAdapter subclass), retries once with JSONAdapter when a reply cannot be parsed.
 *
 * @example
 * ```ts
 * import { Signature, XMLAdapter } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const sig = Signature.make("question -> answer")
 * const messages = XMLAdapter.defaultAdapter.format(sig, [], { question: "2+2?" }) // the user message starts "<question>\n2+2?\n</question>"
 * const outputs = await Effect.runPromise(XMLAdapter.defaultAdapter.parse(sig, "<answer>4</answer>")) // { answer: "4" }
 * ```
 */
import type { Adapter, AdapterCall, Demo } from "./Adapter.ts"
import type { FieldType } from "./FieldType.ts"
import {
  callWithFallback,
  completeOutputs,
  EMPTY_RESPONSE,
  type ParseCore,
  parseError,
  tracedParse
} from "./internal/adapterCall.ts"
import {
  formatFieldValue,
  has,
  joinParts,
  type Layout,
  perSignature,
  placeholder,
  renderMessages,
  STRUCTURE_INTRO
} from "./internal/adapterFormat.ts"
import { parseField, validateField } from "./internal/parseValue.ts"
import { pyRepr, pyStr, pyStrip, toJsonable } from "./internal/pyText.ts"
import * as JSONAdapter from "./JSONAdapter.ts"
import type { Field, Signature } from "./Signature.ts"

// ---------------------------------------------------------------------------------------------------
// Rendering

/** DSPy's `_uses_nested_xml`: lists, dicts and models (Optional of one of them too). */
const usesNestedXml = (t: FieldType): boolean => {
  let a = t
  if (t._tag === "optional") a = t.inner
  else if (t._tag === "union") {
    const nonNull = t.members.filter((m) => m._tag !== "none")
    if (nonNull.length === 1) a = nonNull[0]!
  }
  return a._tag === "list" || a._tag === "dict" || a._tag === "object"
}

const escapeText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;")

/** `xml.sax.saxutils.quoteattr`. */
const quoteAttr = (s: string): string => {
  const v = s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, "&#10;").replace(
    /\r/g,
    "&#13;"
  ).replace(/\t/g, "&#9;")
  if (!v.includes("\"")) return `"${v}"`
  if (!v.includes("'")) return `'${v}'`
  return `"${v.replace(/"/g, "&quot;")}"`
}

/** Python's `str.isidentifier` after DSPy maps `-` and `.` (past the first character) to `_`. */
const validTag = (name: string): boolean =>
  /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u.test(name.slice(0, 1) + name.slice(1).replace(/[-.]/g, "_"))

const childType = (t: FieldType | undefined, key?: string, index = 0): FieldType | undefined => {
  if (t === undefined) return undefined
  if (t._tag === "optional") return childType(t.inner, key, index)
  if (t._tag === "list") return key === undefined ? t.item : undefined
  if (t._tag === "tuple") return key === undefined ? (t.items[index] ?? t.rest) : undefined
  if (t._tag === "dict") return key === undefined ? undefined : t.value
  if (t._tag === "object") return key === undefined ? undefined : t.properties.find((p) => p.name === key)?.type
  return undefined
}

/** DSPy's `_value_to_xml`: lists as `<item>`s, dicts as child tags (`<entry key=…>` for odd keys). */
const valueToXml = (raw: unknown, tag: string, t: FieldType | undefined, key?: string): string => {
  const value = toJsonable(raw)
  const attrs = key === undefined ? "" : ` key=${quoteAttr(key)}`
  if (Array.isArray(value)) {
    const children = value.map((v, i) => valueToXml(v, "item", childType(t, undefined, i))).join("")
    return children === "" ? `<${tag}${attrs} />` : `<${tag}${attrs}>${children}</${tag}>`
  }
  if (typeof value === "object" && value !== null) {
    const children = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map((
        [name, child]
      ) => (validTag(name)
        ? valueToXml(child, name, childType(t, name))
        : valueToXml(child, "entry", childType(t, name), name))
      )
      .join("")
    return `<${tag}${attrs}>${children}</${tag}>`
  }
  return value === null ? `<${tag}${attrs} />` : `<${tag}${attrs}>${escapeText(pyStr(value, t))}</${tag}>`
}

/** DSPy's `_xml_schema`: the nested shape of a structured output, leaves as `...`. */
const xmlSchema = (tag: string, t: FieldType): string => {
  switch (t._tag) {
    case "optional":
      return xmlSchema(tag, t.inner)
    case "union":
      return xmlSchema(tag, t.members.find((m) => m._tag !== "none") ?? t.members[0]!)
    case "list":
      return `<${tag}>${xmlSchema("item", t.item)}</${tag}>`
    case "tuple":
      // DSPy reads the schema's `items`, which only a variadic tuple has (a fixed one has prefixItems).
      return `<${tag}>${xmlSchema("item", t.rest ?? anyType)}</${tag}>`
    case "object": {
      const children = t.properties.map((p) => xmlSchema(p.name, p.type)).join("")
      return children === "" ? `<${tag}>...</${tag}>` : `<${tag}>${children}</${tag}>`
    }
    default:
      return `<${tag}>...</${tag}>`
  }
}

/** One field with its value, as DSPy's `XMLAdapter.format_field_with_value` renders it. */
const xmlField = (f: Field, value: unknown): string => {
  const isOutput = f.io === "output"
  if (isOutput && usesNestedXml(f.type)) {
    const serialized = toJsonable(value)
    if (typeof serialized === "object" && serialized !== null) return valueToXml(serialized, f.name, f.type)
  }
  const formatted = formatFieldValue(f, value)
  return `<${f.name}>\n${isOutput && f.type._tag === "str" ? escapeText(formatted) : formatted}\n</${f.name}>`
}

const xmlFields = (pairs: ReadonlyArray<readonly [Field, unknown]>): string =>
  joinParts(pairs.map(([f, v]) => xmlField(f, v)))

const reminder = perSignature((sig) => {
  const schemas = sig.outputs.filter((f) => usesNestedXml(f.type)).map((f) => xmlSchema(f.name, f.type))
  return `Respond with the corresponding output fields wrapped in XML tags ${
    sig.outputs.map((f) => `\`<${f.name}>\``).join(", then ")
  }.` +
    (schemas.length > 0 ? ` Use this nested XML structure: ${schemas.join(" ")}` : "")
})

/** The XMLAdapter layout (system structure, user and assistant turns). */
const xmlLayout: Layout = {
  name: "XMLAdapter",
  structure: (sig) => {
    const group = (fields: ReadonlyArray<Field>) =>
      fields.map((
        f
      ) => (f.io === "output" && usesNestedXml(f.type) ? xmlSchema(f.name, f.type) : xmlFields([[f, placeholder(f)]])))
        .join("\n\n")
    // Unlike ChatAdapter, DSPy does not strip this block.
    return [STRUCTURE_INTRO, group(sig.inputs), group(sig.outputs)].join("\n\n")
  },
  user: (sig, values, prefix, mainRequest) => {
    const parts = [
      prefix,
      xmlFields(sig.inputs.filter((f) => has(values, f.name)).map((f) => [f, values[f.name]] as const))
    ]
    if (mainRequest) parts.push(reminder(sig))
    parts.push("")
    return joinParts(parts)
  },
  assistant: (sig, values, missing) =>
    xmlFields(sig.outputs.map((f) => [f, has(values, f.name) ? values[f.name] : missing] as const))
}

// ---------------------------------------------------------------------------------------------------
// A small XML parser with ElementTree's model (text, children, tail) and expat's strictness

interface XmlElement {
  readonly tag: string
  readonly attrs: Array<readonly [string, string]>
  text: string
  tail: string
  readonly children: Array<XmlElement>
}

class XmlSyntaxError extends Error {}

const nameStart =
  /[A-Za-z_:\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/
const nameRest =
  /[-.0-9\u00B7\u0300-\u036F\u203F\u2040A-Za-z_:\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/
const badChar = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/
const namedEntities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

const parseXml = (input: string): XmlElement => {
  const src = input.replace(/\r\n?/g, "\n")
  let pos = 0
  const fail = (what: string, at = pos): never => {
    const before = src.slice(0, at)
    const line = before.split("\n").length
    throw new XmlSyntaxError(`${what}: line ${line}, column ${at - before.lastIndexOf("\n") - 1}`)
  }
  const stack: Array<XmlElement> = []
  let root: XmlElement | undefined
  const readName = (): string => {
    const start = pos
    if (!nameStart.test(src[pos] ?? "")) fail("not well-formed (invalid token)")
    pos++
    while (pos < src.length && nameRest.test(src[pos]!)) pos++
    return src.slice(start, pos)
  }
  const decode = (raw: string, offset: number): string => {
    const bad = badChar.exec(raw)
    if (bad !== null) fail("not well-formed (invalid token)", offset + bad.index)
    if (!raw.includes("&")) return raw
    return raw.replace(/&([^;&<\s]*);?/g, (m, name: string, at: number) => {
      if (!m.endsWith(";") || name === "") fail("not well-formed (invalid token)", offset + at + 1)
      if (name.startsWith("#")) {
        const code = name[1] === "x" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10)
        if (!/^#(x[0-9a-fA-F]+|[0-9]+)$/.test(name) || code === 0 || code > 0x10ffff) {
          fail("reference to invalid character number", offset + at)
        }
        return String.fromCodePoint(code)
      }
      const v = namedEntities[name]
      return v ?? fail("undefined entity", offset + at)
    })
  }
  const addText = (text: string) => {
    const top = stack[stack.length - 1]
    if (top === undefined) {
      if (text.trim() !== "") fail(root === undefined ? "syntax error" : "junk after document element")
      return
    }
    const last = top.children[top.children.length - 1]
    if (last === undefined) top.text += text
    else last.tail += text
  }
  while (pos < src.length) {
    if (src[pos] !== "<") {
      const end = src.indexOf("<", pos)
      const raw = src.slice(pos, end < 0 ? src.length : end)
      const cdataEnd = raw.indexOf("]]>")
      if (cdataEnd >= 0) fail("not well-formed (invalid token)", pos + cdataEnd)
      addText(decode(raw, pos))
      pos += raw.length
      continue
    }
    if (src.startsWith("<!--", pos)) {
      const end = src.indexOf("-->", pos + 4)
      if (end < 0) fail("unclosed token")
      if (src.slice(pos + 4, end).includes("--")) fail("not well-formed (invalid token)")
      pos = end + 3
    } else if (src.startsWith("<![CDATA[", pos)) {
      const end = src.indexOf("]]>", pos + 9)
      if (end < 0 || stack.length === 0) fail(end < 0 ? "unclosed CDATA section" : "syntax error")
      addText(src.slice(pos + 9, end))
      pos = end + 3
    } else if (src.startsWith("<?", pos)) {
      const end = src.indexOf("?>", pos + 2)
      if (end < 0) fail("unclosed token")
      if (/^xml(\s|$)/i.test(src.slice(pos + 2, end))) fail("XML or text declaration not at start of entity")
      pos = end + 2
    } else if (src.startsWith("<!", pos)) {
      fail("syntax error")
    } else if (src.startsWith("</", pos)) {
      const at = pos
      pos += 2
      const name = readName()
      while (/\s/.test(src[pos] ?? "")) pos++
      if (src[pos] !== ">") fail("not well-formed (invalid token)")
      pos++
      const open = stack.pop()
      if (open === undefined || open.tag !== name) fail("mismatched tag", at + 2)
    } else {
      pos++
      if (stack.length === 0 && root !== undefined) fail("junk after document element", pos - 1)
      const el: XmlElement = { tag: readName(), attrs: [], text: "", tail: "", children: [] }
      for (;;) {
        const hadSpace = /\s/.test(src[pos] ?? "")
        while (/\s/.test(src[pos] ?? "")) pos++
        if (src.startsWith("/>", pos) || src[pos] === ">") break
        if (!hadSpace || pos >= src.length) {
          fail(pos >= src.length ? "unclosed token" : "not well-formed (invalid token)")
        }
        const name = readName()
        while (/\s/.test(src[pos] ?? "")) pos++
        if (src[pos] !== "=") fail("not well-formed (invalid token)")
        pos++
        while (/\s/.test(src[pos] ?? "")) pos++
        const q = src[pos]
        if (q !== "\"" && q !== "'") fail("not well-formed (invalid token)")
        const end = src.indexOf(q, pos + 1)
        if (end < 0) fail("unclosed token")
        const raw = src.slice(pos + 1, end)
        if (raw.includes("<")) fail("not well-formed (invalid token)", pos + 1 + raw.indexOf("<"))
        if (el.attrs.some(([n]) => n === name)) fail("duplicate attribute")
        el.attrs.push([name, decode(raw, pos + 1).replace(/[\n\t]/g, " ")])
        pos = end + 1
      }
      const parent = stack[stack.length - 1]
      if (parent === undefined) root = el
      else parent.children.push(el)
      if (src[pos] === "/") pos += 2
      else {
        pos++
        stack.push(el)
      }
    }
  }
  if (stack.length > 0) fail("no element found")
  return root ?? fail("no element found")
}

const escapeXmlText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const escapeXmlAttr = (s: string): string =>
  escapeXmlText(s).replace(/"/g, "&quot;").replace(/\r/g, "&#13;").replace(/\n/g, "&#10;").replace(/\t/g, "&#09;")

/** `ET.tostring(element)`: the element and its tail. */
const serialize = (el: XmlElement): string => {
  const attrs = el.attrs.map(([k, v]) => ` ${k}="${escapeXmlAttr(v)}"`).join("")
  const body = el.text === "" && el.children.length === 0
    ? `<${el.tag}${attrs} />`
    : `<${el.tag}${attrs}>${escapeXmlText(el.text)}${el.children.map(serialize).join("")}</${el.tag}>`
  return body + escapeXmlText(el.tail)
}

/** DSPy's `_group_children`: children by tag (by `key` for `<entry>`), in order of appearance. */
const groupChildren = (el: XmlElement): Map<string, Array<XmlElement>> => {
  const groups = new Map<string, Array<XmlElement>>()
  for (const child of el.children) {
    const key = child.tag === "entry" ? (child.attrs.find(([n]) => n === "key")?.[1] ?? child.tag) : child.tag
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [child])
    else list.push(child)
  }
  return groups
}

// ---------------------------------------------------------------------------------------------------
// Parsing

const stringTyped = (t: FieldType): boolean =>
  t._tag === "str" || (t._tag === "literal" && t.values.every((v) => typeof v === "string"))

const unionParts = (
  t: FieldType
): { readonly nullable: boolean; readonly choices: ReadonlyArray<FieldType> } | undefined => {
  if (t._tag === "optional") return { nullable: true, choices: [t.inner] }
  if (t._tag === "union") {
    return {
      nullable: t.members.some((m) => m._tag === "none"),
      choices: t.members.filter((m) => m._tag !== "none")
    }
  }
  return undefined
}

const anyType: FieldType = { _tag: "any" }

const memberOf = (t: FieldType, name: string): FieldType => {
  if (t._tag === "object") return t.properties.find((p) => p.name === name)?.type ?? anyType
  if (t._tag === "dict") return t.value
  return anyType
}

/** DSPy's `_elements_to_value`: the JSON-like value the elements spell for this type. */
const elementsToValue = (elements: ReadonlyArray<XmlElement>, type: FieldType): unknown => {
  let t = type
  let els = elements
  const first = els[0]!
  const union = unionParts(t)
  if (union !== undefined) {
    if (union.nullable && first.children.length === 0 && pyStrip(first.text) === "") return null
    t = union.choices[0] ?? { _tag: "none" }
    if (first.children.length > 0) t = union.choices.find((c) => !stringTyped(c)) ?? t
  }
  if (t._tag === "list" || t._tag === "tuple") {
    if (els.length === 1 && first.children.length === 0) {
      const text = pyStrip(first.text)
      if (text === "" || text.startsWith("[")) return text === "" ? [] : text
    }
    if (els.length === 1) {
      const items = groupChildren(first).get("item")
      if (items !== undefined) els = items
    }
    // As DSPy, each element is read with the schema's `items`: a fixed tuple has none (any value).
    const item = t._tag === "list" ? t.item : (t.rest ?? anyType)
    return els.map((e) => elementsToValue([e], item))
  }
  if (stringTyped(t) && first.children.length > 0) return first.text + first.children.map(serialize).join("")
  const children = groupChildren(first)
  if (children.size === 0) {
    if ((t._tag === "dict" || t._tag === "object") && pyStrip(first.text) === "") return {}
    const values = els.map((e) => pyStrip(e.text))
    return values.length === 1 ? values[0] : values
  }
  const out: Record<string, unknown> = {}
  for (const [name, items] of children) out[name] = elementsToValue(items, memberOf(t, name))
  return out
}

/** DSPy's `XMLAdapter.parse`: the reply is parsed as XML; each output field from its top-level element. */
const parseXmlReply = (adapter: string): ParseCore => (sig, completion) => {
  if (completion === "") return parseError(adapter, sig, completion, EMPTY_RESPONSE)
  let root: XmlElement
  try {
    root = parseXml(`<dspy_root>${completion}</dspy_root>`)
  } catch (e) {
    return parseError(adapter, sig, completion, `Failed to parse XML: ${(e as Error).message}`)
  }
  const groups = groupChildren(root)
  const found = new Map<string, unknown>()
  for (const f of sig.outputs) {
    const elements = groups.get(f.name)
    if (elements === undefined) continue
    const union = unionParts(f.type)
    const candidates = [
      f.type,
      ...(union === undefined
        ? []
        : f.type._tag === "optional"
        ? [f.type.inner, { _tag: "none" } as const]
        : f.type._tag === "union"
        ? f.type.members
        : [])
    ]
    let value: unknown
    let error = ""
    let done = false
    for (const candidate of candidates) {
      value = elementsToValue(elements, candidate)
      let result = parseField(f, value)
      if (!result.ok) result = validateField(f, value)
      if (result.ok) {
        found.set(f.name, result.value)
        done = true
        break
      }
      error = result.error
    }
    if (!done) {
      return parseError(
        adapter,
        sig,
        completion,
        `Failed to parse field ${f.name} with value ${pyRepr(value)}: ${error}`,
        { field: f.name }
      )
    }
  }
  return completeOutputs(adapter, sig, completion, found)
}

export interface XMLAdapterOptions {
  /** Retry once with JSONAdapter when the reply cannot be parsed (default true, as in DSPy). */
  readonly useJsonAdapterFallback?: boolean | undefined
}

const format = (sig: Signature, demos: ReadonlyArray<Demo>, inputs: Readonly<Record<string, unknown>>) =>
  renderMessages(xmlLayout, sig, demos, inputs)

const parseCore = parseXmlReply("XMLAdapter")
const parse = tracedParse("XMLAdapter", parseCore)

/**
 * An XMLAdapter.
 *
 * @example
 * ```ts
 * import { XMLAdapter } from "@dspex/core"
 *
 * const xml = XMLAdapter.make({ useJsonAdapterFallback: false }) // an unparsable reply fails with AdapterParseError
 * ```
 */
export const make = (options: XMLAdapterOptions = {}): Adapter => {
  const fallback = options.useJsonAdapterFallback ?? true
  const pipeline = { name: "XMLAdapter", format, parse: parseCore }
  return {
    name: "XMLAdapter",
    format,
    parse,
    // LM errors (including context-window overflows) are never retried with another format.
    call: (call: AdapterCall) =>
      callWithFallback(pipeline, call, fallback ? JSONAdapter.defaultAdapter.call : undefined)
  }
}

/**
 * An XMLAdapter with DSPy's defaults (JSON fallback on).
 *
 * @example
 * ```ts
 * import { Adapter, Predict, XMLAdapter } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer").call({ question: "2+2?" })
 * const withXml = Effect.provideService(program, Adapter.CurrentAdapter, XMLAdapter.defaultAdapter)
 * ```
 */
export const defaultAdapter: Adapter = make()
