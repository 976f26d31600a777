/**
 * A compile run SIGKILLed half-way and started again: how many finished steps (evaluated examples,
 * bootstrap attempts) it redoes (target 0), and its wall time against an uninterrupted run's, both runs
 * measured here. The run is tests/faults/scripts/compileRun.ts (RandomSearch, 11 candidates, checkpointed
 * in a SQLite file) against the simulated provider in its own process at 20 ms latency.
 *
 *   node bench/compile-resume.ts
 */
import { SqliteStore } from "@dspex/core"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { report, round, spawnSimulator } from "./util.ts"

const script = fileURLToPath(new URL("../tests/faults/scripts/compileRun.ts", import.meta.url))

interface Log {
  readonly resumedSteps: number
  readonly metricCalls: number
}

const compile = (baseUrl: string, store: string, out: string, killAfter?: number) =>
  new Promise<{ ms: number; log?: Log }>((resolve, reject) => {
    const t0 = performance.now()
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
      stdio: ["ignore", "pipe", "inherit"]
    })
    let evaluations = 0
    let buffer = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buffer += d
      let nl: number
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as { _tag: string; kind?: string }
        buffer = buffer.slice(nl + 1)
        if (line._tag === "TrialScored" && line.kind === "evaluation" && ++evaluations === killAfter) {
          child.kill("SIGKILL")
        }
      }
    })
    child.on("error", reject)
    child.on("close", () => {
      const ms = performance.now() - t0
      try {
        resolve({ ms, log: (JSON.parse(readFileSync(out, "utf8")) as { log: Log }).log })
      } catch {
        resolve({ ms })
      }
    })
  })

const sim = await spawnSimulator(["--latency-ms", "20", "--rate-429", "0"])
try {
  const dir = mkdtempSync(join(tmpdir(), "dspex-bench-resume-"))
  const fresh = await compile(sim.openaiBaseUrl, join(dir, "fresh.sqlite"), join(dir, "fresh.json"))
  // 11 evaluations in all: killed once 5 are scored (with the bootstrap attempts between them).
  const killed = await compile(sim.openaiBaseUrl, join(dir, "run.sqlite"), join(dir, "killed.json"), 5)
  const db = SqliteStore.open(join(dir, "run.sqlite"), "checkpoints")
  const stored = db.count("")
  db.close()
  const resumed = await compile(sim.openaiBaseUrl, join(dir, "run.sqlite"), join(dir, "resumed.json"))
  const redone = stored - resumed.log!.resumedSteps
  report({
    bench: "compile-resume",
    figure: "finished steps redone by a compile run resumed after SIGKILL half-way",
    value: redone,
    unit: "steps",
    baseline: { name: "steps the killed run had finished and stored", value: stored },
    ratio: round(redone / stored),
    target: "0 redone",
    pass: redone === 0,
    killedAfterMs: round(killed.ms, 0)
  })
  report({
    bench: "compile-resume",
    figure: "resumed run's wall time vs an uninterrupted run",
    value: round(resumed.ms, 0),
    unit: "ms",
    baseline: { name: "uninterrupted run", value: round(fresh.ms, 0) },
    ratio: round(resumed.ms / fresh.ms),
    metricCallsResumed: resumed.log!.metricCalls,
    metricCallsFresh: fresh.log!.metricCalls
  })
} finally {
  await sim.close()
}
