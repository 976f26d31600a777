/**
 * A recursive-descent parser for DSPy's signature string syntax. Positions are kept on every token so a
 * syntax error can point at the offending text.
 */
import { SignatureParseError } from "../Errors.ts"
import * as T from "../FieldType.ts"

export interface ParsedField {
  readonly name: string
  readonly type: T.FieldType
  readonly typed: boolean
  readonly position: number
}

export interface ParsedSignature {
  readonly inputs: ReadonlyArray<ParsedField>
  readonly outputs: ReadonlyArray<ParsedField>
}

type Tok =
  | { kind: "ident"; text: string; pos: number }
  | { kind: "string"; text: string; value: string; pos: number }
  | { kind: "number"; text: string; value: number; pos: number }
  | { kind: "punct"; text: string; pos: number }
  | { kind: "end"; text: string; pos: number }

const tokenize = (source: string): Array<Tok> => {
  const toks: Array<Tok> = []
  let i = 0
  const fail = (pos: number, reason: string): never => {
    throw new SignatureParseError({ source, position: pos, found: source.slice(pos, pos + 12), reason })
  }
  while (i < source.length) {
    const c = source[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === "-" && source[i + 1] === ">") {
      toks.push({ kind: "punct", text: "->", pos: i })
      i += 2
      continue
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(source.slice(i))!
      toks.push({ kind: "ident", text: m[0], pos: i })
      i += m[0].length
      continue
    }
    if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(source[i + 1] ?? ""))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(source.slice(i))!
      toks.push({ kind: "number", text: m[0], value: Number(m[0]), pos: i })
      i += m[0].length
      continue
    }
    if (c === "'" || c === "\"") {
      let j = i + 1
      let value = ""
      while (j < source.length && source[j] !== c) {
        if (source[j] === "\\" && j + 1 < source.length) {
          value += source[j + 1]
          j += 2
        } else {
          value += source[j]
          j++
        }
      }
      if (j >= source.length) fail(i, "unterminated string literal")
      toks.push({ kind: "string", text: source.slice(i, j + 1), value, pos: i })
      i = j + 1
      continue
    }
    if (source.startsWith("...", i)) {
      toks.push({ kind: "punct", text: "...", pos: i })
      i += 3
      continue
    }
    if ("[],:|()".includes(c)) {
      toks.push({ kind: "punct", text: c, pos: i })
      i++
      continue
    }
    fail(i, `unexpected character ${JSON.stringify(c)}`)
  }
  toks.push({ kind: "end", text: "", pos: source.length })
  return toks
}

const SIMPLE: Record<string, T.FieldType> = {
  str: T.str,
  int: T.int,
  float: T.float,
  bool: T.bool,
  Any: T.any,
  None: { _tag: "none" },
  NoneType: { _tag: "none" },
  list: T.list(T.any),
  List: T.list(T.any),
  dict: T.dict(T.any),
  Dict: T.dict(T.any)
}

/** Parses `"a, b: list[str] -> c: float"`; throws SignatureParseError (callers wrap it in an Effect). */
export const parseSignatureString = (source: string): ParsedSignature => {
  const toks = tokenize(source)
  let k = 0
  const peek = () => toks[k]!
  const next = () => toks[k++]!
  const fail = (tok: Tok, reason: string): never => {
    throw new SignatureParseError({
      source,
      position: tok.pos,
      found: tok.kind === "end" ? "<end of signature>" : source.slice(tok.pos, tok.pos + Math.max(tok.text.length, 1)),
      reason
    })
  }
  const expect = (text: string, what: string) => {
    const t = next()
    if (t.kind !== "punct" || t.text !== text) fail(t, `expected ${what}`)
  }

  const parseUnion = (): T.FieldType => {
    const first = parsePrimary()
    const members = [first]
    while (peek().kind === "punct" && peek().text === "|") {
      next()
      members.push(parsePrimary())
    }
    return unionOf(members)
  }

  const parseArgs = (): Array<T.FieldType> => {
    expect("[", "'['")
    const args = [parseUnion()]
    while (peek().kind === "punct" && peek().text === ",") {
      next()
      args.push(parseUnion())
    }
    expect("]", "']' to close the type arguments")
    return args
  }

  const isPunct = (tok: Tok, text: string) => tok.kind === "punct" && tok.text === text

  /**
   * `tuple[int, str]`, `tuple[int, ...]`, `tuple[()]` and bare `tuple`, accepted and refused as DSPy
   * 3.3.1 (typing and pydantic) accept and refuse them.
   */
  const parseTuple = (t: Tok, name: string, hasArgs: boolean): T.FieldType => {
    if (!hasArgs) {
      // DSPy refuses the bare typing alias: "Field types must be types, but received: typing.Tuple".
      if (name === "Tuple") {
        return fail(t, "bare Tuple is not a type DSPy accepts; write tuple, tuple[int, str] or tuple[int, ...]")
      }
      return { _tag: "tuple", items: [], rest: T.any, bare: true }
    }
    next()
    if (isPunct(peek(), "(")) {
      next()
      expect(")", "')' in tuple[()]")
      expect("]", "']' after tuple[()]")
      return T.tuple()
    }
    const items: Array<T.FieldType> = []
    for (;;) {
      const tok = peek()
      if (isPunct(tok, "...")) {
        next()
        if (items.length !== 1 || !isPunct(peek(), "]")) {
          return fail(
            tok,
            "'...' goes only in tuple[T, ...] (one type, then '...'): variable tuples can only have one type"
          )
        }
        next()
        return T.tupleOf(items[0]!)
      }
      items.push(parseUnion())
      const sep = next()
      if (isPunct(sep, "]")) return T.tuple(...items)
      if (!isPunct(sep, ",")) fail(sep, "expected ',' or ']' in tuple[...]")
    }
  }

  const parsePrimary = (): T.FieldType => {
    const t = next()
    if (t.kind !== "ident") return fail(t, "expected a type name")
    const name = t.text.replace(/^(typing|builtins)\./, "")
    const hasArgs = peek().kind === "punct" && peek().text === "["
    switch (name) {
      case "Literal": {
        if (!hasArgs) return fail(t, "Literal needs values, e.g. Literal['a', 'b']")
        next()
        const values: Array<T.LiteralValue> = []
        for (;;) {
          const v = next()
          if (v.kind === "string") values.push(v.value)
          else if (v.kind === "number") values.push(v.value)
          else if (v.kind === "ident" && (v.text === "True" || v.text === "False")) values.push(v.text === "True")
          else fail(v, "expected a literal value (a quoted string, a number, True or False)")
          const sep = next()
          if (sep.kind === "punct" && sep.text === "]") break
          if (!(sep.kind === "punct" && sep.text === ",")) fail(sep, "expected ',' or ']' in Literal[...]")
        }
        return T.literal(...values)
      }
      case "Optional": {
        const args = hasArgs ? parseArgs() : fail(t, "Optional needs one type argument")
        if (args.length !== 1) fail(t, "Optional takes exactly one type argument")
        return T.optional(args[0]!)
      }
      case "Union": {
        const args = hasArgs ? parseArgs() : fail(t, "Union needs type arguments")
        return unionOf(args)
      }
      case "list":
      case "List": {
        if (!hasArgs) return T.list(T.any)
        const args = parseArgs()
        if (args.length !== 1) fail(t, "list takes exactly one type argument")
        return T.list(args[0]!)
      }
      case "tuple":
      case "Tuple":
        return parseTuple(t, name, hasArgs)
      case "dict":
      case "Dict": {
        if (!hasArgs) return T.dict(T.any)
        const args = parseArgs()
        if (args.length !== 2) fail(t, "dict takes two type arguments, e.g. dict[str, int]")
        return T.dict(args[1]!, args[0]!)
      }
    }
    const simple = SIMPLE[name]
    if (simple === undefined) {
      return fail(
        t,
        `unknown type "${t.text}" (supported: str, int, float, bool, list[T], dict[str, T], tuple[T, ...], Literal[...], Optional[T], T | None, Any)`
      )
    }
    if (hasArgs) fail(peek(), `type "${name}" takes no type arguments`)
    return simple
  }

  const parseSide = (stop: (t: Tok) => boolean, side: string): Array<ParsedField> => {
    const fields: Array<ParsedField> = []
    if (stop(peek())) return fields
    for (;;) {
      const nameTok = next()
      if (nameTok.kind !== "ident" || nameTok.text.includes(".")) {
        fail(nameTok, `expected a field name on the ${side} side`)
      }
      let type: T.FieldType = T.str
      let typed = false
      if (peek().kind === "punct" && peek().text === ":") {
        next()
        type = parseUnion()
        typed = true
      }
      fields.push({ name: nameTok.text, type, typed, position: nameTok.pos })
      const sep = peek()
      if (stop(sep)) return fields
      if (sep.kind === "punct" && sep.text === ",") {
        next()
        continue
      }
      if (sep.kind === "end") fail(sep, "a signature needs '->' between inputs and outputs")
      fail(
        sep,
        sep.kind === "punct" && sep.text === "->" ? "a signature has exactly one '->'" : "expected ',' between fields"
      )
    }
  }

  const inputs = parseSide((t) => t.kind === "punct" && t.text === "->", "input")
  const arrow = next()
  if (!(arrow.kind === "punct" && arrow.text === "->")) fail(arrow, "a signature needs '->' between inputs and outputs")
  const outputs = parseSide((t) => t.kind === "end", "output")
  if (outputs.length === 0) fail(peek(), "a signature needs at least one output field")

  const seen = new Map<string, string>()
  for (const [side, fields] of [["input", inputs], ["output", outputs]] as const) {
    for (const f of fields) {
      const prev = seen.get(f.name)
      if (prev !== undefined) {
        throw new SignatureParseError({
          source,
          position: f.position,
          found: f.name,
          reason: prev === side
            ? `duplicate ${side} field "${f.name}"`
            : `"${f.name}" is both an input and an output field`
        })
      }
      seen.set(f.name, side)
    }
  }
  return { inputs, outputs }
}

const unionOf = (members: ReadonlyArray<T.FieldType>): T.FieldType => {
  if (members.length === 1) return members[0]!
  const nonNull = members.filter((m) => m._tag !== "none")
  if (nonNull.length === 1 && members.length === 2) return T.optional(nonNull[0]!)
  return { _tag: "union", members }
}
