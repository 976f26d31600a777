import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { AdapterParseError } from "../src/Errors.ts"
import * as T from "../src/FieldType.ts"
import { textOf } from "../src/Message.ts"
import * as Signature from "../src/Signature.ts"
import * as XMLAdapter from "../src/XMLAdapter.ts"
import { adapterCases, fakeLanguageModel, parseCases, signatureFor, testLM } from "./fixtures/adapterCases.ts"

const adapter = XMLAdapter.make({ useJsonAdapterFallback: false })
const parseFails = (sig: Signature.Signature, completion: string) => Effect.flip(adapter.parse(sig, completion))

describe("XMLAdapter.format matches DSPy 3.3.1 byte for byte", () => {
  const cases = adapterCases.filter((c) => c.adapter === "xml")
  it("covers every xml case of the fixture", () => {
    expect(cases.length).toBe(66)
  })
  for (const c of cases) {
    it(c.id, () => {
      expect(XMLAdapter.defaultAdapter.format(signatureFor(c), c.demos, c.inputs)).toEqual(c.messages)
    })
  }
})

describe("XMLAdapter.format of structured outputs", () => {
  const step: T.FieldType = {
    _tag: "object",
    name: "Step",
    properties: [{ name: "text", type: T.str, optional: false }, { name: "score", type: T.float, optional: false }]
  }
  const sig = Signature.make("q -> answer").append("steps", "output", T.list(step)).append(
    "meta",
    "output",
    T.dict(T.any)
  )

  it("shows the nested shape in the structure block and the reminder", () => {
    const [system, user] = adapter.format(sig, [], { q: "x" })
    expect(textOf(system!)).toContain(
      "<answer>\n{answer}\n</answer>\n\n<steps><item><text>...</text><score>...</score></item></steps>\n\n<meta>...</meta>"
    )
    expect(textOf(user!)).toBe(
      "<q>\nx\n</q>\n\nRespond with the corresponding output fields wrapped in XML tags `<answer>`, then `<steps>`, then `<meta>`. Use this nested XML structure: <steps><item><text>...</text><score>...</score></item></steps> <meta>...</meta>"
    )
  })

  it("renders demo values as nested XML, escaping text and odd keys", () => {
    const messages = adapter.format(sig, [{
      q: "x",
      answer: "a < b & c",
      steps: [{ text: "t", score: 1 }],
      meta: { "bad key": null, ok: true }
    }], { q: "y" })
    expect(textOf(messages[2]!)).toBe(
      "<answer>\na &lt; b &amp; c\n</answer>\n\n<steps><item><text>t</text><score>1.0</score></item></steps>\n\n<meta><entry key=\"bad key\" /><ok>True</ok></meta>"
    )
  })
})

describe("XMLAdapter.parse matches DSPy 3.3.1", () => {
  for (const c of parseCases.filter((p) => p.adapter === "xml")) {
    it.effect(c.note, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(adapter.parse(Signature.make(c.signature), c.completion))
        expect(exit).toEqual(Exit.succeed(c.parsed))
      }))
  }
})

describe("XMLAdapter.parse rules", () => {
  it.effect("reads nested lists, dicts and Optional values", () =>
    Effect.gen(function*() {
      const sig = Signature.make("q -> tags: list[str], counts: dict[str, int], age: Optional[int], note: str")
      const out = yield* adapter.parse(
        sig,
        "<tags><item>a</item><item>b</item></tags>\n<counts><x>1</x><entry key=\"y z\">2</entry></counts>\n<age></age>\n<note>see <b>this</b></note>"
      )
      expect(out).toEqual({ tags: ["a", "b"], counts: { x: 1, "y z": 2 }, age: null, note: "see <b>this</b>" })
    }))

  it.effect("malformed XML is an error with ElementTree's position", () =>
    Effect.gen(function*() {
      const error = yield* parseFails(Signature.make("q -> answer"), "<answer>a & b</answer>")
      expect(error).toBeInstanceOf(AdapterParseError)
      expect(error.reason).toBe("Failed to parse XML: not well-formed (invalid token): line 1, column 22")
      expect((yield* parseFails(Signature.make("q -> answer"), "<answer>v</answr>")).reason).toContain("mismatched tag")
    }))

  it.effect("a wrong-typed value names the field; a missing one too", () =>
    Effect.gen(function*() {
      const sig = Signature.make("q -> reasoning, answer: float")
      expect(yield* parseFails(sig, "<reasoning>r</reasoning><answer>abc</answer>")).toMatchObject({ field: "answer" })
      expect(yield* parseFails(sig, "<reasoning>r</reasoning>")).toMatchObject({ field: "answer" })
      expect((yield* parseFails(sig, "")).reason).toContain("empty")
    }))
})

describe("XMLAdapter.call", () => {
  const sig = Signature.make("question -> answer: int")
  const call = { lm: testLM, signature: sig, demos: [], inputs: { question: "2+2?" } }

  it.effect("parses the reply, and falls back to JSONAdapter when it cannot", () =>
    Effect.gen(function*() {
      const ok = fakeLanguageModel(["<answer>4</answer>"])
      expect(yield* ok.provide(XMLAdapter.defaultAdapter.call(call))).toMatchObject({
        outputs: [{ answer: 4 }],
        adapter: "XMLAdapter"
      })
      const fallback = fakeLanguageModel(["<answer>four</answer>", "{\"answer\": 4}"])
      expect(yield* fallback.provide(XMLAdapter.defaultAdapter.call(call))).toMatchObject({
        outputs: [{ answer: 4 }],
        adapter: "JSONAdapter"
      })
      const strict = fakeLanguageModel(["<answer>four</answer>"])
      expect(yield* Effect.flip(strict.provide(adapter.call(call)))).toMatchObject({
        adapter: "XMLAdapter",
        field: "answer"
      })
    }))
})
