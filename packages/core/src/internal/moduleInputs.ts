/**
 * Input checking for Predict. DSPy only logs warnings; DSPex fails with a typed InputValidationError so a
 * bad call is caught before a prompt is paid for.
 */
import { Schema } from "effect"
import { InputValidationError } from "../Errors.ts"
import * as T from "../FieldType.ts"
import type { Field, Signature } from "../Signature.ts"

const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return `an array (${JSON.stringify(u).slice(0, 80)})`
  if (typeof u === "object") return "an object"
  return `${typeof u} ${JSON.stringify(u)?.slice(0, 80) ?? String(u)}`
}

/**
 * A `str` field takes text, and also what renders unambiguously as text: numbers, booleans, and lists of
 * strings (DSPy accepts `list[str]` for `str`, e.g. passages given to an untyped `context`).
 */
const fitsStr = (v: unknown): boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ||
  (Array.isArray(v) && v.every((x) => typeof x === "string"))

const fits = (field: Field, value: unknown): boolean => {
  if (value === null) return T.isNullable(field.type)
  if (field.type._tag === "str") return fitsStr(value)
  return Schema.is(field.schema as Schema.Constraint)(value)
}

/** The first problem with `inputs` for `signature`, or undefined when they fit. */
export const validateInputs = (
  signature: Signature,
  inputs: unknown,
  predictor: string
): InputValidationError | undefined => {
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
    return new InputValidationError({
      predictor,
      field: "",
      problem: "wrong_type",
      detail: `inputs must be a record of field values, got ${describe(inputs)}`
    })
  }
  const record = inputs as Record<string, unknown>
  const expected = signature.inputNames
  for (const key of Object.keys(record)) {
    if (!expected.includes(key)) {
      return new InputValidationError({
        predictor,
        field: key,
        problem: "unknown",
        detail: `the signature's input fields are: ${expected.join(", ")}`
      })
    }
  }
  for (const field of signature.inputs) {
    const value = record[field.name]
    if (value === undefined) {
      if (T.isNullable(field.type)) continue
      return new InputValidationError({
        predictor,
        field: field.name,
        problem: "missing",
        detail: `required by signature "${signature.toString()}"`
      })
    }
    if (!fits(field, value)) {
      return new InputValidationError({
        predictor,
        field: field.name,
        problem: "wrong_type",
        detail: `expected ${T.typeName(field.type)}, got ${describe(value)}`
      })
    }
  }
  return undefined
}
