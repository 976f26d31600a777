/**
 * The command line before effect/cli reads it. Its lexer takes every argument starting with "-" for a flag,
 * so `--signature "-> answer"` (DSPy's signature with no inputs) or `--instructions "- be brief"` came out
 * as a missing value and a row of unknown short flags. A string flag's next argument is its value unless
 * it is itself a flag.
 */

/** The flags whose value is free text (a signature, instructions, a path, a model id). */
export const stringFlags: ReadonlySet<string> = new Set([
  "signature",
  "instructions",
  "demos",
  "inputs",
  "completion",
  "model",
  "program",
  "trainset",
  "valset",
  "metric",
  "out",
  "config",
  "checkpoint",
  "embedder"
])

/** `--name` (a long flag) or `-h` (a short one); "->", "-", "- text" and negative numbers are values. */
const isFlag = (arg: string): boolean => /^--[A-Za-z]/.test(arg) || /^-[A-Za-z]$/.test(arg)

/**
 * Joins each string flag with a next argument that starts with "-" but is not a flag (`--flag=value`, which
 * the lexer reads as one token).
 *
 * For example (the command's own internals, not a library API):
 * normalizeArgs(["prompt", "format", "--signature", "-> answer", "--inputs", "-"])
 * // => ["prompt", "format", "--signature=-> answer", "--inputs", "-"]
 */
export const normalizeArgs = (argv: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      out.push(...argv.slice(i))
      break
    }
    const next = argv[i + 1]
    if (
      arg.startsWith("--") && stringFlags.has(arg.slice(2)) && next !== undefined && next.startsWith("-") &&
      next !== "-" && !isFlag(next)
    ) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}
