/**
 * Python literal syntax (`ast.literal_eval`): what DSPy falls back to when an LM writes `None`, `True`,
 * `'quoted'` or `(1, 2)` instead of JSON. Tuples and sets come back as arrays, dict keys as strings.
 */
import { pyStr } from "./pyText.ts"

class LiteralReader {
  i = 0
  readonly s: string
  constructor(s: string) {
    this.s = s
  }

  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++
  }

  fail(): never {
    throw new Error("malformed Python literal")
  }

  top(): unknown {
    const first = this.expr()
    this.ws()
    if (this.s[this.i] !== ",") return this.end(first)
    // `1, 2` at the top level is a tuple in Python.
    const items = [first]
    while (this.s[this.i] === ",") {
      this.i++
      this.ws()
      if (this.i >= this.s.length) break
      items.push(this.expr())
      this.ws()
    }
    return this.end(items)
  }

  end<A>(value: A): A {
    this.ws()
    if (this.i < this.s.length) this.fail()
    return value
  }

  expr(): unknown {
    this.ws()
    const c = this.s[this.i]
    if (c === undefined) this.fail()
    if (c === "(" || c === "[") return this.sequence(c === "(" ? ")" : "]")
    if (c === "{") return this.mapping()
    if (c === "'" || c === "\"" || (/[rRuU]/.test(c) && /['"]/.test(this.s[this.i + 1] ?? ""))) return this.strings()
    const word = /^[A-Za-z_]\w*/.exec(this.s.slice(this.i))?.[0]
    if (word !== undefined) {
      this.i += word.length
      if (word === "None") return null
      if (word === "True") return true
      if (word === "False") return false
      this.fail()
    }
    const num =
      /^[+-]?\s*(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)/
        .exec(this.s.slice(this.i))?.[0]
    if (num === undefined) this.fail()
    this.i += num.length
    const clean = num.replace(/[\s_]/g, "")
    const n = /^[+-]?0[xob]/i.test(clean)
      ? (clean.startsWith("-") ? -Number(clean.slice(1)) : Number(clean.replace(/^\+/, "")))
      : Number(clean)
    if (Number.isNaN(n)) this.fail()
    return n
  }

  sequence(close: string): Array<unknown> {
    this.i++
    const items: Array<unknown> = []
    for (;;) {
      this.ws()
      if (this.s[this.i] === close) {
        this.i++
        return items
      }
      items.push(this.expr())
      this.ws()
      if (this.s[this.i] === ",") this.i++
      else if (this.s[this.i] !== close) this.fail()
    }
  }

  mapping(): unknown {
    this.i++
    const obj: Record<string, unknown> = {}
    const set: Array<unknown> = []
    for (;;) {
      this.ws()
      if (this.s[this.i] === "}") {
        this.i++
        return set.length > 0 ? set : obj
      }
      const key = this.expr()
      this.ws()
      if (this.s[this.i] === ":") {
        this.i++
        obj[typeof key === "string" ? key : pyStr(key)] = this.expr()
      } else set.push(key)
      this.ws()
      if (this.s[this.i] === ",") this.i++
      else if (this.s[this.i] !== "}") this.fail()
    }
  }

  strings(): string {
    let out = ""
    do {
      out += this.string()
      this.ws()
    } while (/['"rRuU]/.test(this.s[this.i] ?? ""))
    return out
  }

  string(): string {
    let raw = false
    while (/[rRuU]/.test(this.s[this.i]!)) {
      if (/[rR]/.test(this.s[this.i]!)) raw = true
      this.i++
    }
    const q = this.s[this.i]!
    if (q !== "'" && q !== "\"") this.fail()
    const triple = this.s.startsWith(q.repeat(3), this.i)
    const delim = triple ? q.repeat(3) : q
    this.i += delim.length
    let out = ""
    for (;;) {
      if (this.i >= this.s.length) this.fail()
      if (this.s.startsWith(delim, this.i)) {
        this.i += delim.length
        return out
      }
      const c = this.s[this.i]!
      if (c === "\n" && !triple) this.fail()
      if (c === "\\" && !raw) {
        const e = this.s[this.i + 1] ?? ""
        const simple: Record<string, string> = {
          n: "\n",
          t: "\t",
          r: "\r",
          "\\": "\\",
          "'": "'",
          "\"": "\"",
          a: "\x07",
          b: "\b",
          f: "\f",
          v: "\v",
          "0": "\0",
          "\n": ""
        }
        if (e in simple) {
          out += simple[e]
          this.i += 2
        } else if (e === "x" || e === "u" || e === "U") {
          const len = e === "x" ? 2 : e === "u" ? 4 : 8
          const hex = this.s.slice(this.i + 2, this.i + 2 + len)
          if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail()
          out += String.fromCodePoint(parseInt(hex, 16))
          this.i += 2 + len
        } else {
          out += c
          this.i++
        }
        continue
      }
      out += c
      this.i++
    }
  }
}

/**
 * `ast.literal_eval` for the literals LMs write; undefined when the text is not a Python literal.
 *
 * @example
 * literalEval("(1, 'a', None)") // { value: [1, "a", null] }
 * literalEval("a, b") // undefined
 */
export const literalEval = (text: string): { readonly value: unknown } | undefined => {
  try {
    return { value: new LiteralReader(text.replace(/^[ \t]+/, "")).top() }
  } catch {
    return undefined
  }
}
