import { describe, expect, it } from "vitest"
import * as PyText from "../src/PyText.ts"

// Expected values printed by CPython 3.11 (repr of each input).
const strings: ReadonlyArray<readonly [string, string]> = [
  ["a\u007f\u00a0\u00ad\u2028\udb40\udc01 b\u00e9", "'a\\x7f\\xa0\\xad\\u2028\\U000e0001 b\u00e9'"],
  ["it's", "\"it's\""],
  ["both ' and \"", "'both \\' and \"'"],
  ["tab\there\n", "'tab\\there\\n'"],
  ["\u00a0\u3000x", "'\\xa0\\u3000x'"],
  ["emoji \ud83d\ude00", "'emoji \ud83d\ude00'"]
]
const floats: ReadonlyArray<readonly [number, string]> = [
  [60, "60.0"],
  [33.33, "33.33"],
  [1e-5, "1e-05"],
  [1e16, "1e+16"],
  [0.1, "0.1"],
  [123456789.125, "123456789.125"],
  [0.00015, "0.00015"]
]

describe("PyText", () => {
  it("reprString quotes and escapes as CPython, non-printable characters included", () => {
    expect(strings.map(([s]) => PyText.reprString(s))).toEqual(strings.map(([, r]) => r))
  })
  it("floatRepr, repr and str print as CPython", () => {
    expect(floats.map(([n]) => PyText.floatRepr(n))).toEqual(floats.map(([, r]) => r))
    expect(PyText.repr({ a: [1, true, null], b: "it's" })).toBe("{'a': [1, True, None], 'b': \"it's\"}")
    expect([PyText.str("plain"), PyText.str(["a", "b"]), PyText.str(null)]).toEqual(["plain", "['a', 'b']", "None"])
  })
})
