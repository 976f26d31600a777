/**
 * The README's main-job and compile commands, run as written (through npm, from the repository's root):
 * their stdout is what the README says it is, JSON a script can read.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { noKeys } from "./support.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The commands of the first sh block under `heading`, comments dropped, `\`-continued lines joined. */
const commandsUnder = (heading: string): ReadonlyArray<string> => {
  const readme = readFileSync(`${root}README.md`, "utf8")
  const section = readme.indexOf(`${heading}\n`)
  expect(section, `README has no "${heading}" section`).toBeGreaterThanOrEqual(0)
  const start = readme.indexOf("```sh\n", section)
  const end = readme.indexOf("\n```", start)
  return readme.slice(start + 6, end).replace(/\\\n\s*/g, "").split("\n").map((line) =>
    line.replace(/\s+#.*$/, "").trim()
  ).filter((line) => line !== "")
}

const mainJobCommands = () => commandsUnder("## The main job")

const hasJq = (() => {
  try {
    execFileSync("jq", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

describe("README: the main job", () => {
  it(
    "each command prints what a script can read: the JSON report, or the score through jq",
    { timeout: 120_000 },
    () => {
      const commands = mainJobCommands()
      expect(commands[0]).toBe("npm run -s main")
      for (const command of commands) {
        if (command.includes("| jq") && !hasJq) continue
        const r = spawnSync("sh", ["-c", command], {
          cwd: root,
          env: { ...process.env, ...noKeys },
          encoding: "utf8",
          timeout: 60_000
        })
        expect(r.status, `${command}\n${r.stderr}`).toBe(0)
        if (command.includes("| jq .score")) expect(r.stdout.trim()).toBe("100")
        else expect(JSON.parse(r.stdout)).toMatchObject({ model: "openai/dspex-sim", examples: 20, score: 100 })
      }
    }
  )
})

/** The value of `--flag` in a command line (unquoted values only, as the README writes paths). */
const flagValue = (command: string, flag: string) => new RegExp(`--${flag} (\\S+)`).exec(command)?.[1]

describe("README: compile a program", () => {
  it(
    "each `dspex optimize` command compiles the example task, raising the score from the zero-shot 0, and saves the program",
    { timeout: 180_000 },
    () => {
      const commands = commandsUnder("## Compile a program")
      for (const optimizer of ["bootstrap", "random-search", "mipro"]) {
        expect(commands.some((c) => c.includes(`--optimizer ${optimizer} `)), optimizer).toBe(true)
      }
      for (const command of commands) {
        expect(command).toMatch(/^npm run -s dspex -- optimize /)
        // What the command writes, relative to the root; removed afterwards (a checkpoint first, so the run is fresh).
        const written = [flagValue(command, "out"), flagValue(command, "checkpoint")].flatMap((f) =>
          f === undefined ? [] : [join(root, f)]
        )
        for (const file of written) rmSync(file, { force: true })
        try {
          const r = spawnSync("sh", ["-c", command], {
            cwd: root,
            env: { ...process.env, ...noKeys },
            encoding: "utf8",
            timeout: 120_000
          })
          expect(r.status, `${command}\n${r.stderr}`).toBe(0)
          const report = JSON.parse(r.stdout)
          expect(report.stopReason, command).toEqual({ _tag: "Completed" })
          expect(report.score, command).toBeGreaterThanOrEqual(40)
          expect(r.stderr).toContain("■ completed")
          const saved = JSON.parse(readFileSync(written[0]!, "utf8"))
          expect(saved.metadata.dependency_versions.dspy).toBe("3.3.1")
          if (command.includes("--checkpoint")) expect(existsSync(written[1]!)).toBe(true)
        } finally {
          for (const file of written) rmSync(file, { force: true })
        }
      }
    }
  )
})
