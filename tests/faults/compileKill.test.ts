/**
 * A compile run killed half-way (SIGKILL, no chance to flush anything) and started again with the same
 * arguments redoes none of the steps it had finished: every stored evaluation and bootstrap attempt is
 * replayed from the checkpoint file, and the result is the one an uninterrupted run gets.
 */
import { SqliteStore } from "@dspex/core"
import { Simulator } from "@dspex/simulator"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const script = fileURLToPath(new URL("./scripts/compileRun.ts", import.meta.url))

interface Outcome {
  readonly code: number | null
  readonly evaluations: number
  readonly out?: {
    readonly state: unknown
    readonly log: { readonly resumedSteps: number; readonly metricCalls: number }
  }
}

/** Runs the compile; with `killAfter`, SIGKILLs it once that many evaluations have been scored. */
const compile = (baseUrl: string, store: string, out: string, killAfter?: number) =>
  new Promise<Outcome>((resolve, reject) => {
    const child = spawn(process.execPath, [
      "--conditions=@dspex/source",
      script,
      "--base-url",
      baseUrl,
      "--store",
      store,
      "--out",
      out
    ], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let evaluations = 0
    let buffer = ""
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buffer += d
      let nl: number
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as { _tag: string; kind?: string }
        buffer = buffer.slice(nl + 1)
        if (line._tag === "TrialScored" && line.kind === "evaluation") {
          evaluations++
          if (killAfter !== undefined && evaluations === killAfter) child.kill("SIGKILL")
        }
      }
    })
    child.on("error", reject)
    child.on("close", (code) => {
      if (killAfter === undefined && code !== 0) return reject(new Error(`compile failed (${code}): ${stderr}`))
      const outcome: Outcome = { code, evaluations }
      try {
        resolve({ ...outcome, out: JSON.parse(readFileSync(out, "utf8")) })
      } catch {
        resolve(outcome)
      }
    })
  })

const storedSteps = (file: string) => {
  const db = SqliteStore.open(file, "checkpoints")
  try {
    return db.count("")
  } finally {
    db.close()
  }
}

describe("a compile run killed half-way", () => {
  let sim: Simulator.Simulator
  beforeAll(async () => {
    sim = await Simulator.start({ latency: { fixedMs: 5 } })
  })
  afterAll(() => sim.close())

  it("resumes from its checkpoint file, redoing no finished step, and ends as an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dspex-compile-kill-"))
    // 8 shuffled candidates + 3 fixed ones: killed after 5 of the 11 evaluations.
    const killed = await compile(sim.openaiBaseUrl, join(dir, "store.sqlite"), join(dir, "killed.json"), 5)
    expect(killed.code).toBeNull()
    expect(killed.out).toBeUndefined()
    const stored = storedSteps(join(dir, "store.sqlite"))
    expect(stored).toBeGreaterThan(0)

    const resumed = await compile(sim.openaiBaseUrl, join(dir, "store.sqlite"), join(dir, "resumed.json"))
    // Every step the killed run had stored was replayed, none run again.
    expect(resumed.out!.log.resumedSteps).toBe(stored)

    const fresh = await compile(sim.openaiBaseUrl, join(dir, "fresh.sqlite"), join(dir, "fresh.json"))
    expect(resumed.out!.state).toEqual(fresh.out!.state)
    expect(fresh.out!.log.resumedSteps).toBe(0)
    // What the resumed run paid for is what the fresh run paid for, less what it replayed.
    expect(resumed.out!.log.metricCalls).toBe(fresh.out!.log.metricCalls - stored)
  }, 120_000)
})
