/**
 * The command line as a user types it: values that start with "-", usage errors (JSON on stdout, help on
 * stderr), flag validation, defaults in the help, and a suggestion in every error the CLI prints.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { noKeys, run } from "./support.ts"

/** Each test starts the CLI (a Node process) once or a few times. */
const slow = { timeout: 60_000 }

const usageError = async (args: ReadonlyArray<string>) => {
  const r = await run(args, { env: noKeys })
  expect(r.code).toBe(1)
  // stdout stays JSON: the error, never the help.
  const error = r.json().error
  expect(error._tag).toBe("UsageError")
  expect(typeof error.suggestion).toBe("string")
  expect(r.stderr).toContain("USAGE")
  expect(r.stderr).toContain(`error: ${error.message}`)
  return error as { message: string; problems: Array<string>; suggestion: string }
}

describe.concurrent("flag values that start with -", () => {
  it("--signature \"-> answer\" is a signature with no inputs, and --instructions may start with -", slow, async () => {
    const r = await run([
      "prompt",
      "format",
      "--signature",
      "-> answer",
      "--instructions",
      "- be brief",
      "--inputs",
      "-"
    ], { input: "{}" })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const out = r.json()
    expect(out.signature.trim()).toBe("-> answer")
    expect(out.messages[0].content).toContain("- be brief")
  })
  it("a flag right after a string flag is still a flag (its value is missing)", slow, async () => {
    const error = await usageError(["prompt", "format", "--signature", "--inputs", "-"])
    expect(error.message).toContain("--signature")
  })
})

describe.concurrent("usage errors", () => {
  it("an unknown flag is a UsageError in JSON on stdout, with the help on stderr", slow, async () => {
    const error = await usageError(["run-example", "--bogus"])
    expect(error.message).toContain("--bogus")
    expect(error.suggestion).toContain("dspex run-example --help")
  })
  it("a command without its subcommand is a UsageError too", slow, async () => {
    const error = await usageError(["prompt"])
    expect(error.message).toBe("dspex prompt needs a subcommand")
  })
  it("--threads must be at least 1", slow, async () => {
    const error = await usageError(["run-example", "--threads", "0"])
    expect(error.message).toContain("--threads")
    expect(error.message).toContain("at least 1")
  })
  it("--limit beyond the 45 built-in examples is refused, saying how many there are", slow, async () => {
    const error = await usageError(["run-example", "--limit", "50"])
    expect(error.message).toContain("1 to 45 (the built-in dataset has 45 examples)")
    expect((await usageError(["run-example", "--limit", "0"])).message).toContain("--limit")
  })
  it("--limit 45 runs all 45", slow, async () => {
    const r = await run(["run-example", "--limit", "45", "--threads", "16"], { env: noKeys })
    expect(r.code).toBe(0)
    const out = r.json()
    expect(out.examples).toBe(45)
    expect(out.completed).toBe(45)
    expect(new Set(out.results.map((x: { question: string }) => x.question)).size).toBe(45)
  })
})

describe.concurrent("help", () => {
  it("--help shows every default, on stdout (asked for, so it is the output)", slow, async () => {
    const runHelp = await run(["run-example", "--help"])
    expect(runHelp.code).toBe(0)
    for (const d of ["(default: 20)", "(default: 8)", "(default: off)", "default: openai/gpt-4o-mini"]) {
      expect(runHelp.stdout).toContain(d)
    }
    const formatHelp = await run(["prompt", "format", "--help"])
    expect(formatHelp.stdout).toContain("(default: chat)")
    expect(formatHelp.stdout).toContain("(default: no demos)")
  })
})

describe.concurrent("every error the CLI prints has a suggestion", () => {
  const dir = mkdtempSync(join(tmpdir(), "dspex-cli-errors-"))
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string?]> = [
    ["SignatureParseError", ["prompt", "format", "--signature", "question -> -> answer", "--inputs", "-"], "{}"],
    [
      "AdapterParseError",
      ["prompt", "parse", "--signature", "question -> answer: int", "--completion", "-"],
      "[[ ## answer ## ]]\nmany\n"
    ],
    ["CliInputError", ["prompt", "format", "--signature", "question -> answer", "--inputs", join(dir, "missing.json")]],
    ["CliInputError", ["prompt", "format", "--signature", "question -> answer", "--inputs", "-"], "{ not json"],
    [
      "InputValidationError",
      ["prompt", "format", "--signature", "context: list[str] -> answer", "--inputs", "-"],
      "{\"context\": 5}"
    ],
    ["LMConfigurationError", ["run-example", "--model", "mistral/large"]]
  ]
  for (const [tag, args, input] of cases) {
    it(`${tag}: ${args.join(" ")}`, slow, async () => {
      const r = await run(args, { env: noKeys, ...(input === undefined ? {} : { input }) })
      expect(r.code).toBe(1)
      const error = r.json().error
      expect(error._tag).toBe(tag)
      expect(typeof error.message).toBe("string")
      expect(error.suggestion).toMatch(/\w{3,}/)
      expect(r.stderr).toContain(`suggestion: ${error.suggestion}`)
    })
  }
  it("a demo file that is not an array of objects is a CliInputError with a suggestion", slow, async () => {
    const demos = join(dir, "demos.json")
    writeFileSync(demos, "{\"question\": \"q\"}")
    const r = await run(["prompt", "format", "--signature", "question -> answer", "--demos", demos, "--inputs", "-"], {
      input: "{\"question\": \"q\"}"
    })
    expect(r.json().error).toMatchObject({
      _tag: "CliInputError",
      suggestion: "Fix the JSON given to --demos (the position is in the message)."
    })
  })
})
