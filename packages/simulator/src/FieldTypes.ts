/**
 * Output field types as the simulator understands them. Prompts describe types two ways (DSPy's Python
 * annotation such as `list[str]` and a JSON schema in type notes or `response_format`); both are reduced to
 * one small shape so the solver can produce a value of the right type whichever way it was asked.
 */

export type LiteralOption = string | number | boolean

export type TypeSpec =
  | { readonly kind: "str" }
  | { readonly kind: "int" }
  | { readonly kind: "float" }
  | { readonly kind: "bool" }
  | { readonly kind: "any" }
  | { readonly kind: "none" }
  | { readonly kind: "list"; readonly item: TypeSpec }
  /** A fixed-length tuple (`tuple[int, str]`, a schema's `prefixItems`); variadic tuples are lists. */
  | { readonly kind: "tuple"; readonly items: ReadonlyArray<TypeSpec> }
  | { readonly kind: "dict"; readonly value: TypeSpec }
  | { readonly kind: "literal"; readonly options: ReadonlyArray<LiteralOption> }
  | { readonly kind: "optional"; readonly inner: TypeSpec }
  | {
    readonly kind: "object"
    readonly properties: ReadonlyArray<{ readonly name: string; readonly type: TypeSpec }>
  }

/** An output field the simulated model must produce. */
export interface OutputFieldSpec {
  readonly name: string
  /** The Python-style annotation DSPy prints (`float`, `list[str]`, `Literal['a', 'b']`); default `str`. */
  readonly type?: string | undefined
  /** The value's JSON schema when the request carries one; wins over `type` for structure. */
  readonly schema?: unknown
  /** Allowed values when only a "must exactly match one of: a; b" note is known. */
  readonly options?: ReadonlyArray<string> | undefined
  readonly description?: string | undefined
}

const STR: TypeSpec = { kind: "str" }
const ANY: TypeSpec = { kind: "any" }

type Token = { readonly t: "id" | "str" | "num" | "punct"; readonly v: string }

const tokenize = (src: string): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === "'" || c === "\"") {
      let j = i + 1
      let v = ""
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\" && j + 1 < src.length) j++
        v += src[j]
        j++
      }
      out.push({ t: "str", v })
      i = j + 1
    } else if (/[-\d]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))
      const v = m ? m[0] : c
      out.push({ t: "num", v })
      i += v.length
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w.]*/.exec(src.slice(i))!
      out.push({ t: "id", v: m[0] })
      i += m[0].length
    } else {
      out.push({ t: "punct", v: c })
      i++
    }
  }
  return out
}

/**
 * Parses a Python annotation as DSPy prints it. Unknown class names become an object with no known
 * properties (a type note's JSON schema usually fills them in).
 */
export const parseTypeName = (src: string | undefined): TypeSpec => {
  if (src === undefined || src.trim() === "") return STR
  const toks = tokenize(src)
  let pos = 0
  const peek = () => toks[pos]
  const eat = (v: string) => {
    if (toks[pos]?.v === v) pos++
  }
  const args = (): Array<Token | TypeSpec> => {
    const list: Array<Token | TypeSpec> = []
    if (peek()?.v !== "[") return list
    pos++
    while (pos < toks.length && peek()?.v !== "]") {
      const tok = peek()!
      if (tok.v === "." || tok.v === "Ellipsis") {
        // `tuple[int, ...]` (DSPy prints it `tuple[int, Ellipsis]`): the tuple is variadic.
        while (peek()?.v === ".") pos++
        if (tok.v === "Ellipsis") pos++
        list.push(tok)
      } else if (tok.t === "str" || tok.t === "num") {
        list.push(tok)
        pos++
      } else if (tok.t === "id" && (tok.v === "True" || tok.v === "False")) {
        list.push(tok)
        pos++
      } else {
        list.push(one())
      }
      eat(",")
    }
    eat("]")
    return list
  }
  const isType = (x: Token | TypeSpec): x is TypeSpec => "kind" in x
  const one = (): TypeSpec => {
    const tok = toks[pos++]
    if (!tok || tok.t !== "id") return STR
    const name = tok.v.replace(/^typing\./, "")
    const a = args()
    const types = a.filter(isType)
    switch (name) {
      case "str":
        return STR
      case "int":
        return { kind: "int" }
      case "float":
        return { kind: "float" }
      case "bool":
        return { kind: "bool" }
      case "Any":
      case "object":
        return ANY
      case "None":
      case "NoneType":
        return { kind: "none" }
      case "list":
      case "List":
      case "set":
      case "Set":
      case "Sequence":
        return { kind: "list", item: types[0] ?? ANY }
      case "tuple":
      case "Tuple": {
        const variadic = a.some((x) => !isType(x) && (x.v === "." || x.v === "Ellipsis"))
        return variadic || a.length === 0 ? { kind: "list", item: types[0] ?? ANY } : { kind: "tuple", items: types }
      }
      case "dict":
      case "Dict":
      case "Mapping":
        return { kind: "dict", value: types[1] ?? ANY }
      case "Optional":
        return { kind: "optional", inner: types[0] ?? ANY }
      case "Union": {
        const rest = types.filter((t) => t.kind !== "none")
        const inner = rest[0] ?? ANY
        return rest.length < types.length ? { kind: "optional", inner } : inner
      }
      case "Literal":
        return {
          kind: "literal",
          options: a.map((x) => isType(x) ? "" : x.t === "num" ? Number(x.v) : x.t === "id" ? x.v === "True" : x.v)
        }
      default:
        return { kind: "object", properties: [] }
    }
  }
  const spec = one()
  // `int | None` (PEP 604) as some signatures print it.
  if (peek()?.v === "|") {
    pos++
    const other = one()
    if (other.kind === "none") return { kind: "optional", inner: spec }
    if (spec.kind === "none") return { kind: "optional", inner: other }
  }
  return spec
}

type Json = Record<string, unknown>
const isObj = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x)

/** Reduces a JSON schema (pydantic or hand written, `$ref`s into `$defs` resolved) to a {@link TypeSpec}. */
export const typeFromSchema = (schema: unknown, root: unknown = schema, depth = 0): TypeSpec => {
  if (!isObj(schema) || depth > 12) return ANY
  const ref = schema["$ref"]
  if (typeof ref === "string" && isObj(root)) {
    const parts = ref.replace(/^#\//, "").split("/")
    let target: unknown = root
    for (const p of parts) target = isObj(target) ? target[p] : undefined
    return typeFromSchema(target, root, depth + 1)
  }
  if (Array.isArray(schema["enum"])) {
    return { kind: "literal", options: (schema["enum"] as Array<unknown>).filter(isLiteral) }
  }
  if (isLiteral(schema["const"])) return { kind: "literal", options: [schema["const"]] }
  const union = schema["anyOf"] ?? schema["oneOf"]
  if (Array.isArray(union)) {
    const members = union.map((m) => typeFromSchema(m, root, depth + 1))
    const rest = members.filter((m) => m.kind !== "none")
    const inner = rest[0] ?? ANY
    return rest.length < members.length ? { kind: "optional", inner } : inner
  }
  let type = schema["type"]
  if (Array.isArray(type)) {
    const rest = type.filter((t) => t !== "null")
    const inner = typeFromSchema({ ...schema, type: rest[0] }, root, depth + 1)
    return rest.length < type.length ? { kind: "optional", inner } : inner
  }
  if (type === undefined && isObj(schema["properties"])) type = "object"
  switch (type) {
    case "string":
      return STR
    case "integer":
      return { kind: "int" }
    case "number":
      return { kind: "float" }
    case "boolean":
      return { kind: "bool" }
    case "null":
      return { kind: "none" }
    case "array": {
      // pydantic's fixed-length tuple: `prefixItems` and no `items`.
      const prefix = schema["prefixItems"]
      if (Array.isArray(prefix) && schema["items"] === undefined) {
        return { kind: "tuple", items: prefix.map((s) => typeFromSchema(s, root, depth + 1)) }
      }
      return { kind: "list", item: typeFromSchema(schema["items"], root, depth + 1) }
    }
    case "object": {
      const props = schema["properties"]
      if (isObj(props) && Object.keys(props).length > 0) {
        return {
          kind: "object",
          properties: Object.entries(props).map(([name, s]) => ({ name, type: typeFromSchema(s, root, depth + 1) }))
        }
      }
      const extra = schema["additionalProperties"]
      return { kind: "dict", value: isObj(extra) ? typeFromSchema(extra, root, depth + 1) : ANY }
    }
    default:
      return ANY
  }
}

const isLiteral = (x: unknown): x is LiteralOption =>
  typeof x === "string" || typeof x === "number" || typeof x === "boolean"

/** The effective type of a field: its schema when given, else its annotation, else its options. */
export const fieldType = (field: OutputFieldSpec): TypeSpec => {
  if (field.schema !== undefined) {
    const fromSchema = typeFromSchema(field.schema)
    if (fromSchema.kind !== "any") return fromSchema
  }
  const parsed = parseTypeName(field.type)
  if (parsed.kind === "str" && field.options && field.options.length > 0) {
    return { kind: "literal", options: field.options }
  }
  return parsed
}
