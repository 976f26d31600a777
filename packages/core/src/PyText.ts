/**
 * Values as Python prints them. DSPy puts Python's `repr` and `str` of values into prompts (dataset
 * views, KNN keys, scores), so code that must send DSPy's exact text formats with these.
 *
 * JavaScript has one number type: a whole number prints as Python's int would (`36`, not `36.0`).
 */
import { pyFloatRepr, pyRepr, pyReprString, pyStr } from "./internal/pyText.ts"

/**
 * Python's `repr(value)` of a JSON-like value.
 *
 * @example
 * ```ts
 * import { PyText } from "@dspex/core"
 *
 * PyText.repr({ a: [1, true, null], b: "it's" }) // `{'a': [1, True, None], 'b': "it's"}`
 * ```
 */
export const repr = (value: unknown): string => pyRepr(value)

/**
 * Python's `str(value)` (and `f"{value}"`): text as it is, anything else as its repr.
 *
 * @example
 * ```ts
 * import { PyText } from "@dspex/core"
 *
 * PyText.str(["a", "b"]) // "['a', 'b']"
 * ```
 */
export const str = (value: unknown): string => pyStr(value)

/**
 * Python's `repr(s)` of a str: its quote choice and escapes, non-printable characters included.
 *
 * @example
 * ```ts
 * import { PyText } from "@dspex/core"
 *
 * PyText.reprString("tab\there") // "'tab\\there'"
 * ```
 */
export const reprString = (s: string): string => pyReprString(s)

/**
 * Python's `repr` of a float: shortest round-trip digits, `.0` on whole numbers, exponent form below 1e-4
 * and from 1e16.
 *
 * @example
 * ```ts
 * import { PyText } from "@dspex/core"
 *
 * PyText.floatRepr(60) // "60.0"
 * ```
 */
export const floatRepr = (n: number): string => pyFloatRepr(n)
