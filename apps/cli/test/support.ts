/**
 * Running the `dspex` binary as a user does: a child process on the repo's Node, stdout and stderr apart.
 * `run` is asynchronous, so a simulator started by the test itself can answer the child meanwhile.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  /** stdout parsed as JSON (the test fails if it is anything else). */
  readonly json: () => any
}

/** No provider configured: the simulated provider unless a test sets its own variables. */
export const noKeys = { OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", OPENAI_BASE_URL: "", ANTHROPIC_BASE_URL: "" }

/**
 * @example
 * const r = await run(["run-example", "--limit", "2"], { env: noKeys })
 */
export const run = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly input?: string; readonly timeoutMs?: number } = {}
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, ["--conditions=@dspex/source", bin, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started, json: () => JSON.parse(stdout) })
    })
    child.stdin.end(options.input ?? "")
  })
