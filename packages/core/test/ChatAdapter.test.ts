import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema, Tracer } from "effect"
import type { Demo } from "../src/Adapter.ts"
import { type CallbackEvent, withCallbacks } from "../src/Callbacks.ts"
import * as ChatAdapter from "../src/ChatAdapter.ts"
import { AdapterParseError } from "../src/Errors.ts"
import * as Example from "../src/Example.ts"
import * as T from "../src/FieldType.ts"
import { parseValue, ValueParseError } from "../src/internal/parseValue.ts"
import { LMContextWindowExceeded } from "../src/LMError.ts"
import { textOf } from "../src/Message.ts"
import * as Signature from "../src/Signature.ts"
import { adapterCases, fakeLanguageModel, parseCases, signatureFor, testLM } from "./fixtures/adapterCases.ts"

const adapter = ChatAdapter.make({ useJsonAdapterFallback: false })

const parseError = (sig: Signature.Signature, completion: string) => Effect.flip(adapter.parse(sig, completion))

describe("ChatAdapter.format matches DSPy 3.3.1 byte for byte", () => {
  const cases = adapterCases.filter((c) => c.adapter === "chat")
  it("covers every chat case of the fixture", () => {
    expect(cases.length).toBe(66)
  })
  for (const c of cases) {
    it(c.id, () => {
      expect(ChatAdapter.defaultAdapter.format(signatureFor(c), c.demos, c.inputs)).toEqual(c.messages)
    })
  }
})

describe("ChatAdapter.format beyond the fixtures", () => {
  it("renders demos edited in place, added or replaced after an earlier format (no stale demo turns)", () => {
    const sig = Signature.make("question -> answer")
    const demos: Array<Record<string, unknown>> = [{ question: "1+1?", answer: "2" }]
    const render = () => adapter.format(sig, demos, { question: "q" }).map((m) => textOf(m)).join("\n---\n")
    expect(render()).toContain("2")
    demos[0]!.answer = "two"
    expect(render()).toContain("two")
    demos.push({ question: "2+2?", answer: "four" })
    expect(render()).toContain("four")
    demos[1] = { question: "3+3?", answer: "six" }
    const text = render()
    expect(text).toContain("six")
    expect(text).not.toContain("four")
    delete demos[0]!.answer
    expect(render()).not.toContain("two")
    // Nested values are never cached: editing a list inside a demo shows up too.
    const listSig = Signature.make("context: list[str], question -> answer")
    const nested = [{ context: ["alpha"], question: "q?", answer: "a" }]
    expect(adapter.format(listSig, nested, { context: [], question: "x" }).map(textOf).join()).toContain("alpha")
    nested[0]!.context.push("beta")
    expect(adapter.format(listSig, nested, { context: [], question: "x" }).map(textOf).join()).toContain("beta")
  })

  it("dedents multi-line instructions and indents every line by 8 spaces", () => {
    const sig = Signature.make("question -> answer", "  Line one\n    indented\n\n  Line three")
    const system = textOf(adapter.format(sig, [], { question: "q" })[0]!)
    expect(system.endsWith("your objective is: \n        Line one\n          indented\n        \n        Line three"))
      .toBe(true)
  })

  it("numbers a list given to a str field and wraps multi-line items", () => {
    const sig = Signature.make("question -> answer")
    const user = textOf(adapter.format(sig, [], { question: ["a", "b\nc"] })[1]!)
    expect(user.startsWith("[[ ## question ## ]]\n[1] «a»\n[2] «««\n    b\n    c\n»»»\n\n")).toBe(true)
  })

  it("prints values as Python's str() does: floats typed by the field, True, None", () => {
    const sig = Signature.make("x: float, flag: bool, maybe: Optional[int], items: list[float] -> answer")
    const user = textOf(adapter.format(sig, [], { x: 4, flag: true, maybe: null, items: [1, 2.5, 1e20] })[1]!)
    expect(user).toContain(
      "[[ ## x ## ]]\n4.0\n\n[[ ## flag ## ]]\nTrue\n\n[[ ## maybe ## ]]\nNone\n\n[[ ## items ## ]]\n[1.0, 2.5, 1e+20]"
    )
  })

  it("renders descriptions and a Constraints line for Schema-built fields", () => {
    const sig = Signature.fromFields({
      inputs: { question: { type: Schema.String, desc: "a math question" } },
      outputs: { answer: { type: Schema.Number, desc: "the result", constraints: "greater than 0" } }
    })
    const system = textOf(adapter.format(sig, [], {})[0]!)
    expect(system.startsWith(
      "Your input fields are:\n1. `question` (str): a math question\nYour output fields are:\n1. `answer` (float): the result\nConstraints: greater than 0\n"
    )).toBe(true)
  })

  it("drops demos without inputs or outputs and puts incomplete ones first", () => {
    const sig = Signature.make("question -> answer")
    const messages = adapter.format(sig, [{ question: "full", answer: "A" }, { question: "no output" }, {
      answer: "no input"
    }, { question: "partial", answer: null }], { question: "now" })
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user"])
    expect(textOf(messages[1]!)).toBe(
      "This is an example of the task, though some input or output fields are not supplied.\n\n[[ ## question ## ]]\npartial"
    )
    expect(textOf(messages[2]!)).toBe("[[ ## answer ## ]]\nNone\n\n[[ ## completed ## ]]\n")
    expect(textOf(messages[3]!)).toBe("[[ ## question ## ]]\nfull")
  })

  it("accepts Example demos as their fields", () => {
    const sig = Signature.make("question -> answer")
    const asExample = adapter.format(sig, [Example.make({ question: "q", answer: "a" }) as unknown as Demo], {
      question: "x"
    })
    expect(asExample).toEqual(adapter.format(sig, [{ question: "q", answer: "a" }], { question: "x" }))
    expect(asExample).toHaveLength(4)
  })

  it("computes the system message per signature (an edited signature is not served a stale one)", () => {
    const sig = Signature.make("question -> answer")
    const before = textOf(adapter.format(sig, [], { question: "q" })[0]!)
    const edited = textOf(adapter.format(sig.withInstructions("Be brief."), [], { question: "q" })[0]!)
    expect(before).toContain("Given the fields `question`")
    expect(edited.endsWith("\n        Be brief.")).toBe(true)
  })
})

describe("ChatAdapter.parse matches DSPy 3.3.1", () => {
  for (const c of parseCases.filter((p) => p.adapter === "chat")) {
    it.effect(`${c.note}`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(adapter.parse(Signature.make(c.signature), c.completion))
        if (c.parsed !== undefined) expect(exit).toEqual(Exit.succeed(c.parsed))
        else {
          expect(Exit.isFailure(exit)).toBe(true)
          const error = yield* parseError(Signature.make(c.signature), c.completion)
          expect(error).toBeInstanceOf(AdapterParseError)
          expect(error.completion).toBe(c.completion)
        }
      }))
  }
})

describe("ChatAdapter.parse rules", () => {
  it.effect("takes text after the header on the same line, and the first section of a field", () =>
    Effect.gen(function*() {
      const out = yield* adapter.parse(
        Signature.make("question -> answer"),
        "[[ ## answer ## ]] Paris\n[[ ## answer ## ]]\nLyon"
      )
      expect(out).toEqual({ answer: "Paris" })
    }))

  it.effect("fills a missing Optional output with null", () =>
    Effect.gen(function*() {
      const out = yield* adapter.parse(
        Signature.make("text -> summary, age: Optional[int]"),
        "[[ ## summary ## ]]\nshort"
      )
      expect(out).toEqual({ summary: "short", age: null })
    }))

  it.effect("a missing output is an error naming it, with the raw completion kept", () =>
    Effect.gen(function*() {
      const completion = "[[ ## answer ## ]]\n42"
      const error = yield* parseError(Signature.make("question -> reasoning, answer"), completion)
      expect(error.field).toBe("reasoning")
      expect(error.reason).toContain("[reasoning]")
      expect(error.completion).toBe(completion)
      expect(error.parsed).toEqual({ answer: "42" })
      expect(error.message).toContain("question -> reasoning, answer")
    }))

  it.effect("a wrong-typed value names the field and the expected type", () =>
    Effect.gen(function*() {
      const error = yield* parseError(
        Signature.make("question -> answer: float"),
        "[[ ## answer ## ]]\nabc\n\n[[ ## completed ## ]]"
      )
      expect(error.field).toBe("answer")
      expect(error.reason).toContain("expected float")
      expect(error.reason).toContain("'abc'")
    }))

  it.effect("an empty reply is an error", () =>
    Effect.gen(function*() {
      const error = yield* parseError(Signature.make("question -> answer"), "")
      expect(error.reason).toContain("empty")
    }))

  it.effect("coerces like pydantic's lax mode", () =>
    Effect.gen(function*() {
      const sig = Signature.make("q -> n: int, x: float, ok: bool, tags: list[str], m: dict[str, float]")
      const out = yield* adapter.parse(
        sig,
        "[[ ## n ## ]]\n\"5\"\n[[ ## x ## ]]\n5\n[[ ## ok ## ]]\nTrue\n[[ ## tags ## ]]\n['a', \"b\"]\n[[ ## m ## ]]\n{'k': 1,}"
      )
      expect(out).toEqual({ n: 5, x: 5, ok: true, tags: ["a", "b"], m: { k: 1 } })
    }))

  it.effect("decodes with the field's Effect Schema, so its checks apply", () =>
    Effect.gen(function*() {
      const sig = Signature.fromFields({
        inputs: { q: Schema.String },
        outputs: { score: Schema.Number.check(Schema.isGreaterThan(0)) }
      })
      expect(yield* adapter.parse(sig, "[[ ## score ## ]]\n3")).toEqual({ score: 3 })
      const error = yield* parseError(sig, "[[ ## score ## ]]\n-3")
      expect(error.field).toBe("score")
      expect(error.reason).toContain("greater than 0")
    }))

  it.effect("strips a Literal[...] wrapper and quotes, and rejects other values", () =>
    Effect.gen(function*() {
      const sig = Signature.make("text -> s: Literal['pos', 'neg']")
      expect(yield* adapter.parse(sig, "[[ ## s ## ]]\nLiteral['neg']")).toEqual({ s: "neg" })
      expect(yield* adapter.parse(sig, "[[ ## s ## ]]\n\"pos\"")).toEqual({ s: "pos" })
      expect((yield* parseError(sig, "[[ ## s ## ]]\nneutral")).field).toBe("s")
    }))
})

// DSPy's parse_value on these inputs, as DSPy 3.3.1 (json_repair, pydantic 2.13) returns them.
const parseValueCases: ReadonlyArray<readonly [string, unknown, { readonly value: unknown } | "error"]> = [
  ["int", "6", { value: 6 }],
  ["int", "\"6\"", { value: 6 }],
  ["int", " 7 ", { value: 7 }],
  ["int", "6.0", { value: 6 }],
  ["int", "6.5", "error"],
  ["int", "1e3", { value: 1000 }],
  ["int", "True", { value: 1 }],
  ["int", "1_000", { value: 1000 }],
  ["int", "5 apples", "error"],
  ["int", "None", "error"],
  ["float", "6", { value: 6 }],
  ["float", "1e3", { value: 1000 }],
  ["float", "abc", "error"],
  ["float", ".5", { value: 0.5 }],
  ["float", "True", { value: 1 }],
  ["float", 6, { value: 6 }],
  ["bool", "true", { value: true }],
  ["bool", "TRUE", { value: true }],
  ["bool", "yes", { value: true }],
  ["bool", "0", { value: false }],
  ["bool", "2", "error"],
  ["bool", "None", "error"],
  ["list[str]", "['a', 'b']", { value: ["a", "b"] }],
  ["list[str]", "a, b", "error"],
  ["list[str]", "[\"a\", 'b', 3]", "error"],
  ["list[int]", "1, 2", { value: [1, 2] }],
  ["list[int]", "(1, 2)", { value: [1, 2] }],
  ["list[int]", "Answer: [1,2] done", { value: [1, 2] }],
  ["list[int]", "[1, 2", { value: [1, 2] }],
  ["list[int]", "```json\n[1, 2]\n```", { value: [1, 2] }],
  ["dict[str, int]", "{'a': 1}", { value: { "a": 1 } }],
  ["dict[str, int]", "{\"a\": \"1\"}", { value: { "a": 1 } }],
  ["dict[str, int]", "{\"a\": 1.5}", "error"],
  ["Optional[int]", "None", { value: null }],
  ["Optional[int]", "null", { value: null }],
  ["Optional[int]", "", "error"],
  ["Optional[str]", "None", { value: "None" }],
  ["Literal['a', 'b']", "'a'", { value: "a" }],
  ["Literal['a', 'b']", "Literal['a']", { value: "a" }],
  ["Literal['a', 'b']", " b ", { value: "b" }],
  ["Literal['a', 'b']", "c", "error"],
  ["Union[int, str]", "6", { value: 6 }],
  ["Union[int, str]", "abc", { value: "abc" }],
  ["Union[str, int]", "\"6\"", { value: "6" }],
  ["Union[float, int]", "6", { value: 6 }],
  ["Any", "{\"a\": [1, true]}", { value: { "a": [1, true] } }],
  ["Any", "hello", { value: "hello" }],
  ["str", 6, { value: "6" }],
  ["str", { "a": 1 }, { value: "{'a': 1}" }],
  ["str", null, { value: "None" }]
]

describe("parse_value parity with DSPy", () => {
  for (const [type, value, expected] of parseValueCases) {
    it(`${type} ← ${JSON.stringify(value)}`, () => {
      const t = Signature.make(`q -> y: ${type}`).outputs[0]!.type
      if (expected === "error") expect(() => parseValue(value, t)).toThrow(ValueParseError)
      else expect(parseValue(value, t)).toEqual(expected.value)
    })
  }
})

describe("ChatAdapter.call", () => {
  const sig = Signature.make("question -> answer: int")
  const good = "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"

  it.effect("sends the formatted messages with the config and parses every completion", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel([[good, "[[ ## answer ## ]]\n5"]])
      const result = yield* lm.provide(
        adapter.call({
          lm: testLM,
          signature: sig,
          demos: [],
          inputs: { question: "2+2?" },
          config: { n: 2, temperature: 0.7 }
        })
      )
      expect(result.outputs).toEqual([{ answer: 4 }, { answer: 5 }])
      expect(result.adapter).toBe("ChatAdapter")
      expect(lm.requests).toHaveLength(1)
      expect(lm.requests[0]!.messages).toEqual(adapter.format(sig, [], { question: "2+2?" }))
      expect(lm.requests[0]!.temperature).toBe(0.7)
      expect(lm.requests[0]!.n).toBe(2)
      expect(lm.requests[0]!.responseFormat).toBeUndefined()
    }))

  it.effect("falls back to JSONAdapter once when the reply does not parse", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["The answer is 4.", "{\"answer\": 4}"], {
        structuredOutputs: false,
        jsonObject: true,
        tools: false
      })
      const result = yield* lm.provide(
        ChatAdapter.defaultAdapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "2+2?" } })
      )
      expect(result).toMatchObject({ outputs: [{ answer: 4 }], adapter: "JSONAdapter" })
      expect(lm.requests).toHaveLength(2)
      expect(textOf(lm.requests[1]!.messages[0]!)).toContain("Outputs will be a JSON object with the following fields.")
      expect(lm.requests[1]!.responseFormat).toEqual({ type: "json_object" })
    }))

  it.effect("reports JSONAdapter's error when the fallback fails too", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["no sections", "still not json"])
      const error = yield* Effect.flip(
        lm.provide(
          ChatAdapter.defaultAdapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "2+2?" } })
        )
      )
      expect(error).toBeInstanceOf(AdapterParseError)
      expect(error).toMatchObject({ adapter: "JSONAdapter", completion: "still not json" })
    }))

  it.effect("without the fallback a parse failure is the caller's error", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["The answer is 4."])
      const error = yield* Effect.flip(
        lm.provide(adapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "2+2?" } }))
      )
      expect(error).toMatchObject({
        _tag: "AdapterParseError",
        adapter: "ChatAdapter",
        field: "answer",
        completion: "The answer is 4."
      })
      expect(lm.requests).toHaveLength(1)
    }))

  it.effect("an empty completion fails (and is retried with JSONAdapter by default)", () =>
    Effect.gen(function*() {
      const strict = fakeLanguageModel([""])
      const error = yield* Effect.flip(
        strict.provide(adapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "q" } }))
      )
      expect(error).toMatchObject({ _tag: "AdapterParseError", reason: "The LM returned an empty or null response." })
      const lenient = fakeLanguageModel(["", "{\"answer\": 1}"])
      const result = yield* lenient.provide(
        ChatAdapter.defaultAdapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "q" } })
      )
      expect(result.outputs).toEqual([{ answer: 1 }])
    }))

  it.effect("never retries after an LM error", () =>
    Effect.gen(function*() {
      const overflow = new LMContextWindowExceeded({ provider: "openai", model: "test-model", detail: "too long" })
      const lm = fakeLanguageModel([overflow, good])
      const error = yield* Effect.flip(
        lm.provide(
          ChatAdapter.defaultAdapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "q" } })
        )
      )
      expect(error).toBe(overflow)
      expect(lm.requests).toHaveLength(1)
    }))

  it.effect("emits format and parse events, start and end paired by call id", () =>
    Effect.gen(function*() {
      const events: Array<CallbackEvent> = []
      const lm = fakeLanguageModel([good])
      yield* lm.provide(adapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "q" } })).pipe(
        withCallbacks([(e) => events.push(e)])
      )
      expect(events.map((e) => e._tag)).toEqual([
        "AdapterFormatStart",
        "AdapterFormatEnd",
        "AdapterParseStart",
        "AdapterParseEnd"
      ])
      expect(events[0]!.callId).toBe(events[1]!.callId)
      expect(events[2]!.callId).toBe(events[3]!.callId)
      expect(events[3]).toMatchObject({ adapter: "ChatAdapter", outputs: { answer: 4 } })
    }))

  it.effect("runs the LM call inside a ChatAdapter.call span with adapter, signature and n", () =>
    Effect.gen(function*() {
      let seen: { name: string; attributes: ReadonlyMap<string, unknown> } | undefined
      const lm = fakeLanguageModel(
        [[good, good, good]],
        undefined,
        Effect.map(Effect.option(Effect.currentSpan), (span) => {
          if (Option.isSome(span)) seen = { name: span.value.name, attributes: span.value.attributes }
        })
      )
      yield* lm.provide(
        adapter.call({ lm: testLM, signature: sig, demos: [], inputs: { question: "q" }, config: { n: 3 } })
      ).pipe(
        Effect.provideService(Tracer.Tracer, Tracer.make({ span: (options) => new Tracer.NativeSpan(options) }))
      )
      expect(seen?.name).toBe("ChatAdapter.call")
      expect(Object.fromEntries(seen!.attributes)).toMatchObject({
        adapter: "ChatAdapter",
        signature: "question -> answer: int",
        n: 3
      })
    }))
})

describe("FieldType names in prompts", () => {
  it("quotes Literal strings as DSPy does (no backslash escaping)", () => {
    const sig = new Signature.Signature({
      inputs: [],
      outputs: [{ ...Signature.make("q -> a").outputs[0]!, type: T.literal("it's", "a\\b") }]
    })
    expect(textOf(adapter.format(sig, [], {})[0]!)).toContain("1. `a` (Literal[\"it's\", 'a\\b']):")
  })
})
