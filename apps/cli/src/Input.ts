/**
 * Reading CLI inputs: a path, or `-` for standard input, parsed as JSON with errors that name the flag.
 */
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"

/** A CLI input that could not be read or parsed; names the flag and the source. */
export class CliInputError extends Schema.TaggedError<CliInputError>()("CliInputError", {
  flag: Schema.String,
  source: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `--${this.flag} ${this.source}: ${this.reason}`
  }
  get suggestion(): string {
    return this.reason.startsWith("invalid JSON") || this.reason.startsWith("expected") ||
        this.reason.startsWith("item")
      ? `Fix the JSON given to --${this.flag} (the position is in the message).`
      : `Give --${this.flag} a readable file, or - to read standard input.`
  }
}

let stdinText: string | undefined
const readStdin = (): string => {
  // Standard input can be consumed once; several flags given `-` share what was read.
  if (stdinText === undefined) stdinText = readFileSync(0, "utf8")
  return stdinText
}

/** Reads a file (or stdin for `-`) as text. */
export const readText = (flag: string, source: string): Effect.Effect<string, CliInputError> =>
  Effect.try({
    try: () => (source === "-" ? readStdin() : readFileSync(source, "utf8")),
    catch: (e) => new CliInputError({ flag, source, reason: e instanceof Error ? e.message : String(e) })
  })

/** Reads and parses JSON, reporting the line and column of a syntax error. */
export const readJson = (flag: string, source: string): Effect.Effect<unknown, CliInputError> =>
  Effect.flatMap(readText(flag, source), (text) =>
    Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) =>
        new CliInputError({ flag, source, reason: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` })
    }))

/** Reads a JSON object (for --inputs). */
export const readObject = (flag: string, source: string): Effect.Effect<Record<string, unknown>, CliInputError> =>
  Effect.flatMap(readJson(flag, source), (v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Effect.succeed(v as Record<string, unknown>)
      : Effect.fail(
        new CliInputError({
          flag,
          source,
          reason: `expected a JSON object, got ${Array.isArray(v) ? "an array" : typeof v}`
        })
      ))

/** Reads a JSON array of objects (for --demos). */
export const readObjects = (
  flag: string,
  source: string
): Effect.Effect<ReadonlyArray<Record<string, unknown>>, CliInputError> =>
  Effect.flatMap(readJson(flag, source), (v) => {
    if (!Array.isArray(v)) {
      return Effect.fail(
        new CliInputError({ flag, source, reason: `expected a JSON array of objects, got ${typeof v}` })
      )
    }
    const bad = v.findIndex((x) => typeof x !== "object" || x === null || Array.isArray(x))
    return bad >= 0
      ? Effect.fail(new CliInputError({ flag, source, reason: `item [${bad}] is not a JSON object` }))
      : Effect.succeed(v as ReadonlyArray<Record<string, unknown>>)
  })
