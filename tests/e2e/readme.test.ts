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
import { spawn, spawnSync } from "node:child_process"
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

/** A README example, exactly as the README shows it (the first ts block under its heading). */
const readmeExample = (heading = "## A program in Effect"): string => {
  const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8")
  const section = readme.indexOf(heading)
  if (section < 0) throw new Error(`README has no ${heading}`)
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

describe("README compile example", () => {
  it.live(
    "compiles with BootstrapFewShot as written (OpenAI pointed at the simulator), saves the program, and a second run replays its checkpoint",
    () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const script = fileURLToPath(new URL(`./.readme-compile-${process.pid}.ts`, import.meta.url))
        writeFileSync(script, readmeExample("## Compile a program"))
        const cwd = tempDir("dspex-readme-compile-")
        // Asynchronous: the simulator answering it runs in this process.
        const run = () =>
          Effect.promise(() =>
            new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
              const child = spawn(process.execPath, ["--conditions=@dspex/source", script], {
                cwd,
                env: {
                  ...process.env,
                  OPENAI_API_KEY: "sk-readme",
                  OPENAI_BASE_URL: sim.openaiBaseUrl,
                  DSPEX_CACHE: "off"
                }
              })
              let stdout = ""
              let stderr = ""
              child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
              child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
              const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
              child.on("close", (status) => {
                clearTimeout(timer)
                resolve({ status, stdout, stderr })
              })
            })
          )
        try {
          const first = yield* run()
          expect(first.status, first.stderr).toBe(0)
          expect(first.stdout).toContain("completed")
          expect(first.stderr).toMatch(/■ completed · \d+ trials/)
          const saved = JSON.parse(readFileSync(join(cwd, "qa.compiled.json"), "utf8"))
          expect(Object.keys(saved)).toEqual(["traces", "train", "demos", "signature", "lm", "metadata"])
          expect(saved.demos.some((d: { augmented?: boolean }) => d.augmented === true)).toBe(true)
          const requests = sim.stats().totalRequests
          const second = yield* run()
          expect(second.status, second.stderr).toBe(0)
          // Every bootstrap attempt comes from the checkpoint file: no request is made again.
          expect(sim.stats().totalRequests).toBe(requests)
        } finally {
          rmSync(script, { force: true })
        }
      }).pipe(Effect.scoped),
    120_000
  )
})
