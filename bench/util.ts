/**
 * Shared helpers for benchmarks: one JSON line per figure, percentiles, and a simulated provider in its
 * own process (so its CPU is not counted against the client being measured).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

export interface Figure {
  readonly bench: string
  readonly figure: string
  readonly value: number
  readonly unit: string
  readonly baseline?: { readonly name: string; readonly value: number } | undefined
  readonly ratio?: number | undefined
  readonly target?: string | undefined
  readonly pass?: boolean | undefined
  readonly [k: string]: unknown
}

/** Prints one figure as one JSON line. */
export const report = (f: Figure): void => {
  process.stdout.write(`${JSON.stringify(f)}\n`)
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export const round = (n: number, digits = 3): number => Number(n.toFixed(digits))

export interface SimulatorProcess {
  readonly url: string
  readonly openaiBaseUrl: string
  readonly close: () => Promise<void>
}

/** Starts the simulated provider as a child process on a free port. */
export const spawnSimulator = async (args: ReadonlyArray<string> = []): Promise<SimulatorProcess> => {
  const bin = fileURLToPath(new URL("../packages/simulator/src/bin.ts", import.meta.url))
  const child: ChildProcess = spawn(process.execPath, ["--conditions=@dspex/source", bin, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const rl = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("simulator did not start within 10 s")), 10_000)
    rl.once("line", (line) => {
      clearTimeout(timer)
      try {
        resolve((JSON.parse(line) as { url: string }).url)
      } catch (e) {
        reject(new Error(`unexpected simulator output: ${line} (${String(e)})`))
      }
    })
    child.once("exit", (code) => reject(new Error(`simulator exited with ${code}`)))
  })
  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      })
  }
}

/** CPU time (user + system) in ms consumed by this process while `f` runs. */
export const cpuTimeOf = async (f: () => Promise<void>): Promise<{ cpuMs: number; wallMs: number }> => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await f()
  const d = process.cpuUsage(c0)
  return { cpuMs: (d.user + d.system) / 1000, wallMs: performance.now() - t0 }
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export const pool = async (n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
}
