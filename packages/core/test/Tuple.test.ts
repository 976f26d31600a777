/**
 * `tuple[...]` field types end to end: signature strings, type names and JSON schemas in all three
 * adapters' prompts, structured-output schemas, reply parsing, Effect Schema conversion and saved
 * programs. Reference values are DSPy 3.3.1's own output (fixtures/tuple.json; its `source` says how it
 * was produced).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Adapter } from "../src/Adapter.ts"
import * as ChatAdapter from "../src/ChatAdapter.ts"
import * as T from "../src/FieldType.ts"
import { placeholder } from "../src/internal/adapterFormat.ts"
import { parseValue, ValueParseError } from "../src/internal/parseValue.ts"
import * as JSONAdapter from "../src/JSONAdapter.ts"
import * as LM from "../src/LM.ts"
import * as Predict from "../src/Predict.ts"
import * as ProgramState from "../src/ProgramState.ts"
import * as Signature from "../src/Signature.ts"
import * as XMLAdapter from "../src/XMLAdapter.ts"
import { fakeLanguageModel, testLM } from "./fixtures/adapterCases.ts"

interface FormatCase {
  readonly id: string
  readonly adapter: "chat" | "json" | "xml"
  readonly signature: string
  readonly instructions: string
  readonly demos: ReadonlyArray<Record<string, unknown>>
  readonly inputs: Record<string, unknown>
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
}

interface ParseCase {
  readonly adapter: "chat" | "json" | "xml"
  readonly signature: string
  readonly completion: string
  readonly note: string
  readonly parsed?: Record<string, unknown>
  readonly error?: string
  readonly error_message?: string
}

interface Fixture {
  readonly format: ReadonlyArray<FormatCase>
  readonly structured_outputs: ReadonlyArray<{ readonly signature: string; readonly schema: Record<string, unknown> }>
  readonly types: ReadonlyArray<
    {
      readonly signature: string
      readonly field: string
      readonly annotation_name: string
      readonly placeholder: string
    }
  >
  readonly parse: ReadonlyArray<ParseCase>
}

const fixture: Fixture = JSON.parse(readFileSync(new URL("./fixtures/tuple.json", import.meta.url), "utf8"))

const adapters: Record<"chat" | "json" | "xml", Adapter> = {
  chat: ChatAdapter.make({ useJsonAdapterFallback: false }),
  json: JSONAdapter.make(),
  xml: XMLAdapter.make({ useJsonAdapterFallback: false })
}

/** DSPy's tuples were written `{"__tuple__": [...]}`; DSPex gives arrays. */
const untuple = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(untuple)
  if (typeof v === "object" && v !== null) {
    if ("__tuple__" in v) return untuple((v as { __tuple__: unknown }).__tuple__)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, untuple(x)]))
  }
  return v
}

describe("tuple types in signature strings", () => {
  it("parses every form DSPy accepts, with DSPy's type names", () => {
    const cases: ReadonlyArray<readonly [string, T.FieldType, string]> = [
      ["tuple[int, str]", T.tuple(T.int, T.str), "tuple[int, str]"],
      ["Tuple[int, str]", T.tuple(T.int, T.str), "tuple[int, str]"],
      ["typing.Tuple[int, str]", T.tuple(T.int, T.str), "tuple[int, str]"],
      ["tuple[int]", T.tuple(T.int), "tuple[int]"],
      ["tuple[int, ...]", T.tupleOf(T.int), "tuple[int, Ellipsis]"],
      ["tuple[Any, ...]", T.tupleOf(T.any), "tuple[Any, Ellipsis]"],
      ["tuple[()]", T.tuple(), "tuple[]"],
      ["tuple", { _tag: "tuple", items: [], rest: T.any, bare: true }, "tuple"],
      ["list[tuple[str, float]]", T.list(T.tuple(T.str, T.float)), "list[tuple[str, float]]"],
      ["dict[str, tuple[int, int]]", T.dict(T.tuple(T.int, T.int)), "dict[str, tuple[int, int]]"],
      ["Optional[tuple[int, str]]", T.optional(T.tuple(T.int, T.str)), "Union[tuple[int, str], NoneType]"],
      ["tuple[int, str] | None", T.optional(T.tuple(T.int, T.str)), "Union[tuple[int, str], NoneType]"],
      ["tuple[tuple[int, int], str]", T.tuple(T.tuple(T.int, T.int), T.str), "tuple[tuple[int, int], str]"],
      ["tuple[int, Optional[str]]", T.tuple(T.int, T.optional(T.str)), "tuple[int, Union[str, NoneType]]"]
    ]
    for (const [text, type, name] of cases) {
      const field = Signature.make(`q -> a: ${text}`).field("a")!
      expect(field.type, text).toEqual(type)
      expect(T.typeName(field.type), text).toBe(name)
    }
  })

  it("refuses what DSPy refuses, naming the place", () => {
    for (
      const [text, reason] of [
        ["tuple[...]", "variable tuples can only have one type"],
        ["tuple[int, str, ...]", "variable tuples can only have one type"],
        ["tuple[..., int]", "variable tuples can only have one type"],
        ["Tuple", "bare Tuple"],
        ["list[...]", "expected a type name"],
        ["tuple[int, str", "expected ',' or ']'"]
      ] as const
    ) {
      const exit = Effect.runSyncExit(Signature.parse(`q -> a: ${text}`))
      expect(exit._tag, text).toBe("Failure")
      if (exit._tag === "Failure") expect(String(exit.cause), text).toContain(reason)
    }
  })

  it("writes tuple types back as a signature string that parses to the same signature", () => {
    const source =
      "pair: tuple[int, int], q -> a: tuple[int, ...], b: Optional[tuple[str, float]], c: tuple[()], d: list[tuple[int, ...]], e: tuple"
    const sig = Signature.make(source)
    expect(sig.toString()).toBe(source)
    expect(Signature.make(sig.toString()).equals(sig)).toBe(true)
  })
})

describe("tuple type notes match DSPy 3.3.1", () => {
  for (const c of fixture.types) {
    it(`${c.signature} / ${c.field}`, () => {
      const field = Signature.make(c.signature).field(c.field)!
      expect(T.typeName(field.type)).toBe(c.annotation_name)
      // DSPy's translate_field_type renders input fields without a note; DSPex's placeholder too.
      expect(placeholder(field)).toBe(c.placeholder)
    })
  }

  it("JSON schemas as pydantic gives them", () => {
    expect(T.jsonSchema(T.tuple(T.int, T.str))).toEqual({
      maxItems: 2,
      minItems: 2,
      prefixItems: [{ type: "integer" }, { type: "string" }],
      type: "array"
    })
    // pydantic's key order (sorted), as in TypeAdapter(tuple[int, str]).json_schema().
    expect(Object.keys(T.jsonSchema(T.tuple(T.int, T.str)))).toEqual(["maxItems", "minItems", "prefixItems", "type"])
    expect(T.jsonSchema(T.tupleOf(T.int))).toEqual({ items: { type: "integer" }, type: "array" })
    expect(T.jsonSchema(T.tuple())).toEqual({ maxItems: 0, minItems: 0, type: "array" })
  })
})

describe("adapters format tuple signatures as DSPy 3.3.1 does, byte for byte", () => {
  it("covers every case of the fixture", () => {
    expect(fixture.format.length).toBe(42)
  })
  for (const c of fixture.format) {
    it(c.id, () => {
      const sig = Signature.make(c.signature, c.instructions)
      expect(adapters[c.adapter].format(sig, c.demos, c.inputs)).toEqual(c.messages)
    })
  }
})

describe("JSONAdapter's structured-output schema for tuples", () => {
  for (const c of fixture.structured_outputs) {
    if ("error" in c.schema) {
      // DSPy refuses structured outputs for a dict output; DSPex sends json_object mode for it.
      it.effect(`${c.signature}: json_object mode, as DSPy falls back`, () =>
        Effect.gen(function*() {
          const sig = Signature.make(c.signature)
          const lm = fakeLanguageModel(["{\"a\": {}, \"b\": [], \"c\": []}"], {
            structuredOutputs: true,
            jsonObject: true,
            tools: false
          })
          yield* lm.provide(
            JSONAdapter.defaultAdapter.call({ lm: testLM, signature: sig, demos: [], inputs: { q: "x" } })
          )
          expect(lm.requests[0]!.responseFormat).toEqual({ type: "json_object" })
        }))
      continue
    }
    it(c.signature, () => {
      expect(JSONAdapter.structuredOutputFormat(Signature.make(c.signature)).json_schema.schema).toEqual(c.schema)
    })
  }
})

describe("adapters parse tuple replies as DSPy 3.3.1 does", () => {
  for (const c of fixture.parse) {
    it(`${c.adapter}: ${c.note}`, () => {
      const sig = Signature.make(c.signature)
      const result = Effect.runSyncExit(adapters[c.adapter].parse(sig, c.completion))
      if (c.parsed !== undefined) {
        expect(result).toMatchObject({ _tag: "Success", value: untuple(c.parsed) })
      } else {
        expect(result._tag).toBe("Failure")
        expect(String(result._tag === "Failure" ? result.cause : "")).toContain("AdapterParseError")
      }
    })
  }

  it("reports pydantic's reasons: too many items, a missing position, a wrong item", () => {
    const t = T.tuple(T.int, T.str)
    const reason = (text: string) => {
      try {
        parseValue(text, t)
        return "parsed"
      } catch (e) {
        expect(e).toBeInstanceOf(ValueParseError)
        return (e as Error).message
      }
    }
    expect(reason("[1, \"x\", 3]")).toBe(
      "Tuple should have at most 2 items after validation, not 3 [input_value=[1, 'x', 3]]"
    )
    expect(reason("[1]")).toBe("Field required at [1] [input_value=[1]]")
    expect(reason("[1, 2]")).toBe("Input should be a valid string at [1] [input_value=2]")
    expect(reason("{\"a\": 1}")).toBe("Input should be a valid tuple [input_value={'a': 1}]")
    expect(parseValue("[\"1\", 2.0]", T.tupleOf(T.int))).toEqual([1, 2])
  })
})

describe("tuple types and Effect Schema", () => {
  it("toSchema gives Schema.Tuple; variadic tuples decode as arrays", () => {
    const fixed = T.toSchema(T.tuple(T.int, T.str)) as Schema.Codec<unknown, unknown>
    expect(Schema.decodeUnknownSync(fixed)([1, "x"])).toEqual([1, "x"])
    expect(() => Schema.decodeUnknownSync(fixed)([1, "x", 3])).toThrow()
    expect(() => Schema.decodeUnknownSync(fixed)([1.5, "x"])).toThrow()
    const variadic = T.toSchema(T.tupleOf(T.float)) as Schema.Codec<unknown, unknown>
    expect(Schema.decodeUnknownSync(variadic)([1, 2.5, 3])).toEqual([1, 2.5, 3])
  })

  it("fromSchema reads Schema.Tuple, so Schema-built signatures render like string ones", () => {
    expect(T.fromSchema(Schema.Tuple([Schema.Int, Schema.String]))).toEqual(T.tuple(T.int, T.str))
    expect(T.fromSchema(Schema.Tuple([]))).toEqual(T.tuple())
    expect(T.fromSchema(Schema.Array(Schema.Tuple([Schema.String, Schema.Number])))).toEqual(
      T.list(T.tuple(T.str, T.float))
    )
    const fromFields = Signature.fromFields({
      instructions: "Given the fields `q`, produce the fields `a`.",
      inputs: { q: Schema.String },
      outputs: { a: Schema.Tuple([Schema.Int, Schema.String]) }
    })
    const c = fixture.format.find((x) => x.id === "t1-nodemos-chat")!
    expect(ChatAdapter.defaultAdapter.format(fromFields, [], c.inputs)).toEqual(c.messages)
    expect(() => T.fromSchema(Schema.Tuple([Schema.Int, Schema.optionalKey(Schema.String)]))).toThrow(
      T.UnsupportedSchemaError
    )
    expect(() => T.fromSchema(Schema.TupleWithRest(Schema.Tuple([Schema.Int]), [Schema.String]))).toThrow(
      T.UnsupportedSchemaError
    )
  })

  it("a Schema-built tuple output keeps its checks when parsed", () =>
    Effect.gen(function*() {
      const sig = Signature.fromFields({
        inputs: { q: Schema.String },
        outputs: { a: Schema.Tuple([Schema.Int.check(Schema.isGreaterThan(0)), Schema.String]) }
      })
      const ok = yield* ChatAdapter.defaultAdapter.parse(sig, "[[ ## a ## ]]\n[3, \"x\"]\n\n[[ ## completed ## ]]")
      expect(ok).toEqual({ a: [3, "x"] })
      const bad = yield* Effect.flip(adapters.chat.parse(sig, "[[ ## a ## ]]\n[-3, \"x\"]\n\n[[ ## completed ## ]]"))
      expect(bad._tag).toBe("AdapterParseError")
    }).pipe(Effect.runSync))
})

describe("Predict with tuple fields", () => {
  it.effect("validates tuple inputs, renders them and returns a typed tuple", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["[[ ## total ## ]]\n3\n\n[[ ## parts ## ]]\n(1.0, 2)\n\n[[ ## completed ## ]]"])
      const predict = Predict.make("pair: tuple[int, int], q -> total: int, parts: tuple[float, ...]")
      const pred = yield* lm.provide(
        predict.call({ pair: [1, 2], q: "sum" }).pipe(Effect.provideService(LM.CurrentLM, testLM))
      )
      expect(pred.get("parts")).toEqual([1, 2])
      expect(pred.get("total")).toBe(3)
      expect(JSON.stringify(lm.requests[0]!.messages)).toContain("[[ ## pair ## ]]\\n[1, 2]")
      const bad = yield* Effect.flip(
        lm.provide(predict.call({ pair: [1, "x"], q: "sum" }).pipe(Effect.provideService(LM.CurrentLM, testLM)))
      )
      expect(bad._tag).toBe("InputValidationError")
    }))

  it.effect("saves and loads a predictor whose demos hold tuples (DSPy's layout: lists)", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "dspex-tuple-"))
      const predict = Predict.make("q -> a: tuple[int, str]")
      predict.demos = [{ q: "one", a: [1, "one"] }]
      yield* ProgramState.save(predict, join(dir, "p.json"))
      const saved = JSON.parse(readFileSync(join(dir, "p.json"), "utf8"))
      expect(saved.demos).toEqual([{ q: "one", a: [1, "one"] }])
      const loaded = Predict.make("q -> a: tuple[int, str]")
      yield* ProgramState.load(loaded, join(dir, "p.json"))
      expect(loaded.demos).toEqual([{ q: "one", a: [1, "one"] }])
    }))
})
