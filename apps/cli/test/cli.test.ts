import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { formatPrompt, parsePrompt } from "../src/Prompt.ts"

const dir = mkdtempSync(join(tmpdir(), "dspex-cli-"))
const file = (name: string, content: string) => {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const dspex = (args: ReadonlyArray<string>, input?: string) => {
  const r = spawnSync(process.execPath, ["--conditions=@dspex/source", bin, ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 30_000
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) as any }
}

describe("prompt format", () => {
  it.effect("renders DSPy's ChatAdapter messages with demos", () =>
    Effect.gen(function*() {
      const out = yield* formatPrompt({
        adapter: "chat",
        signature: "question -> answer",
        instructions: "Be brief.",
        demos: file("demos.json", JSON.stringify([{ question: "2+2?", answer: "4" }])),
        inputs: file("inputs.json", JSON.stringify({ question: "What is 3+3?" }))
      })
      // The exact messages DSPy 3.3.1 sent for this program (fixtures/dspy-3.3.1/saved/runs.json).
      expect(out.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"])
      expect(out.messages[0]!.content).toContain(
        "In adhering to this structure, your objective is: \n        Be brief."
      )
      expect(out.messages[2]!.content).toBe("[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]\n")
      expect(out.messages[3]!.content).toBe(
        "[[ ## question ## ]]\nWhat is 3+3?\n\nRespond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
      )
    }))

  it.effect("checks the inputs as a Predict call does: unknown, missing and wrong-typed fields", () =>
    Effect.gen(function*() {
      const signature = "context: list[str], question -> answer"
      const check = (inputs: unknown) =>
        Effect.flip(
          formatPrompt({ adapter: "json", signature, inputs: file("bad-inputs.json", JSON.stringify(inputs)) })
        )
      const unknown = yield* check({ qestion: "x" })
      expect(unknown).toMatchObject({ _tag: "InputValidationError", problem: "unknown", field: "qestion" })
      expect(unknown.message).toContain("context, question")
      expect(yield* check({ context: ["a"] })).toMatchObject({
        _tag: "InputValidationError",
        problem: "missing",
        field: "question"
      })
      const wrong = yield* check({ context: 5, question: "q" })
      expect(wrong).toMatchObject({ _tag: "InputValidationError", problem: "wrong_type", field: "context" })
      expect(wrong.message).toContain("expected list[str], got number 5")
    }))

  it.effect("reports invalid JSON with the flag and file", () =>
    Effect.gen(function*() {
      const p = file("broken.json", "{ \"question\": ")
      const err = yield* Effect.flip(formatPrompt({ adapter: "chat", signature: "question -> answer", inputs: p }))
      expect(err._tag).toBe("CliInputError")
      expect(err.message).toContain(`--inputs ${p}: invalid JSON`)
    }))
})

describe("prompt parse", () => {
  it.effect("parses typed outputs", () =>
    Effect.gen(function*() {
      const out = yield* parsePrompt({
        adapter: "chat",
        signature: "question -> reasoning, answer: float",
        completion: file("c1.txt", "[[ ## reasoning ## ]]\nadd\n\n[[ ## answer ## ]]\n4.5\n\n[[ ## completed ## ]]")
      })
      expect(out.outputs).toEqual({ reasoning: "add", answer: 4.5 })
    }))

  it.effect("parses JSON and XML replies", () =>
    Effect.gen(function*() {
      const json = yield* parsePrompt({
        adapter: "json",
        signature: "q -> items: list[int]",
        completion: file("c2.txt", "{\"items\": [1, 2]}")
      })
      expect(json.outputs).toEqual({ items: [1, 2] })
      const xml = yield* parsePrompt({
        adapter: "xml",
        signature: "q -> answer",
        completion: file("c3.txt", "<answer>Paris</answer>")
      })
      expect(xml.outputs).toEqual({ answer: "Paris" })
    }))
})

describe("dspex binary", () => {
  it("reads inputs from stdin with -", () => {
    const r = dspex(
      ["prompt", "format", "--adapter", "xml", "--signature", "question -> answer", "--inputs", "-"],
      "{\"question\": \"Hi?\"}"
    )
    expect(r.code).toBe(0)
    const out = r.json()
    expect(out.adapter).toBe("XMLAdapter")
    expect(out.messages[1].content).toContain("<question>\nHi?\n</question>")
  })

  it("prints a typed error and exits 1 for a bad signature", () => {
    const r = dspex(["prompt", "format", "--signature", "question -> -> answer", "--inputs", "-"], "{}")
    expect(r.code).toBe(1)
    const err = r.json().error
    expect(err._tag).toBe("SignatureParseError")
    expect(err.position).toBe(12)
    expect(r.stderr).toContain("Invalid signature at position 12")
  })

  it("prints the AdapterParseError with the raw completion", () => {
    const r = dspex(
      ["prompt", "parse", "--signature", "question -> answer: int", "--completion", "-"],
      "[[ ## answer ## ]]\nmany\n"
    )
    expect(r.code).toBe(1)
    const err = r.json().error
    expect(err._tag).toBe("AdapterParseError")
    expect(err.completion).toBe("[[ ## answer ## ]]\nmany\n")
    expect(err.field).toBe("answer")
  })

  it("runs the example evaluation against the simulated provider", () => {
    const r = spawnSync(process.execPath, ["--conditions=@dspex/source", bin, "run-example", "--limit", "4"], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", OPENAI_BASE_URL: "" }
    })
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.examples).toBe(4)
    expect(out.score).toBe(100)
    expect(out.results.map((x: any) => x.answer)).toEqual(out.results.map((x: any) => x.gold))
    expect(r.stderr).toContain("simulated provider")
  })
})
