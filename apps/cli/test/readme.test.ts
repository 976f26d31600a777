/**
 * The README's main-job commands, run as written (through npm, from the repository's root): their stdout is
 * what the README says it is, JSON a script can read.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { noKeys } from "./support.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The commands of the first sh block under "## The main job", comments dropped. */
const mainJobCommands = (): ReadonlyArray<string> => {
  const readme = readFileSync(`${root}README.md`, "utf8")
  const section = readme.indexOf("## The main job")
  const start = readme.indexOf("```sh\n", section)
  const end = readme.indexOf("\n```", start)
  return readme.slice(start + 6, end).split("\n").map((line) => line.replace(/\s+#.*$/, "").trim()).filter((line) =>
    line !== ""
  )
}

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
