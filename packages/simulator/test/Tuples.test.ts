import { describe, expect, it } from "vitest"
import { FieldTypes, Tasks } from "../src/index.ts"

describe("tuple output types", () => {
  it("reads DSPy's tuple annotations: fixed tuples by position, variadic ones as lists", () => {
    expect(FieldTypes.parseTypeName("tuple[int, str]")).toEqual({
      kind: "tuple",
      items: [{ kind: "int" }, { kind: "str" }]
    })
    expect(FieldTypes.parseTypeName("Union[tuple[int, str], NoneType]")).toEqual({
      kind: "optional",
      inner: { kind: "tuple", items: [{ kind: "int" }, { kind: "str" }] }
    })
    expect(FieldTypes.parseTypeName("tuple[float, Ellipsis]")).toEqual({ kind: "list", item: { kind: "float" } })
    expect(FieldTypes.parseTypeName("tuple[float, ...]")).toEqual({ kind: "list", item: { kind: "float" } })
    expect(FieldTypes.parseTypeName("tuple")).toEqual({ kind: "list", item: { kind: "any" } })
  })

  it("reads pydantic's tuple schemas (prefixItems) from type notes and response_format", () => {
    const fixed = { type: "array", maxItems: 2, minItems: 2, prefixItems: [{ type: "integer" }, { type: "string" }] }
    expect(FieldTypes.typeFromSchema(fixed)).toEqual({ kind: "tuple", items: [{ kind: "int" }, { kind: "str" }] })
    expect(FieldTypes.typeFromSchema({ type: "array", items: { type: "number" } })).toEqual({
      kind: "list",
      item: { kind: "float" }
    })
    expect(FieldTypes.typeFromSchema({ type: "array", items: fixed })).toEqual({
      kind: "list",
      item: { kind: "tuple", items: [{ kind: "int" }, { kind: "str" }] }
    })
  })

  it("answers a tuple with one value of each position's type", () => {
    const out = Tasks.solveTask({ question: "What is 12 + 30?" }, [
      { name: "answer", type: "tuple[int, str]" },
      { name: "pairs", type: "list[tuple[str, int]]" }
    ])
    expect(out).toEqual({ answer: [42, "42"], pairs: [["42", 42]] })
  })
})
