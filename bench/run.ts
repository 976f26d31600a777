/**
 * Runs every DSPex benchmark in sequence, each in its own Node process (so one benchmark's JIT state,
 * heap and sockets never affect the next), and passes their JSON lines through to stdout.
 *
 *   npm run bench                 # all of them
 *   node bench/run.ts micro       # only those whose name contains "micro"
 *
 * Exits non-zero when a benchmark crashes (a missed target is a figure with `pass: false`, not a crash).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const benches = [
  "micro",
  "cache-hit",
  "predict-cpu",
  "predict-layers",
  "evaluate-throughput",
  "runtime-local",
  "runtime-remote",
  "compile-resume",
  "mipro-concurrency"
] as const

const only = process.argv.slice(2)
const selected = benches.filter((b) => only.length === 0 || only.some((o) => b.includes(o)))

const runOne = (name: string): Promise<number> =>
  new Promise((resolve) => {
    const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url))
    // --expose-gc lets the benchmarks empty the nursery between measured rounds.
    const child = spawn(process.execPath, ["--expose-gc", "--conditions=@dspex/source", file], {
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 0 : 1)))
    child.once("error", (e) => {
      process.stderr.write(`${name}: ${e.message}\n`)
      resolve(1)
    })
  })

let failed = 0
for (const name of selected) {
  const code = await runOne(name)
  if (code !== 0) {
    failed++
    process.stderr.write(`bench ${name} exited with ${code}\n`)
  }
}
process.exitCode = failed === 0 ? 0 : 1
