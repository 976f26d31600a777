import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { SignatureEditError, SignatureParseError } from "../src/Errors.ts"
import * as T from "../src/FieldType.ts"
import * as Signature from "../src/Signature.ts"

describe("Signature.parse", () => {
  it("parses untyped fields as str with DSPy's default instructions", () => {
    const sig = Signature.make("question -> answer")
    expect(sig.inputNames).toEqual(["question"])
    expect(sig.outputNames).toEqual(["answer"])
    expect(sig.inputs[0]!.type).toEqual(T.str)
    expect(sig.instructions).toBe("Given the fields `question`, produce the fields `answer`.")
    expect(sig.inputs[0]!.desc).toBe("${question}")
    expect(sig.outputs[0]!.prefix).toBe("Answer:")
  })

  it("parses every supported type", () => {
    const sig = Signature.make(
      "context: list[str], scores: dict[str, int], flag: bool, n: int -> answer: float, label: Literal['a', 'b c'], maybe: Optional[int], other: str | None, nested: list[dict[str, float]]"
    )
    const name = (n: string) => T.typeName(sig.field(n)!.type)
    expect(name("context")).toBe("list[str]")
    expect(name("scores")).toBe("dict[str, int]")
    expect(name("flag")).toBe("bool")
    expect(name("n")).toBe("int")
    expect(name("answer")).toBe("float")
    expect(name("label")).toBe("Literal['a', 'b c']")
    expect(name("maybe")).toBe("Union[int, NoneType]")
    expect(name("other")).toBe("Union[str, NoneType]")
    expect(name("nested")).toBe("list[dict[str, float]]")
    expect(sig.instructions).toBe(
      "Given the fields `context`, `scores`, `flag`, `n`, produce the fields `answer`, `label`, `maybe`, `other`, `nested`."
    )
  })

  it("accepts typing-prefixed names and a Literal without spaces", () => {
    const sig = Signature.make("x: typing.List[str] -> y: Literal['positive','negative']")
    expect(T.typeName(sig.field("x")!.type)).toBe("list[str]")
    expect(T.typeName(sig.field("y")!.type)).toBe("Literal['positive', 'negative']")
  })

  it("decodes values with the field schema", () => {
    const sig = Signature.make("q -> n: int, xs: list[str], v: Optional[float]")
    const decode = (f: string, v: unknown) => Schema.decodeUnknownExit(sig.field(f)!.schema as Schema.Codec<unknown>)(v)
    expect(Exit.isSuccess(decode("n", 3))).toBe(true)
    expect(Exit.isSuccess(decode("n", 3.5))).toBe(false)
    expect(Exit.isSuccess(decode("xs", ["a"]))).toBe(true)
    expect(Exit.isSuccess(decode("xs", [1]))).toBe(false)
    expect(Exit.isSuccess(decode("v", null))).toBe(true)
  })

  const cases: Array<[string, number, RegExp]> = [
    ["question answer", 9, /expected ',' between fields/],
    ["question", 8, /needs '->'/],
    ["q -> ", 5, /at least one output/],
    ["q -> a -> b", 7, /exactly one '->'/],
    ["q: lst[str] -> a", 3, /unknown type "lst"/],
    ["q: list[str -> a", 12, /expected '\]'/],
    ["q -> a: Literal[]", 16, /expected a literal value/],
    ["q, q -> a", 3, /duplicate input field "q"/],
    ["q -> q", 5, /both an input and an output/],
    ["q: dict[str] -> a", 3, /dict takes two type arguments/],
    ["q -> a: Literal['x", 16, /unterminated string literal/],
    ["q$ -> a", 1, /unexpected character/]
  ]
  for (const [source, position, reason] of cases) {
    it.effect(`rejects ${JSON.stringify(source)} with position ${position}`, () =>
      Effect.gen(function*() {
        const err = yield* Effect.flip(Signature.parse(source))
        expect(err).toBeInstanceOf(SignatureParseError)
        expect(err._tag).toBe("SignatureParseError")
        expect(err.position).toBe(position)
        expect(err.reason).toMatch(reason)
        expect(err.message).toContain(source)
        expect(err.retryable).toBe(false)
      }))
  }
})

describe("Signature edits", () => {
  const base = Signature.make("question -> answer", "Answer briefly.")

  it("are immutable and keep instructions", () => {
    const cot = base.prepend("reasoning", "output")
    expect(base.outputNames).toEqual(["answer"])
    expect(cot.outputNames).toEqual(["reasoning", "answer"])
    expect(cot.instructions).toBe("Answer briefly.")
    expect(base.withInstructions("x").instructions).toBe("x")
    expect(base.instructions).toBe("Answer briefly.")
  })

  it("insert, append, delete and update fields", () => {
    const s = base.append("context", "input", { type: T.list(T.str), desc: "facts" }).insert(0, "topic", "input")
    expect(s.inputNames).toEqual(["topic", "question", "context"])
    expect(s.field("context")!.desc).toBe("facts")
    expect(s.delete("topic").inputNames).toEqual(["question", "context"])
    const u = s.withUpdatedField("answer", { type: T.float, desc: "a number" })
    expect(T.typeName(u.field("answer")!.type)).toBe("float")
    expect(u.field("answer")!.desc).toBe("a number")
    expect(s.insert(-2, "mid", "input").inputNames).toEqual(["topic", "question", "mid", "context"])
  })

  it("rejects bad edits with a typed error", () => {
    expect(() => base.delete("nope")).toThrow(SignatureEditError)
    expect(() => base.append("question", "output")).toThrow(/already exists/)
    expect(() => base.insert(5, "x", "input")).toThrow(/out of range/)
    expect(() => base.withUpdatedField("nope", { desc: "x" })).toThrow(SignatureEditError)
  })

  it("equals compares instructions and fields", () => {
    expect(base.equals(Signature.make("question -> answer", "Answer briefly."))).toBe(true)
    expect(base.equals(Signature.make("question -> answer"))).toBe(false)
    expect(base.equals(Signature.make("question -> answer: int", "Answer briefly."))).toBe(false)
  })

  it("renders the typed string form", () => {
    expect(Signature.make("context: list[str], question -> answer: Optional[int]").toString()).toBe(
      "context: list[str], question -> answer: Optional[int]"
    )
  })
})

describe("Signature.fromFields", () => {
  it("reads types, descriptions and constraints from Effect Schema", () => {
    const sig = Signature.fromFields({
      instructions: "Answer using the context.",
      inputs: {
        context: Schema.Array(Schema.String).annotate({ description: "may contain relevant facts" }),
        question: Schema.String
      },
      outputs: {
        answer: { type: Schema.String.check(Schema.isMinLength(1)), desc: "often between 1 and 5 words" },
        confidence: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
        label: Schema.Literals(["yes", "no"]),
        count: Schema.Int,
        extra: Schema.NullOr(Schema.Int),
        item: Schema.Struct({ name: Schema.String, qty: Schema.optionalKey(Schema.Int) }).annotate({
          identifier: "Item"
        })
      }
    })
    expect(sig.field("context")!.desc).toBe("may contain relevant facts")
    expect(T.typeName(sig.field("context")!.type)).toBe("list[str]")
    expect(sig.field("answer")!.desc).toBe("often between 1 and 5 words")
    expect(sig.field("answer")!.constraints).toMatch(/at least 1/)
    expect(sig.field("confidence")!.constraints).toBeDefined()
    expect(T.typeName(sig.field("label")!.type)).toBe("Literal['yes', 'no']")
    expect(T.typeName(sig.field("count")!.type)).toBe("int")
    expect(T.typeName(sig.field("extra")!.type)).toBe("Union[int, NoneType]")
    expect(T.typeName(sig.field("item")!.type)).toBe("Item")
    expect(T.jsonSchema(sig.field("item")!.type)).toEqual({
      properties: { name: { title: "Name", type: "string" }, qty: { title: "Qty", type: "integer" } },
      required: ["name"],
      title: "Item",
      type: "object"
    })
  })

  it("rejects a schema with no prompt-level type", () => {
    expect(() => Signature.fromFields({ inputs: { d: Schema.Date as Schema.Top }, outputs: { a: Schema.String } }))
      .toThrow(/no prompt-level type/)
  })
})

describe("inferPrefix", () => {
  it("title-cases like DSPy", () => {
    expect(Signature.inferPrefix("next_tool_args")).toBe("Next Tool Args:")
    expect(Signature.inferPrefix("is_correct")).toBe("Is Correct:")
    expect(Signature.inferPrefix("questionText")).toBe("Question Text:")
    expect(Signature.inferPrefix("answer")).toBe("Answer:")
  })
})
