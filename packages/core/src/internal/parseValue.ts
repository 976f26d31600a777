/**
 * DSPy's `parse_value`: turns the text (or JSON value) an LM wrote for one output field into a value of
 * the field's type, with the same leniency as DSPy 3.3.1: `json_repair.loads`, then `ast.literal_eval`,
 * then the raw string, validated the way pydantic's lax mode coerces (`"5"` → 5 for int, `"true"` →
 * true for bool, 5 → 5.0 for float). The coerced value is finally decoded with the field's Effect
 * Schema so Schema-built fields keep their checks.
 */
import { Result, Schema } from "effect"
import { jsonrepair } from "jsonrepair"
import type { FieldType } from "../FieldType.ts"
import type { Field } from "../Signature.ts"
import { annotationName } from "./adapterFormat.ts"
import { literalEval } from "./pyLiteral.ts"
import { pyRepr, pyStr, pyStrip } from "./pyText.ts"

/** A value that does not fit; `message` reads like pydantic's ("Input should be a valid integer ..."). */
export class ValueParseError extends Error {
  override readonly name = "ValueParseError"
}

/** Marks "nothing parsed" (Python's `json_repair` returns "" for it). */
const NOTHING: unique symbol = Symbol("nothing")

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

// ---------------------------------------------------------------------------------------------------
// json_repair.loads

const tryJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    // Python's json.loads also reads these constants.
    const t = text.trim()
    if (t === "NaN") return Number.NaN
    if (t === "Infinity") return Number.POSITIVE_INFINITY
    if (t === "-Infinity") return Number.NEGATIVE_INFINITY
    return NOTHING
  }
}

const prevNonSpace = (text: string, j: number): string => {
  let k = j - 1
  while (k >= 0 && /\s/.test(text[k]!)) k--
  return k < 0 ? "" : text[k]!
}

const nextNonSpace = (text: string, j: number): string => {
  let k = j + 1
  while (k < text.length && /\s/.test(text[k]!)) k++
  return k >= text.length ? "" : text[k]!
}

/** End (exclusive) of the bracketed value opening at `start`, or the text's end when it is never closed. */
const valueEnd = (text: string, start: number): number => {
  let depth = 0
  let quote = ""
  for (let j = start; j < text.length; j++) {
    const c = text[j]!
    if (quote !== "") {
      if (c === "\\") j++
      // A single quote closes only before a delimiter, so apostrophes inside 'it's' do not end the string.
      else if (c === quote && (quote === "\"" || ",:}]".includes(nextNonSpace(text, j)))) quote = ""
      continue
    }
    if (c === "\"") quote = c
    else if (c === "'" && "{[,:".includes(prevNonSpace(text, j))) quote = c
    else if (c === "{" || c === "[") depth++
    else if (c === "}" || c === "]") {
      depth--
      if (depth === 0) return j + 1
    }
  }
  return text.length
}

const truthy = (v: unknown): boolean =>
  Array.isArray(v)
    ? v.length > 0
    : isPlainObject(v)
    ? Object.keys(v).length > 0
    : v !== null && v !== "" && v !== 0 && v !== false

/** json_repair's ObjectComparer: same container shapes and keys, any atoms of the same type. */
const sameShape = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameShape(x, b[i]))
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameShape(a[k], b[k]))
  }
  return typeof a === typeof b && (a === null) === (b === null)
}

const repairError = (e: unknown): number | undefined => {
  const position = (e as { position?: unknown }).position
  return typeof position === "number" ? position : undefined
}

/**
 * One bracketed value through the `jsonrepair` package. Where it gives up, the text before the
 * offending character is repaired instead (json_repair reads as far as it can and closes what is
 * open), provided that keeps some content; otherwise the fragment counts as nothing.
 */
const repairFragment = (fragment: string): unknown => {
  let piece = fragment
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const value = JSON.parse(jsonrepair(piece))
      return attempt === 0 || truthy(value) ? value : NOTHING
    } catch (e) {
      const at = repairError(e)
      if (at === undefined || at <= 0 || at >= piece.length) return NOTHING
      piece = piece.slice(0, at)
    }
  }
  return NOTHING
}

/**
 * Python `json_repair.loads`: valid JSON as is; otherwise only `{...}`/`[...]` values count (prose around
 * them is skipped, bare words give nothing), each repaired; several top-level values give a list, except
 * that a later object of the same shape replaces the earlier one (json_repair reads it as an update).
 * Nothing found gives a private symbol (Python's ""), never an object.
 *
 * @example
 * repairLoads("Sure: {'a': 1,}") // { a: 1 }
 */
export const repairLoads = (text: string): unknown => {
  const strict = tryJson(text)
  if (strict !== NOTHING) return strict
  const values: Array<unknown> = []
  let i = 0
  while (i < text.length) {
    let start = i
    while (start < text.length && text[start] !== "{" && text[start] !== "[") start++
    if (start >= text.length) break
    const end = valueEnd(text, start)
    const commaSeparated = values.length > 0 && /^\s*,/.test(text.slice(i, start))
    const v = repairFragment(text.slice(start, end))
    i = end
    if (v === NOTHING) continue
    if (values.length === 0) values.push(v)
    else if (truthy(v)) {
      const last = values[values.length - 1]
      if ((!commaSeparated && sameShape(last, v)) || !truthy(last)) values.pop()
      values.push(v)
    }
  }
  if (values.length === 0) return NOTHING
  return values.length === 1 ? values[0] : values
}

/**
 * The first balanced `{...}` in the text (braces counted, quotes ignored), as the recursive regex
 * `\{(?:[^{}]|(?R))*\}` that DSPy's JSONAdapter uses finds it.
 */
export const firstBalancedObject = (text: string): string | undefined => {
  // One pass with a stack of open braces: the leftmost brace that gets closed starts the match.
  const open: Array<number> = []
  let best: readonly [number, number] | undefined
  for (let j = text.indexOf("{"); j >= 0 && j < text.length; j++) {
    const c = text[j]
    if (c === "{") open.push(j)
    else if (c === "}" && open.length > 0) {
      const from = open.pop()!
      if (open.length === 0) return text.slice(from, j + 1)
      if (best === undefined || from < best[0]) best = [from, j]
    }
  }
  return best === undefined ? undefined : text.slice(best[0], best[1] + 1)
}

// ---------------------------------------------------------------------------------------------------
// pydantic-style validation (lax, and strict for the first pass over union members)

const shown = (v: unknown): string => {
  const r = pyRepr(v)
  return r.length > 120 ? `${r.slice(0, 117)}...` : r
}

const invalid = (message: string, value: unknown, path: string): never => {
  throw new ValueParseError(`${message}${path === "" ? "" : ` at ${path}`} [input_value=${shown(value)}]`)
}

const intText = /^[+-]?\d+(?:_\d+)*(?:\.0*)?$/
const floatText = /^[+-]?(?:(?:\d+(?:_\d+)*)?\.?\d*(?:_\d+)*(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i
const trueTexts = new Set(["1", "on", "t", "true", "y", "yes"])
const falseTexts = new Set(["0", "off", "f", "false", "n", "no"])

/**
 * Validates `value` against `t` as pydantic does: `lax` allows the usual conversions (numeric strings,
 * 0/1 for bool, integral floats for int); strict is used for the first pass over union members.
 */
export const coerce = (value: unknown, t: FieldType, lax = true, path = ""): unknown => {
  switch (t._tag) {
    case "any":
      return value === undefined ? null : value
    case "none":
      return value === null || value === undefined ? null : invalid("Input should be None", value, path)
    case "str":
      return typeof value === "string" ? value : invalid("Input should be a valid string", value, path)
    case "bool":
      if (typeof value === "boolean") return value
      if (lax && (value === 0 || value === 1)) return value === 1
      if (lax && typeof value === "string") {
        const s = value.trim().toLowerCase()
        if (trueTexts.has(s)) return true
        if (falseTexts.has(s)) return false
      }
      return invalid("Input should be a valid boolean", value, path)
    case "int":
      if (typeof value === "number") {
        if (Number.isInteger(value)) return value
        return invalid(
          Number.isFinite(value)
            ? "Input should be a valid integer, got a number with a fractional part"
            : "Input should be a finite number",
          value,
          path
        )
      }
      if (lax && typeof value === "boolean") return value ? 1 : 0
      if (lax && typeof value === "string") {
        const s = value.trim()
        if (intText.test(s)) return Number.parseInt(s.replace(/_/g, ""), 10)
        return invalid("Input should be a valid integer, unable to parse string as an integer", value, path)
      }
      return invalid("Input should be a valid integer", value, path)
    case "float":
      if (typeof value === "number") return value
      if (lax && typeof value === "boolean") return value ? 1 : 0
      if (lax && typeof value === "string") {
        const s = value.trim()
        if (s !== "" && s !== "." && floatText.test(s)) {
          const low = s.toLowerCase().replace(/^[+]/, "")
          if (/^-?(inf|infinity)$/.test(low)) {
            return low.startsWith("-")
              ? Number.NEGATIVE_INFINITY
              : Number.POSITIVE_INFINITY
          }
          if (/^-?nan$/.test(low)) return Number.NaN
          const n = Number(s.replace(/_/g, ""))
          if (!Number.isNaN(n)) return n
        }
        return invalid("Input should be a valid number, unable to parse string as a number", value, path)
      }
      return invalid("Input should be a valid number", value, path)
    case "literal": {
      for (const v of t.values) if (v === value) return v
      const expected = t.values.map((v) => pyRepr(v)).join(", ")
      return invalid(`Input should be one of: ${expected}`, value, path)
    }
    case "list":
      if (!Array.isArray(value)) return invalid("Input should be a valid list", value, path)
      return value.map((v, i) => coerce(v, t.item, lax, `${path}[${i}]`))
    case "tuple": {
      // JSON and XML give Python lists, which pydantic's strict mode does not take for a tuple; lax mode
      // does. The value stays an array (pydantic returns a tuple).
      if (!Array.isArray(value) || !lax) return invalid("Input should be a valid tuple", value, path)
      const fixed = t.items.length
      if (t.rest === undefined && value.length > fixed) {
        return invalid(
          `Tuple should have at most ${fixed} item${fixed === 1 ? "" : "s"} after validation, not ${value.length}`,
          value,
          path
        )
      }
      if (value.length < fixed) invalid("Field required", value, `${path}[${value.length}]`)
      return value.map((v, i) => coerce(v, t.items[i] ?? t.rest!, lax, `${path}[${i}]`))
    }
    case "dict": {
      if (!isPlainObject(value)) return invalid("Input should be a valid dictionary", value, path)
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) {
        if (t.key._tag !== "str") coerce(k, t.key, true, `${path}{${k}}`)
        out[k] = coerce(v, t.value, lax, `${path}.${k}`)
      }
      return out
    }
    case "object": {
      if (!isPlainObject(value)) {
        return invalid(`Input should be a valid dictionary or instance of ${t.name}`, value, path)
      }
      const out: Record<string, unknown> = {}
      for (const p of t.properties) {
        const sub = `${path}.${p.name}`
        if (Object.hasOwn(value, p.name) && value[p.name] !== undefined) {
          out[p.name] = coerce(value[p.name], p.type, lax, sub)
        } else if (!p.optional) invalid("Field required", value, sub)
      }
      return out
    }
    case "optional":
      return value === null || value === undefined ? null : coerce(value, t.inner, lax, path)
    case "union": {
      // pydantic's smart mode: an exact (strict) match wins over an earlier member that needs conversion.
      for (const m of t.members) {
        try {
          return coerce(value, m, false, path)
        } catch {
          // try the next member
        }
      }
      if (!lax) return invalid(`Input should match ${annotationName(t)}`, value, path)
      const errors: Array<string> = []
      for (const m of t.members) {
        try {
          return coerce(value, m, true, path)
        } catch (e) {
          errors.push(`${annotationName(m)}: ${(e as Error).message}`)
        }
      }
      throw new ValueParseError(`Input matches no member of ${annotationName(t)} (${errors.join("; ")})`)
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// parse_value

const allowsStrAndNone = (t: FieldType): boolean =>
  (t._tag === "optional" && t.inner._tag === "str") ||
  (t._tag === "union" && t.members.some((m) => m._tag === "str") && t.members.some((m) => m._tag === "none"))

/**
 * DSPy's `parse_value(value, annotation)`, throwing ValueParseError when the value does not fit.
 *
 * @example
 * parseValue("['a', 'b']", T.list(T.str)) // ["a", "b"]
 * parseValue("(1, 'x')", T.tuple(T.int, T.str)) // [1, "x"]
 * parseValue("\"6\"", T.int) // 6
 */
export const parseValue = (value: unknown, t: FieldType): unknown => {
  if (t._tag === "str") return pyStr(value)
  if (t._tag === "literal") {
    for (const v of t.values) if (v === value) return v
    if (typeof value === "string") {
      let v = pyStrip(value)
      if ((v.startsWith("Literal[") || v.startsWith("str[")) && v.endsWith("]")) v = v.slice(v.indexOf("[") + 1, -1)
      if (v.length > 1 && v[0] === v[v.length - 1] && (v[0] === "\"" || v[0] === "'")) v = v.slice(1, -1)
      for (const lit of t.values) if (lit === v) return lit
    }
    throw new ValueParseError(`${shown(value)} is not one of (${t.values.map((v) => pyRepr(v)).join(", ")})`)
  }
  if (typeof value !== "string" || allowsStrAndNone(t)) return coerce(value, t)
  let candidate = repairLoads(value)
  if (candidate === NOTHING) {
    const literal = value === "" ? { value: "" } : literalEval(value)
    candidate = literal === undefined ? value : literal.value
  }
  return coerce(candidate, t)
}

const decoders = new WeakMap<Schema.Top, (u: unknown) => Result.Result<unknown, Schema.SchemaError>>()

const decoderFor = (schema: Schema.Top) => {
  let d = decoders.get(schema)
  if (d === undefined) {
    // Decode the Type side: the coercion above already did what an encoding step would (text → value),
    // while the schema's checks (ranges, lengths, patterns) still apply.
    d = Schema.decodeUnknownResult(Schema.toType(schema) as Schema.Codec<unknown, unknown>) as (
      u: unknown
    ) => Result.Result<unknown, Schema.SchemaError>
    decoders.set(schema, d)
  }
  return d
}

export type FieldParse = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string }

const decodeAs = (field: Field, value: unknown): FieldParse => {
  const decoded = decoderFor(field.schema)(value)
  return Result.isSuccess(decoded)
    ? { ok: true, value: decoded.success }
    : { ok: false, error: `expected ${annotationName(field.type)}: ${decoded.failure.message}` }
}

/**
 * `parseValue` for one output field, then the field's Effect Schema; never throws.
 *
 * @example
 * parseField(field, "3.5") // { ok: true, value: 3.5 } for a float field
 */
export const parseField = (field: Field, value: unknown): FieldParse => {
  let parsed: unknown
  try {
    parsed = parseValue(value, field.type)
  } catch (e) {
    return { ok: false, error: `expected ${annotationName(field.type)}: ${(e as Error).message}` }
  }
  return decodeAs(field, parsed)
}

/** Validation alone (pydantic's `validate_python`), without parse_value's text handling. */
export const validateField = (field: Field, value: unknown): FieldParse => {
  let coerced: unknown
  try {
    coerced = coerce(value, field.type)
  } catch (e) {
    return { ok: false, error: `expected ${annotationName(field.type)}: ${(e as Error).message}` }
  }
  return decodeAs(field, coerced)
}

/** DSPy's `annotation_allows_none`: a missing output of such a type is filled with null. */
export const allowsNone = (t: FieldType): boolean =>
  t._tag === "none" || t._tag === "optional" || (t._tag === "union" && t.members.some(allowsNone))
