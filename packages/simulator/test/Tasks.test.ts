import { describe, expect, it } from "vitest"
import { Facts, Faults, FieldTypes, PromptReader, Tasks, TextTools } from "../src/index.ts"
import { adapterCases, dspyMessages } from "./helpers.ts"

const toSim = (messages: ReadonlyArray<{ role: string; content: string }>) =>
  messages.map((m) => ({ role: m.role as "system" | "user" | "assistant", text: m.content }))

describe("readPrompt on DSPy 3.3.1 prompts", () => {
  it("finds the format, input values and output fields of all 198 fixture prompts", () => {
    expect(adapterCases.length).toBe(198)
    for (const c of adapterCases) {
      const p = PromptReader.readPrompt(toSim(c.messages))
      expect(p.format, c.id).toBe(c.adapter)
      expect(Object.keys(p.inputs), c.id).toEqual(c.input_fields)
      expect(p.outputFields.map((f) => f.name), c.id).toEqual(c.output_fields)
      for (const [name, value] of Object.entries(c.inputs)) {
        if (typeof value === "string") expect(p.inputs[name], c.id).toBe(value)
        else expect(JSON.parse(p.inputs[name]!), c.id).toEqual(value)
      }
    }
  })

  it("reads types from the field list and schemas/options from type notes", () => {
    const json = PromptReader.readPrompt(toSim(dspyMessages("s6-cot-nodemos-json", {})))
    expect(json.outputFields[2]).toMatchObject({
      name: "keywords",
      type: "list[str]",
      schema: { type: "array", items: { type: "string" } }
    })
    const chat = PromptReader.readPrompt(toSim(dspyMessages("s5-plain-nodemos-chat", {})))
    expect(chat.outputFields[0]).toMatchObject({
      type: "Literal['positive', 'negative', 'neutral']",
      options: ["positive", "negative", "neutral"]
    })
    const xml = PromptReader.readPrompt(toSim(dspyMessages("s11-plain-nodemos-xml", {})))
    expect(xml.outputFields[0]!.type).toBe("Union[int, NoneType]")
    expect(xml.instructions).toBe("Extract the person's age if stated.")
  })

  it("uses only the last user turn for inputs, ignoring demos", () => {
    const p = PromptReader.readPrompt(
      toSim(dspyMessages("s2-cot-demos-chat", { "example question": "What is 6 * 7?" }))
    )
    expect(p.inputs).toEqual({ question: "What is 6 * 7?" })
  })

  it("treats prompts without DSPy markers as plain questions", () => {
    const p = PromptReader.readPrompt([{ role: "user", text: "Who wrote Hamlet?" }])
    expect(p).toMatchObject({ format: "plain", inputs: { question: "Who wrote Hamlet?" } })
  })
})

describe("renderOutputs", () => {
  const fields = [{ name: "flag", type: "bool" }, { name: "age", type: "Optional[int]" }, {
    name: "tags",
    type: "list[str]"
  }]
  const values = { flag: true, age: null, tags: ["a", "b"] }
  it("writes Python-style scalars in chat and XML, JSON values in JSON", () => {
    expect(PromptReader.renderOutputs("chat", fields, values)).toBe(
      "[[ ## flag ## ]]\nTrue\n\n[[ ## age ## ]]\nNone\n\n[[ ## tags ## ]]\n[\"a\",\"b\"]\n\n[[ ## completed ## ]]"
    )
    expect(JSON.parse(PromptReader.renderOutputs("json", fields, values))).toEqual(values)
    expect(PromptReader.renderOutputs("xml", fields.slice(0, 1), values)).toBe("<flag>\nTrue\n</flag>")
  })
})

describe("solveTask", () => {
  it("reproduces every dataset answer", () => {
    expect(Facts.datasets.arithmetic.length).toBeGreaterThanOrEqual(20)
    expect(Facts.datasets.capitals.length).toBeGreaterThanOrEqual(20)
    expect(Facts.datasets.facts.length).toBe(Facts.facts.length)
    expect(Facts.datasets.sentiment.length).toBeGreaterThanOrEqual(20)
    for (const e of [...Facts.datasets.arithmetic, ...Facts.datasets.facts]) {
      expect(Tasks.solveTask({ question: e.question }, [{ name: "answer" }]).answer, e.question).toBe(e.answer)
    }
    for (const e of Facts.datasets.sentiment) {
      const out = Tasks.solveTask({ text: e.text }, [{
        name: "sentiment",
        type: "Literal['positive', 'negative', 'neutral']"
      }])
      expect(out.sentiment, e.text).toBe(e.sentiment)
    }
  })

  it("types values as the fields ask", () => {
    expect(
      Tasks.solveTask({ question: "What is 12 + 30?" }, [{ name: "reasoning" }, { name: "answer", type: "float" }])
    ).toEqual({
      reasoning: "Computing 12 + 30 gives 42.",
      answer: 42
    })
    expect(Tasks.solveTask({ question: "What is 7 divided by 2?" }, [{ name: "answer", type: "int" }]).answer).toBe(4)
    expect(Tasks.solveTask({ question: "Is 12 + 30 = 42?" }, [{ name: "is_correct", type: "bool" }]).is_correct).toBe(
      true
    )
    expect(Tasks.solveTask({ question: "Is 12 + 30 = 41?" }, [{ name: "is_correct", type: "bool" }]).is_correct).toBe(
      false
    )
    expect(Tasks.solveTask({ items: "[1, 2, 3]" }, [{ name: "total", type: "int" }]).total).toBe(6)
    expect(Tasks.solveTask({ text: "She is 42 years old." }, [{ name: "age", type: "Union[int, NoneType]" }]).age).toBe(
      42
    )
    expect(Tasks.solveTask({ text: "No age here." }, [{ name: "age", type: "Union[int, NoneType]" }]).age).toBeNull()
    const doc = "Quantum computers use qubits. Qubits can hold superpositions."
    expect(Tasks.solveTask({ document: doc }, [{ name: "summary" }, { name: "keywords", type: "list[str]" }])).toEqual({
      summary: "Quantum computers use qubits.",
      keywords: ["qubits", "quantum", "computers"]
    })
    expect(
      Tasks.solveTask({ query: "apples and pears and apples" }, [{ name: "result", type: "dict[str, int]" }]).result
    ).toEqual({
      apples: 2,
      pears: 1
    })
    expect(
      Tasks.solveTask({ text: "The team won the match" }, [{ name: "topic", type: "Literal['politics', 'sports']" }])
        .topic
    ).toBe("sports")
  })

  it("judges a given answer against the computed one", () => {
    const fields = [{ name: "is_correct", type: "bool" }]
    expect(Tasks.solveTask({ question: "What is the capital of France?", answer: "Paris" }, fields).is_correct).toBe(
      true
    )
    expect(Tasks.solveTask({ question: "What is the capital of France?", answer: "Lyon" }, fields).is_correct).toBe(
      false
    )
  })

  it("prefers a context passage that mentions the subject", () => {
    const fields = [{ name: "answer" }]
    const context = JSON.stringify(["Berlin is in Germany.", "Quibtown is the capital of Zorbia."])
    expect(Tasks.solveTask({ context, question: "What is the capital of Zorbia?" }, fields).answer).toBe("Quibtown")
    const counterfactual = JSON.stringify(["The capital of France is Lyon."])
    expect(Tasks.solveTask({ context: counterfactual, question: "What is the capital of France?" }, fields).answer)
      .toBe("Lyon")
    expect(Tasks.solveTask({ question: "What is the capital of Zorbia?" }, fields).answer).toBe(Tasks.UNKNOWN_ANSWER)
  })

  it("varies only explanations between sampled variants", () => {
    const fields = [{ name: "reasoning" }, { name: "answer" }]
    const a = Tasks.solveTask({ question: "What is 2 + 2?" }, fields, { variant: 0 })
    const b = Tasks.solveTask({ question: "What is 2 + 2?" }, fields, { variant: 1 })
    expect(a.answer).toBe("4")
    expect(b.answer).toBe("4")
    expect(a.reasoning).not.toBe(b.reasoning)
  })

  it("drives DSPy ReAct: picks a fitting tool first, then finish", () => {
    const instructions =
      "You are an Agent.\n(1) calculator, whose description is <desc>Evaluates arithmetic</desc>. It takes arguments {'expression': {'type': 'string'}}.\n(2) finish, whose description is <desc>Marks the task as complete.</desc>. It takes arguments {}."
    const fields = [
      { name: "next_thought" },
      { name: "next_tool_name", type: "Literal['calculator', 'finish']" },
      { name: "next_tool_args", type: "dict[str, Any]" }
    ]
    const first = Tasks.solveTask({ question: "What is 12 + 30?", trajectory: "" }, fields, { instructions })
    expect(first).toMatchObject({ next_tool_name: "calculator", next_tool_args: { expression: "12 + 30" } })
    const later = Tasks.solveTask(
      { question: "What is 12 + 30?", trajectory: "[[ ## observation_0 ## ]]\n42" },
      fields,
      { instructions }
    )
    expect(later).toMatchObject({ next_tool_name: "finish", next_tool_args: {} })
  })
})

describe("building blocks", () => {
  it("evaluates arithmetic with precedence, words and signs", () => {
    expect(TextTools.solveArithmetic("What is 2 + 3 * 4?")?.value).toBe(14)
    expect(TextTools.solveArithmetic("Compute 15 minus 4")?.value).toBe(11)
    expect(TextTools.solveArithmetic("What is seven times six?")?.value).toBe(42)
    expect(TextTools.solveArithmetic("What is -5 + 3?")).toMatchObject({ value: -2, operands: [-5, 3] })
    expect(TextTools.solveArithmetic("What is 1 / 0?")).toBeUndefined()
    expect(TextTools.solveArithmetic("What is the capital of France?")).toBeUndefined()
  })

  it("handles negation in sentiment", () => {
    expect(TextTools.classifySentiment("not good at all").label).toBe("negative")
    expect(TextTools.classifySentiment("not bad").label).toBe("positive")
  })

  it("parses DSPy type names", () => {
    expect(FieldTypes.parseTypeName("Literal['a', 'b']")).toEqual({ kind: "literal", options: ["a", "b"] })
    expect(FieldTypes.parseTypeName("Union[int, NoneType]")).toEqual({ kind: "optional", inner: { kind: "int" } })
    expect(FieldTypes.parseTypeName("dict[str, list[int]]")).toEqual({
      kind: "dict",
      value: { kind: "list", item: { kind: "int" } }
    })
  })

  it("parses fault names and model suffixes, rejecting unknown ones", () => {
    expect(Faults.splitModel("gpt-4o-mini:fault=429")).toEqual({ model: "gpt-4o-mini", fault: "429" })
    expect(Faults.splitModel("claude-haiku-4-5")).toEqual({ model: "claude-haiku-4-5", fault: undefined })
    expect(Faults.parseFaultKind("timeout")).toBe("hang")
    expect(() => Faults.parseFaultKind("nope")).toThrow(/Unknown simulator fault/)
  })

  it("has a reproducible PRNG", () => {
    const a = Faults.createPrng(5)
    const b = Faults.createPrng(5)
    const xs = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
  })
})
