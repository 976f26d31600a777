/**
 * The `dspex-simulator` command as a user meets it: the bin spawned as its own process. Usage errors and a
 * port it cannot listen on are one line on stderr (no stack trace) with exit codes 2 and 1; `--help`
 * documents every option with its default and every fault trigger and kind.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type Server } from "node:net"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Faults } from "../src/index.ts"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const children = new Set<ChildProcess>()
afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
})

/**
 * Runs the bin to its exit. A simulator that starts instead of failing never exits: it is killed after
 * 3 s (before the test's own timeout), and the test then fails on its exit code.
 */
const run = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@dspex/source", bin, ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
  })

/** One line on stderr, naming the program, with no stack trace. */
const expectOneLine = (r: Run) => {
  expect(r.stderr.endsWith("\n")).toBe(true)
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
  expect(r.stderr).toMatch(/^dspex-simulator: /)
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|node:internal/)
  expect(r.stdout).toBe("")
}

describe("dspex-simulator usage errors: one line on stderr, exit code 2", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
    [["--prot", "8787"], /unknown option --prot \(did you mean --port\?\); see dspex-simulator --help$/],
    [["--latency", "5"], /unknown option --latency \(did you mean --latency-ms\?\)/],
    [["-x"], /unknown option -x;/],
    [["--port"], /--port needs a value \(--port PORT\)/],
    [["--port", "abc"], /--port must be an integer from 0 to 65535 \(0 picks a free port\), got "abc"/],
    [["--port", "70000"], /--port must be an integer from 0 to 65535/],
    [["--rate-429", "1.5"], /--rate-429 must be a probability from 0 to 1, got "1.5"/],
    [["--latency-ms", "-3"], /--latency-ms must be a number of milliseconds, 0 or more/],
    [["--seed", "x"], /--seed must be an integer, got "x"/],
    [["--context-window", "0"], /--context-window must be a whole number of tokens, 1 or more/],
    [["8787"], /unexpected argument "8787" \(options are written --name value\)/],
    [["--port", "1", "--port", "2"], /--port is given twice/]
  ]
  for (const [args, message] of cases) {
    it(args.join(" "), async () => {
      const r = await run(args)
      expect(r.code).toBe(2)
      expectOneLine(r)
      expect(r.stderr.trimEnd()).toMatch(message)
    })
  }
})

describe("dspex-simulator on a port it cannot have: one line on stderr, exit code 1", () => {
  let busy: Server
  let port = 0
  beforeAll(async () => {
    busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve))
    port = (busy.address() as { port: number }).port
  })
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())))

  it("a busy port names the port and what to do", async () => {
    const r = await run(["--port", String(port)])
    expect(r.code).toBe(1)
    expectOneLine(r)
    expect(r.stderr.trimEnd()).toBe(
      `dspex-simulator: port ${port} on 127.0.0.1 is already in use; stop what is listening there, or choose another port with --port (--port 0 picks a free one)`
    )
  })

  it("a host that is not this machine's", async () => {
    const r = await run(["--host", "192.0.2.1", "--port", "0"])
    expect(r.code).toBe(1)
    expectOneLine(r)
    expect(r.stderr).toContain("cannot listen on host \"192.0.2.1\"")
  })
})

describe("dspex-simulator --help", () => {
  it("documents every option with its default, the fault triggers and every fault kind", async () => {
    const r = await run(["--help"])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    const lines = r.stdout.split("\n")
    const option = (flag: string) => lines.find((l) => l.trimStart().startsWith(`${flag} `)) ?? ""
    for (
      const [flag, def] of [
        ["--host", "127.0.0.1"],
        ["--port", "0"],
        ["--latency-ms", "0"],
        ["--jitter-ms", "0"],
        ["--rate-429", "0"],
        ["--rate-500", "0"],
        ["--rate-overloaded", "0"],
        ["--rate-hang", "0"],
        ["--rate-malformed", "0"],
        ["--rate-truncated", "0"],
        ["--rate-empty", "0"],
        ["--retry-after", "1"],
        ["--seed", "1"],
        ["--api-key", "any non-empty key not starting with sk-invalid"],
        ["--context-window", "128000"]
      ] as const
    ) {
      expect(option(flag), flag).toContain(`[default: ${def}]`)
    }
    expect(r.stdout).toContain("-h, --help")
    // The triggers: the request headers and the model-name suffix.
    expect(r.stdout).toContain("x-sim-fault: KIND")
    expect(r.stdout).toContain("x-sim-fault-once: ID:KIND")
    expect(r.stdout).toContain("MODEL:fault=KIND")
    expect(r.stdout).toContain("gpt-4o-mini:fault=429")
    expect(r.stdout).toContain("x-sim-latency-ms: MS")
    // Every fault kind on a line of its own, with its description.
    for (const kind of Faults.FAULT_KINDS) {
      expect(lines.some((l) => l.startsWith(`  ${kind} `) && l.includes(Faults.FAULT_DESCRIPTIONS[kind])), kind).toBe(
        true
      )
    }
  })

  it("-h is --help", async () => {
    const [long, short] = await Promise.all([run(["--help"]), run(["-h"])])
    expect(short).toEqual(long)
  })
})
