/**
 * The optimizable mode over real HTTP through the `openai` SDK: DSPy-format prompts (ChatAdapter built
 * here, JSON/XML from the DSPy 3.3.1 fixtures) whose answers depend on the instruction, the demos, and,
 * for proposal prompts, on what the prompt reveals.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Optimizable, Simulator } from "../src/index.ts"
import { adapterCases } from "./helpers.ts"

type Message = { role: "system" | "user" | "assistant"; content: string }
type Fields = Readonly<Record<string, string>>

const MODEL = "gpt-4o-mini:optimizable"
const BASIC = "Given the fields `question`, produce the fields `answer`."
const COPRO_BASIC =
  "You are an instruction optimizer for large language models. I will give you a ``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good language model to perform the task well. Don't be afraid to be creative."

const section = (names: ReadonlyArray<string>, values: Fields) =>
  names.map((n) => `[[ ## ${n} ## ]]\n${values[n] ?? ""}`).join("\n\n")

/** A DSPy ChatAdapter prompt (str fields), demos as user/assistant turns. */
const chat = (
  instruction: string,
  inputs: Fields,
  outputs: ReadonlyArray<string>,
  demos: ReadonlyArray<Fields> = []
): Array<Message> => {
  const ins = Object.keys(inputs)
  const list = (names: ReadonlyArray<string>) => names.map((n, i) => `${i + 1}. \`${n}\` (str):`)
  const system = [
    "Your input fields are:",
    ...list(ins),
    "Your output fields are:",
    ...list(outputs),
    "All interactions will be structured in the following way, with the appropriate values filled in.",
    "",
    ...[...ins, ...outputs].flatMap((n) => [`[[ ## ${n} ## ]]`, `{${n}}`, ""]),
    "[[ ## completed ## ]]",
    "In adhering to this structure, your objective is: ",
    `        ${instruction}`
  ].join("\n")
  const reminder = `Respond with the corresponding output fields, starting with the field ${
    outputs.map((n) => `\`[[ ## ${n} ## ]]\``).join(", then ")
  }, and then ending with the marker for \`[[ ## completed ## ]]\`.`
  return [
    { role: "system", content: system },
    ...demos.flatMap((d): Array<Message> => [
      { role: "user", content: section(ins, d) },
      { role: "assistant", content: `${section(outputs, d)}\n\n[[ ## completed ## ]]\n` }
    ]),
    { role: "user", content: `${section(ins, inputs)}\n\n${reminder}` }
  ]
}

/** A DSPy 3.3.1 fixture (question -> reasoning, answer) with our instruction, demos and question. */
const fixture = (
  adapter: "chat" | "json" | "xml",
  instruction: string,
  question: string,
  demos: ReadonlyArray<Optimizable.Item> = []
): Array<Message> => {
  const c = adapterCases.find((x) => x.id === `s1-cot-demos-${adapter}`)!
  const [system, demoUser, demoAssistant] = c.messages
  const last = c.messages.at(-1)!
  return [
    { role: "system", content: system!.content.replace(BASIC, instruction) },
    ...demos.flatMap((d): Array<Message> => [
      { role: "user", content: demoUser!.content.replace("example question", d.question) },
      {
        role: "assistant",
        content: demoAssistant!.content.replace("demo reasoning 0", "Not supplied for this particular example.")
          .replace("demo answer 0", d.answer)
      }
    ]),
    { role: "user", content: last.content.replace("example question", question) }
  ]
}

/** The value of a field in a ChatAdapter reply. */
const field = (text: string, name: string): string =>
  new RegExp(`\\[\\[ ## ${name} ## \\]\\]\\n([\\s\\S]*?)\\n\\n\\[\\[ ## `).exec(text)?.[1] ?? ""

/** The answer in a reply of any of the three formats. */
const answerOf = (text: string): string => {
  if (text.includes("[[ ## answer ## ]]")) return field(text, "answer")
  const xml = /<answer>\n?([\s\S]*?)\n?<\/answer>/.exec(text)
  return xml ? xml[1]!.trim() : String((JSON.parse(text) as { answer: unknown }).answer)
}

let sim: Simulator.Simulator
let openai: OpenAI

beforeAll(async () => {
  sim = await Simulator.start({ port: 0 })
  openai = new OpenAI({ apiKey: "sk-test", baseURL: sim.openaiBaseUrl, maxRetries: 0 })
})
afterAll(() => sim.close())

const complete = async (messages: Array<Message>, extra: { n?: number; temperature?: number; model?: string } = {}) => {
  const r = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, ...extra })
  return r.choices.map((c) => c.message.content ?? "")
}

/** The share of items answered right under an instruction and demos, each item over HTTP. */
const score = async (
  items: ReadonlyArray<Optimizable.Item>,
  instruction: string,
  demos: ReadonlyArray<Optimizable.Item> = [],
  adapter: "chat" | "json" | "xml" = "chat"
) => {
  const replies = await Promise.all(items.map((it) => complete(fixture(adapter, instruction, it.question, demos))))
  return replies.filter((r, i) => answerOf(r[0]!) === items[i]!.answer).length / items.length
}

const proposals = async (inputs: Fields, n: number, temperature = 1.4) => {
  const outputs = ["proposed_instruction", "proposed_prefix_for_output_field"]
  const replies = await complete(chat(COPRO_BASIC, inputs, outputs), { n, temperature })
  return replies.map((r) => field(r, "proposed_instruction"))
}

const ops = Optimizable.operatorDataset({ trainSize: 10, devSize: 20, seed: 3 })
const codes = Optimizable.codeDataset({ trainSize: 10, devSize: 20, seed: 3 })

describe("triggers", () => {
  const q = (instruction: string) => fixture("chat", instruction, "What is 7 ⊕ 5?")

  it("the model suffix turns the mode on and is stripped from the model name", async () => {
    sim.resetStats()
    const on = await complete(q(Optimizable.RULE))
    const off = await complete(q(Optimizable.RULE), { model: "gpt-4o-mini" })
    expect(answerOf(on[0]!)).toBe("36")
    expect(answerOf(off[0]!)).not.toBe("36")
    expect(sim.stats().byModel).toEqual({ "gpt-4o-mini": 2 })
  })

  it("the header turns it on or off, a bad value is a 400, and faults still apply", async () => {
    const r = await openai.chat.completions.create(
      { model: "gpt-4o-mini", messages: q(Optimizable.RULE), temperature: 0 },
      { headers: { [Optimizable.HEADER]: "on" } }
    )
    expect(answerOf(r.choices[0]!.message.content!)).toBe("36")
    const bad = await openai.chat.completions.create(
      { model: "gpt-4o-mini", messages: q(Optimizable.RULE) },
      { headers: { [Optimizable.HEADER]: "maybe" } }
    ).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    expect(String((bad as Error).message)).toContain("x-sim-optimizable")
    const fault = await complete(q(Optimizable.RULE), { model: "gpt-4o-mini:optimizable:fault=500" })
      .catch((e: unknown) => e)
    expect(fault).toBeInstanceOf(OpenAI.InternalServerError)
  })

  it("the start option turns it on for every request, and the header can turn it off", async () => {
    const all = await Simulator.start({ optimizable: true })
    try {
      const client = new OpenAI({ apiKey: "sk-test", baseURL: all.openaiBaseUrl, maxRetries: 0 })
      const ask = (headers: Record<string, string>) =>
        client.chat.completions.create({ model: "gpt-4o-mini", messages: q(Optimizable.RULE) }, { headers })
          .then((r) => answerOf(r.choices[0]!.message.content!))
      expect(await ask({})).toBe("36")
      expect(await ask({ [Optimizable.HEADER]: "0" })).not.toBe("36")
    } finally {
      await all.close()
    }
  })
})

describe("rule in the instruction", () => {
  it("scores the baseline low, one keyword in between and the whole rule high", async () => {
    const instructions = [BASIC, "Multiply the numbers.", "Add one to the usual result.", Optimizable.RULE]
    const scores = await Promise.all(instructions.map((i) => score(ops.devset, i)))
    expect(scores).toEqual([0.2, 0.6, 0.6, 1])
    expect(instructions.map(Optimizable.operatorScore)).toEqual(scores)
  })

  it("reads the instruction the same way in JSONAdapter and XMLAdapter prompts", async () => {
    for (const adapter of ["json", "xml"] as const) {
      expect(await score(ops.devset, BASIC, [], adapter)).toBe(0.2)
      expect(await score(ops.devset, Optimizable.RULE, [], adapter)).toBe(1)
    }
  })

  it("ignores the rule when it is only shown in demos", async () => {
    expect(await score(ops.devset, BASIC, ops.trainset)).toBe(0.2)
  })
})

describe("demos that match", () => {
  const kindOf = (it: Optimizable.Item) => Optimizable.parseCode(it.question)!.kind
  const fruitDemo = codes.trainset.find((it) => kindOf(it) === "fruit")!

  it("gets nothing right with no demos and everything with a demo of every kind", async () => {
    expect(await score(codes.devset, BASIC)).toBe(0)
    expect(await score(codes.devset, BASIC, codes.trainset)).toBe(1)
  })

  it("a demo of one kind fixes that kind's items only, in every adapter", async () => {
    const fruits = codes.devset.filter((it) => kindOf(it) === "fruit")
    for (const adapter of ["chat", "json", "xml"] as const) {
      expect(await score(codes.devset, BASIC, [fruitDemo], adapter)).toBe(fruits.length / codes.devset.length)
      expect(await score(fruits, BASIC, [fruitDemo], adapter)).toBe(1)
    }
  })

  it("follows the nearest same-kind demo, even when it shows the wrong pattern", async () => {
    const wrong = { question: Optimizable.codeQuestion("fruit", "mangos"), answer: "MANGOS" }
    const right = { question: Optimizable.codeQuestion("fruit", "apple"), answer: "elppa" }
    const ask = async (demos: ReadonlyArray<Optimizable.Item>) =>
      answerOf((await complete(fixture("chat", BASIC, Optimizable.codeQuestion("fruit", "mango"), demos)))[0]!)
    expect(await ask([right, wrong])).toBe("MANGO")
    expect(await ask([right])).toBe("ognam")
    expect(Optimizable.answerCode(Optimizable.codeQuestion("fruit", "mango"), [right, wrong])?.value).toBe("MANGO")
  })
})

describe("proposals", () => {
  const ruleful = (xs: ReadonlyArray<string>) => xs.filter((x) => x.includes(Optimizable.RULE))

  it("gives distinct candidates per choice and per repeated request, the same ones at temperature 0", async () => {
    const first = await proposals({ basic_instruction: BASIC }, 4)
    const again = await proposals({ basic_instruction: BASIC }, 4)
    expect(new Set([...first, ...again]).size).toBe(8)
    const cold = await proposals({ basic_instruction: BASIC }, 3, 0)
    expect(new Set(cold).size).toBe(1)
    // With nothing revealed, some guesses name one part of the rule by luck; none states all of it.
    expect(first.some((p) => Optimizable.conceptsIn(p).length === 1)).toBe(true)
    expect(ruleful([...first, ...again])).toEqual([])
  })

  it("climbs from scored attempts: the best attempt's concept is kept and the next one added", async () => {
    const attempts = [
      `Instruction #1: ${BASIC}`,
      "Prefix #1: Answer:",
      "Resulting Score #1: 20.0",
      "Instruction #2: Where an unfamiliar operator appears, try multiplying the two numbers.",
      "Prefix #2: Answer:",
      "Resulting Score #2: 60.0"
    ].map((a, i) => `[${i + 1}] «${a}»`).join("\n")
    const climbed = await proposals({ attempted_instructions: attempts }, 6)
    expect(ruleful(climbed).length).toBeGreaterThan(0)
    expect(ruleful(climbed).length).toBeLessThan(6)
    // The same attempts with no score difference reveal nothing.
    const flat = await proposals({ attempted_instructions: attempts.replace("60.0", "20.0") }, 6)
    expect(ruleful(flat)).toEqual([])
  })

  it("carries the rule when the dataset summary or the task demos reveal it", async () => {
    const examples = `[${
      ops.trainset.map((e) =>
        `Example({'question': '${e.question}', 'answer': '${e.answer}'}) (input_keys={'question'})`
      )
        .join(", ")
    }]`
    const describe = async (inputs: Fields, output: string) =>
      field((await complete(chat("Describe.", inputs, [output])))[0]!, output)
    const observations = await describe({ examples }, "observations")
    expect(observations).toContain("⊕ means: multiply the two numbers, then add 1")
    expect(await describe({ examples, prior_observations: observations }, "observations")).toBe("COMPLETE")
    const summary = await describe({ observations }, "summary")
    expect(Optimizable.conceptsIn(summary)).toEqual(["multiply", "add-one"])

    const mipro = (reveal: Fields) => ({
      dataset_description: "The examples are arithmetic questions.",
      task_demos: "No task demos provided.",
      basic_instruction: BASIC,
      tip: "Keep the instruction clear and concise.",
      ...reveal
    })
    const fromSummary = await proposals(mipro({ dataset_description: summary }), 6)
    const fromDemos = await proposals(mipro({ task_demos: `Question: What is 3 ⊕ 4?\nAnswer: 13` }), 6)
    const blind = await proposals(mipro({}), 6)
    for (const got of [fromSummary, fromDemos]) {
      expect(ruleful(got).length).toBeGreaterThan(0)
      expect(ruleful(got).length).toBeLessThan(6)
    }
    expect(ruleful(blind)).toEqual([])

    const program = await describe(
      { program_code: "self.answer = dspy.ChainOfThought(\"question -> answer\")", program_example: "What is 3 ⊕ 4?" },
      "program_description"
    )
    expect(program).toContain("arithmetic questions written with the symbol ⊕")
    const module = await describe(
      { module: "ChainOfThought(question) -> answer", program_description: program },
      "module_description"
    )
    expect(module).toMatch(/^This module turns question into answer\./)
  })

  it("lets a search that keeps its best candidate reach the whole rule in two rounds (COPRO's loop)", async () => {
    const round1 = [BASIC, ...(await proposals({ basic_instruction: BASIC }, 4))]
    const scored1 = await Promise.all(round1.map(async (i) => ({ i, s: await score(ops.devset, i) })))
    scored1.sort((x, y) => x.s - y.s)
    expect(scored1.at(-1)!.s).toBe(0.6)
    const attempts = scored1.flatMap((c, k) => [
      `Instruction #${k + 1}: ${c.i}`,
      `Prefix #${k + 1}: Answer:`,
      `Resulting Score #${k + 1}: ${c.s * 100}`
    ])
    const round2 = await proposals({ attempted_instructions: attempts.join("\n") }, 4)
    const best = Math.max(...(await Promise.all(round2.map((i) => score(ops.devset, i)))))
    expect(best).toBe(1)
  })
})

describe("determinism", () => {
  it("two fresh simulators answer the same sequence of requests identically", async () => {
    const run = async () => {
      const s = await Simulator.start({ port: 0 })
      try {
        const client = new OpenAI({ apiKey: "sk-test", baseURL: s.openaiBaseUrl, maxRetries: 0 })
        const out: Array<string> = []
        const ask = async (messages: Array<Message>, n: number, temperature: number) => {
          const r = await client.chat.completions.create({ model: MODEL, messages, n, temperature })
          out.push(...r.choices.map((c) => c.message.content ?? ""))
        }
        const propose = chat(COPRO_BASIC, { basic_instruction: BASIC }, ["proposed_instruction"])
        await ask(propose, 5, 1)
        await ask(propose, 5, 1)
        await ask(fixture("chat", "Multiply.", ops.devset[0]!.question), 1, 0)
        await ask(fixture("json", BASIC, codes.devset[0]!.question, codes.trainset), 1, 0)
        return out
      } finally {
        await s.close()
      }
    }
    const [a, b] = [await run(), await run()]
    expect(a).toEqual(b)
    expect(new Set(a.slice(0, 10)).size).toBe(10)
  })

  it("the generators give the same sets for the same seed, balanced and disjoint", () => {
    expect(Optimizable.operatorDataset({ seed: 3, trainSize: 10, devSize: 20 })).toEqual(ops)
    const levels = ops.devset.map((it) => {
      const { a, b } = Optimizable.parseOperator(it.question)!
      return Optimizable.operatorLevel(a, b)
    })
    expect([0, 1, 2, 3, 4].map((l) => levels.filter((x) => x === l).length)).toEqual([4, 4, 4, 4, 4])
    const train = new Set(codes.trainset.map((it) => it.question))
    expect(codes.devset.some((it) => train.has(it.question))).toBe(false)
    expect(() => Optimizable.codeDataset({ trainSize: 60, devSize: 20 })).toThrow(Optimizable.OptimizableError)
  })
})
