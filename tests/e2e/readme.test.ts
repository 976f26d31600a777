/**
 * The README's Effect example, run as written except that the OpenAI layer points at the simulated
 * provider. If this test needs changing, the README example needs the same change.
 */
import {
  Cache,
  ChainOfThought,
  Evaluate,
  Example,
  Executor,
  LanguageModel,
  LM,
  Module,
  ProgramState
} from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { simulator, tempDir } from "./support.ts"

class MathQA extends Module.Module {
  solve = ChainOfThought.make("question -> answer: float")
  forward(inputs: { question: string }) {
    return this.solve.call(inputs)
  }
}

const devset = [
  Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question"),
  Example.make({ question: "What is 9 * 9?", answer: 81 }).withInputs("question")
]

describe("README example", () => {
  it.live("defines, runs, evaluates and saves a program", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const file = join(tempDir("dspex-readme-"), "math-qa.json")
      const main = Effect.gen(function*() {
        const qa = new MathQA()
        const pred = yield* qa.call({ question: "What is 2 + 2?" })
        const { score, results } = yield* Evaluate.run({
          program: qa,
          devset,
          metric: (example, pred) => pred.get("answer") === example.get("answer"),
          numThreads: 8
        })
        yield* ProgramState.save(qa, file)
        return { pred, score, results }
      })
      const Live = Layer.mergeAll(
        LanguageModel.layer().pipe(
          Layer.provide([
            OpenAi.layer({ apiKey: Redacted.make("sk-readme"), baseURL: sim.openaiBaseUrl }),
            Cache.layerMemory()
          ])
        ),
        Executor.layerLocal()
      )
      const { pred, score, results } = yield* main.pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini", { temperature: 0 })),
        Effect.provide(Live)
      )
      expect(pred.get("answer")).toBe(4)
      expect(typeof pred.get("reasoning")).toBe("string")
      expect(score).toBe(100)
      expect(results.length).toBe(2)
      const saved = JSON.parse(readFileSync(file, "utf8"))
      expect(Object.keys(saved)).toEqual(["solve.predict", "metadata"])
      expect(saved["solve.predict"].signature.fields.map((f: { prefix: string }) => f.prefix)).toEqual([
        "Question:",
        "Reasoning:",
        "Answer:"
      ])
    }).pipe(Effect.scoped))
})

/** The README's Effect example, exactly as the README shows it (the first ts block under its heading). */
const readmeExample = (): string => {
  const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8")
  const section = readme.indexOf("## A program in Effect")
  const start = readme.indexOf("```ts\n", section)
  const end = readme.indexOf("\n```", start + 6)
  return readme.slice(start + 6, end) + "\n"
}

describe("README example without OPENAI_API_KEY", () => {
  it("dies with DSPex's LMConfigurationError, printed by Node as a readable Error naming the variable", () => {
    // Next to this test, so that @dspex/* resolve as they do for any file of the repository.
    const script = fileURLToPath(new URL(`./.readme-example-${process.pid}.ts`, import.meta.url))
    writeFileSync(script, readmeExample())
    try {
      const { OPENAI_API_KEY: _, OPENAI_BASE_URL: __, ...env } = process.env
      const r = spawnSync(process.execPath, ["--conditions=@dspex/source", script], {
        cwd: tempDir("dspex-readme-nokey-"),
        env: { ...env, DSPEX_CACHE: "memory" },
        encoding: "utf8",
        timeout: 60_000
      })
      expect(r.status).not.toBe(0)
      expect(r.stderr).not.toContain("[object Object]")
      expect(r.stderr).toContain(
        "LMConfigurationError: LM configuration error for provider \"openai\": OPENAI_API_KEY is not set"
      )
      expect(r.stderr).toContain("export OPENAI_API_KEY=")
      expect(r.stderr).toContain("variable: 'OPENAI_API_KEY'")
    } finally {
      rmSync(script, { force: true })
    }
  })
})
