import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { AdapterParseError } from "../src/Errors.ts"
import * as T from "../src/FieldType.ts"
import * as JSONAdapter from "../src/JSONAdapter.ts"
import { LMBadRequest, LMRateLimited } from "../src/LMError.ts"
import { textOf } from "../src/Message.ts"
import * as Signature from "../src/Signature.ts"
import { adapterCases, fakeLanguageModel, parseCases, signatureFor, testLM } from "./fixtures/adapterCases.ts"

const adapter = JSONAdapter.defaultAdapter
const structured = { structuredOutputs: true, jsonObject: true, tools: false }
const jsonMode = { structuredOutputs: false, jsonObject: true, tools: false }

describe("JSONAdapter.format matches DSPy 3.3.1 byte for byte", () => {
  const cases = adapterCases.filter((c) => c.adapter === "json")
  it("covers every json case of the fixture", () => {
    expect(cases.length).toBe(66)
  })
  for (const c of cases) {
    it(c.id, () => {
      expect(adapter.format(signatureFor(c), c.demos, c.inputs)).toEqual(c.messages)
    })
  }

  it("prints demo outputs as indented JSON with floats typed by the field", () => {
    const sig = Signature.make("q -> x: float, xs: list[float], flag: bool, none: Optional[int]")
    const messages = adapter.format(sig, [{ q: "a", x: 2, xs: [1, 0.5], flag: false, none: null }], { q: "b" })
    expect(textOf(messages[2]!)).toBe(
      "{\n  \"x\": 2.0,\n  \"xs\": [\n    1.0,\n    0.5\n  ],\n  \"flag\": false,\n  \"none\": null\n}"
    )
  })
})

describe("JSONAdapter.parse matches DSPy 3.3.1", () => {
  for (const c of parseCases.filter((p) => p.adapter === "json")) {
    it.effect(c.note, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(adapter.parse(Signature.make(c.signature), c.completion))
        if (c.parsed !== undefined) expect(exit).toEqual(Exit.succeed(c.parsed))
        else {
          const error = yield* Effect.flip(adapter.parse(Signature.make(c.signature), c.completion))
          expect(error).toBeInstanceOf(AdapterParseError)
          expect(error.completion).toBe(c.completion)
        }
      }))
  }
})

describe("JSONAdapter.parse rules", () => {
  it.effect("finds the object inside prose and code fences, keeping only output keys", () =>
    Effect.gen(function*() {
      const sig = Signature.make("question -> answer: int")
      expect(yield* adapter.parse(sig, "Sure! ```json\n{\"answer\": 4, \"extra\": 1}\n``` Hope that helps.")).toEqual({
        answer: 4
      })
    }))

  it.effect("repairs truncated JSON", () =>
    Effect.gen(function*() {
      const sig = Signature.make("question -> reasoning, answer")
      expect(yield* adapter.parse(sig, "{\"reasoning\": \"2+2\", \"answer\": \"4")).toEqual({
        reasoning: "2+2",
        answer: "4"
      })
    }))

  it.effect("a wrong-typed value names the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        adapter.parse(Signature.make("question -> answer: float"), "{\"answer\": \"abc\"}")
      )
      expect(error).toMatchObject({ field: "answer", adapter: "JSONAdapter" })
      expect(error.reason).toContain("expected float")
    }))

  it.effect("a missing field is an error naming it; an empty reply is an error", () =>
    Effect.gen(function*() {
      const sig = Signature.make("question -> reasoning, answer")
      expect(yield* Effect.flip(adapter.parse(sig, "{\"reasoning\": \"r\"}"))).toMatchObject({ field: "answer" })
      expect((yield* Effect.flip(adapter.parse(sig, ""))).reason).toContain("empty")
    }))
})

describe("structured output schema", () => {
  it("lists every property as required and forbids others, recursively", () => {
    const inner: T.FieldType = {
      _tag: "object",
      name: "Step",
      properties: [{ name: "text", type: T.str, optional: true }]
    }
    const sig = Signature.make("q -> answer: int").append("steps", "output", T.list(inner))
    const format = JSONAdapter.structuredOutputFormat(sig)
    expect(format.type).toBe("json_schema")
    expect(format.json_schema).toMatchObject({ name: "DSPyProgramOutputs", strict: true })
    const schema = format.json_schema.schema as Record<string, any>
    expect(schema).toMatchObject({
      type: "object",
      title: "DSPyProgramOutputs",
      required: ["answer", "steps"],
      additionalProperties: false
    })
    expect(schema.properties.answer).toEqual({ type: "integer", title: "Answer" })
    expect(schema.properties.steps.items).toEqual({ $ref: "#/$defs/Step" })
    expect(schema.$defs.Step).toMatchObject({ required: ["text"], additionalProperties: false })
  })
})

describe("JSONAdapter.call request modes", () => {
  const sig = Signature.make("question -> answer: int")
  const call = { lm: testLM, signature: sig, demos: [], inputs: { question: "2+2?" } }

  it.effect("asks for strict structured outputs when the model supports them", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["{\"answer\": 4}"], structured)
      const result = yield* lm.provide(adapter.call(call))
      expect(result.outputs).toEqual([{ answer: 4 }])
      expect(lm.requests[0]!.responseFormat).toEqual(JSONAdapter.structuredOutputFormat(sig))
      expect(lm.requests[0]!.messages).toEqual(adapter.format(sig, [], call.inputs))
    }))

  it.effect("retries once in json_object mode when the structured reply does not parse", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["not json at all", "{\"answer\": \"4\"}"], structured)
      const result = yield* lm.provide(adapter.call(call))
      expect(result.outputs).toEqual([{ answer: 4 }])
      expect(lm.requests.map((r) => r.responseFormat?.type)).toEqual(["json_schema", "json_object"])
    }))

  it.effect("retries once in json_object mode when the provider rejects the schema", () =>
    Effect.gen(function*() {
      const rejected = new LMBadRequest({
        provider: "openai",
        model: "test-model",
        detail: "Invalid schema for response_format"
      })
      const lm = fakeLanguageModel([rejected, "{\"answer\": 4}"], structured)
      const result = yield* lm.provide(adapter.call(call))
      expect(result.outputs).toEqual([{ answer: 4 }])
      expect(lm.requests.map((r) => r.responseFormat?.type)).toEqual(["json_schema", "json_object"])
    }))

  it.effect("does not retry other LM errors", () =>
    Effect.gen(function*() {
      const limited = new LMRateLimited({ provider: "openai", model: "test-model", detail: "slow down" })
      const lm = fakeLanguageModel([limited, "{\"answer\": 4}"], structured)
      expect(yield* Effect.flip(lm.provide(adapter.call(call)))).toBe(limited)
      expect(lm.requests).toHaveLength(1)
    }))

  it.effect("uses json_object for open-ended dict outputs and when schemas are unsupported", () =>
    Effect.gen(function*() {
      const dictSig = Signature.make("query -> result: dict[str, int]")
      const a = fakeLanguageModel(["{\"result\": {\"x\": 1}}"], structured)
      expect((yield* a.provide(adapter.call({ ...call, signature: dictSig }))).outputs).toEqual([{ result: { x: 1 } }])
      expect(a.requests[0]!.responseFormat).toEqual({ type: "json_object" })
      const b = fakeLanguageModel(["{\"answer\": 4}"], jsonMode)
      yield* b.provide(adapter.call(call))
      expect(b.requests[0]!.responseFormat).toEqual({ type: "json_object" })
    }))

  it.effect("sends a plain request when the model has no response formats, or when structured outputs are off", () =>
    Effect.gen(function*() {
      const plain = fakeLanguageModel(["{\"answer\": 4}"])
      yield* plain.provide(adapter.call(call))
      expect(plain.requests[0]!.responseFormat).toBeUndefined()
      const off = fakeLanguageModel(["{\"answer\": 4}"], structured)
      yield* off.provide(JSONAdapter.make({ structuredOutputs: false }).call(call))
      expect(off.requests[0]!.responseFormat).toEqual({ type: "json_object" })
    }))

  it.effect("a json_object reply that does not parse is the caller's error (no further retry)", () =>
    Effect.gen(function*() {
      const lm = fakeLanguageModel(["nope", "{\"answer\": 4}"], jsonMode)
      const error = yield* Effect.flip(lm.provide(adapter.call(call)))
      expect(error).toMatchObject({ _tag: "AdapterParseError", adapter: "JSONAdapter", completion: "nope" })
      expect(lm.requests).toHaveLength(1)
    }))
})
