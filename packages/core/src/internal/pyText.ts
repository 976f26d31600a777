/**
 * Python's text primitives as DSPy's prompts depend on them: `str.strip`, `str.splitlines`,
 * `textwrap.dedent`, `repr(float)`, `str()` and `json.dumps` (with `ensure_ascii=False`). JavaScript's
 * built-ins differ in small ways (which characters are whitespace, when floats switch to exponent
 * notation, `True` vs `true`) and every difference shows up as a prompt that is not byte-identical.
 */
import type { FieldType } from "../FieldType.ts"

const isPySpace = (c: number): boolean =>
  (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000

/** `s.strip()`: Python's whitespace set (JS `trim` also strips U+FEFF and keeps U+001C–U+001F, U+0085). */
export const pyStrip = (s: string): string => {
  let a = 0
  let b = s.length
  while (a < b && isPySpace(s.charCodeAt(a))) a++
  while (b > a && isPySpace(s.charCodeAt(b - 1))) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

const lineBreak = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/

/** `s.splitlines()`: every Python line boundary, no trailing empty line. */
export const pySplitLines = (s: string): Array<string> => {
  if (s.length === 0) return []
  const lines = s.split(lineBreak)
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop()
  return lines
}

/** `textwrap.dedent`: drops the common leading spaces/tabs; whitespace-only lines become empty. */
export const dedent = (text: string): string => {
  if (!/^[ \t]/m.test(text)) return text
  const lines = text.split("\n").map((l) => (/^[ \t]+$/.test(l) ? "" : l))
  let margin: string | undefined
  for (const line of lines) {
    const m = /^([ \t]*)[^ \t\n]/.exec(line)
    if (m === null) continue
    const indent = m[1]!
    if (margin === undefined) margin = indent
    else {
      let i = 0
      while (i < margin.length && i < indent.length && margin[i] === indent[i]) i++
      margin = margin.slice(0, i)
    }
  }
  if (margin === undefined || margin === "") return lines.join("\n")
  const m = margin
  return lines.map((l) => (l.startsWith(m) ? l.slice(m.length) : l)).join("\n")
}

/** `repr(x)` of a Python float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export const pyFloatRepr = (n: number): string => {
  if (Number.isNaN(n)) return "nan"
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf"
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0"
  const [mantissa, expText] = n.toExponential().split("e") as [string, string]
  const exp = Number(expText)
  const digits = mantissa.replace("-", "").replace(".", "")
  const sign = n < 0 ? "-" : ""
  if (exp < -4 || exp >= 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`
  }
  if (exp >= digits.length - 1) return `${sign}${digits}${"0".repeat(exp - digits.length + 1)}.0`
  if (exp >= 0) return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`
  return `${sign}0.${"0".repeat(-exp - 1)}${digits}`
}

const pyIntRepr = (n: number): string => (Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString())

/**
 * Whether a number at this position is a Python float. JavaScript has one number type, so the field's
 * declared type decides: `4` in a `float` field prints as `4.0`, as the Python value would.
 */
const floatAt = (t: FieldType | undefined): boolean => {
  if (t === undefined) return false
  switch (t._tag) {
    case "float":
      return true
    case "optional":
      return floatAt(t.inner)
    case "union":
      return t.members.some((m) => m._tag === "float") && !t.members.some((m) => m._tag === "int")
    default:
      return false
  }
}

const pyNumber = (n: number, t: FieldType | undefined): string =>
  Number.isInteger(n) && !floatAt(t) ? pyIntRepr(n) : pyFloatRepr(n)

const jsonNumber = (n: number, t: FieldType | undefined): string => {
  if (Number.isNaN(n)) return "NaN"
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity"
  return pyNumber(n, t)
}

/** Child types, so numbers deep inside a `list[float]`, a `tuple[float, int]` or a model still print as floats. */
const itemType = (t: FieldType | undefined, index: number): FieldType | undefined => {
  if (t === undefined) return undefined
  if (t._tag === "list") return t.item
  if (t._tag === "tuple") return t.items[index] ?? t.rest
  if (t._tag === "optional") return itemType(t.inner, index)
  return undefined
}

const memberType = (t: FieldType | undefined, key: string): FieldType | undefined => {
  if (t === undefined) return undefined
  if (t._tag === "dict") return t.value
  if (t._tag === "object") return t.properties.find((p) => p.name === key)?.type
  if (t._tag === "optional") return memberType(t.inner, key)
  return undefined
}

/**
 * pydantic's `dump_python(mode="json")` for JavaScript values: containers stay containers, values with
 * `toJSON` (Example, Prediction, Date) use it, Map/Set become object/array, bigint becomes a number.
 */
export const toJsonable = (value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return Number(value)
    case "object": {
      if (Array.isArray(value)) return value
      if (value instanceof Map) return Object.fromEntries(value)
      if (value instanceof Set) return [...value]
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === "function") return toJsonable(toJSON.call(value))
      return value
    }
    default:
      return String(value)
  }
}

const isContainer = (v: unknown): v is object => typeof v === "object" && v !== null

/** `json.dumps(value, ensure_ascii=False[, indent=n])`, numbers typed by `t`. */
export const pyJsonDumps = (value: unknown, t?: FieldType, indent?: number): string =>
  dumps(value, t, indent, "", new Set())

const dumps = (
  raw: unknown,
  t: FieldType | undefined,
  indent: number | undefined,
  pad: string,
  seen: Set<object>
): string => {
  const value = toJsonable(raw)
  if (value === null) return "null"
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number") return jsonNumber(value, t)
  if (typeof value === "boolean") return value ? "true" : "false"
  if (!isContainer(value)) return JSON.stringify(String(value))
  // A cycle cannot be JSON; Python would raise, a prompt is better served by a marker than a crash.
  if (seen.has(value)) return "\"[Circular]\""
  seen.add(value)
  const inner = indent === undefined ? "" : pad + " ".repeat(indent)
  const open = indent === undefined ? "" : "\n"
  const sep = indent === undefined ? ", " : ",\n"
  const close = indent === undefined ? "" : `\n${pad}`
  let out: string
  if (Array.isArray(value)) {
    out = value.length === 0
      ? "[]"
      : `[${open}${value.map((v, i) => inner + dumps(v, itemType(t, i), indent, inner, seen)).join(sep)}${close}]`
  } else {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    out = entries.length === 0
      ? "{}"
      : `{${open}${
        entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${dumps(v, memberType(t, k), indent, inner, seen)}`)
          .join(sep)
      }${close}}`
  }
  seen.delete(value)
  return out
}

/** `repr(s)` of a Python str. */
export const pyReprString = (s: string): string => {
  const quote = s.includes("'") && !s.includes("\"") ? "\"" : "'"
  let out = quote
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === "\\") out += "\\\\"
    else if (ch === quote) out += `\\${quote}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) out += escapeCodePoint(c)
    else out += ch
  }
  return out + quote
}

/** What Python's `str.isprintable` rejects: control, format, private-use, unassigned, surrogate, separators. */
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Zs}]$/u

const escapeCodePoint = (c: number): string =>
  c < 0x100
    ? `\\x${c.toString(16).padStart(2, "0")}`
    : c < 0x10000
    ? `\\u${c.toString(16).padStart(4, "0")}`
    : `\\U${c.toString(16).padStart(8, "0")}`

/** `repr()` of a JSON-like value as Python prints it (`{'a': [1, True, None]}`). */
export const pyRepr = (raw: unknown, t?: FieldType): string => {
  const value = toJsonable(raw)
  if (value === null) return "None"
  if (typeof value === "string") return pyReprString(value)
  if (typeof value === "number") return pyNumber(value, t)
  if (typeof value === "boolean") return value ? "True" : "False"
  if (Array.isArray(value)) return `[${value.map((v, i) => pyRepr(v, itemType(t, i))).join(", ")}]`
  if (isContainer(value)) {
    return `{${
      Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) =>
        `${pyReprString(k)}: ${pyRepr(v, memberType(t, k))}`
      ).join(", ")
    }}`
  }
  return pyReprString(String(value))
}

/** `str(value)`: strings as they are, `True`/`None`, floats as Python prints them, containers as repr. */
export const pyStr = (raw: unknown, t?: FieldType): string => {
  const value = toJsonable(raw)
  return typeof value === "string" ? value : pyRepr(value, t)
}
