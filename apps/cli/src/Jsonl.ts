/**
 * Training data for `dspex optimize`: JSON Lines files, one example object a line, as DSPy users keep
 * their datasets. A line that is not a JSON object, or that lacks an input key, is an error naming the
 * file and the line, before any LM call is paid for.
 */
import { Example } from "@dspex/core"
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"

/** A dataset file that cannot be used: unreadable, empty, a bad line, or rows without the input keys. */
export class DatasetError extends Schema.TaggedError<DatasetError>()("DatasetError", {
  flag: Schema.String,
  path: Schema.String,
  /** 1-based line of the problem, when it is one line's. */
  line: Schema.optional(Schema.Number),
  reason: Schema.String,
  fix: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `--${this.flag} ${this.path}${this.line === undefined ? "" : `, line ${this.line}`}: ${this.reason}`
  }
  get suggestion(): string {
    return this.fix
  }
}

/** One example as read, with the line it came from (for errors about it later). */
export interface Row {
  readonly line: number
  readonly data: Readonly<Record<string, unknown>>
}

const jsonlFix =
  "Write one JSON object per line (blank lines are skipped), e.g. {\"question\": \"...\", \"answer\": \"...\"}."

/**
 * `JSON.parse` as a value: the error's message instead of a throw.
 *
 * For example (the command's own internals, not a library API):
 * parseJson("{\"a\": 1}") // { ok: true, value: { a: 1 } }
 */
export const parseJson = (
  source: string
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string } => {
  try {
    return { ok: true, value: JSON.parse(source) }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

/**
 * Reads a JSONL file into rows; blank lines are skipped.
 *
 * For example (the command's own internals, not a library API):
 * readRows("trainset", "codes.train.jsonl") // [{ line: 1, data: { question: "...", answer: "..." } }, ...]
 */
export const readRows = (flag: string, path: string): Effect.Effect<ReadonlyArray<Row>, DatasetError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (e) =>
        new DatasetError({
          flag,
          path,
          reason: e instanceof Error ? e.message : String(e),
          fix: `Give --${flag} a readable JSONL file (paths are relative to the current directory).`
        })
    })
    const rows: Array<Row> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const source = lines[i]!.trim()
      if (source === "") continue
      const parsed = parseJson(source)
      if (!parsed.ok) {
        return yield* new DatasetError({
          flag,
          path,
          line: i + 1,
          reason: `invalid JSON: ${parsed.error}`,
          fix: jsonlFix
        })
      }
      const value = parsed.value
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return yield* new DatasetError({
          flag,
          path,
          line: i + 1,
          reason: `expected a JSON object, got ${
            Array.isArray(value) ? "an array" : value === null ? "null" : typeof value
          }`,
          fix: jsonlFix
        })
      }
      rows.push({ line: i + 1, data: value as Record<string, unknown> })
    }
    if (rows.length === 0) {
      return yield* new DatasetError({ flag, path, reason: "has no examples", fix: jsonlFix })
    }
    return rows
  })

/**
 * The input keys of a dataset: the ones given (`--inputs`), else those of the program's input fields that
 * the first row has (a program's later predictors often take fields its own code computes, not data).
 *
 * For example (the command's own internals, not a library API):
 * inputKeysFor(rows, "trainset", "train.jsonl", undefined, ["context", "question"]) // ["question"] when rows have no context
 */
export const inputKeysFor = (
  rows: ReadonlyArray<Row>,
  flag: string,
  path: string,
  given: ReadonlyArray<string> | undefined,
  programInputs: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, DatasetError> => {
  if (given !== undefined) return Effect.succeed(given)
  const first = rows[0]!
  const keys = programInputs.filter((k) => k in first.data)
  return keys.length > 0 ? Effect.succeed(keys) : Effect.fail(
    new DatasetError({
      flag,
      path,
      line: first.line,
      reason: `has none of the program's input fields (${programInputs.join(", ")}); its keys are ${
        Object.keys(first.data).join(", ")
      }`,
      fix: "Name the input keys with --inputs (e.g. --inputs question,context), or rename the fields to match."
    })
  )
}

/**
 * Rows as Examples with their input keys marked; a row without one of the keys is an error naming its line.
 *
 * For example (the command's own internals, not a library API):
 * toExamples(rows, "trainset", "train.jsonl", ["question"]) // Example[] with withInputs("question")
 */
export const toExamples = (
  rows: ReadonlyArray<Row>,
  flag: string,
  path: string,
  inputKeys: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Example.Example>, DatasetError> => {
  for (const row of rows) {
    const missing = inputKeys.filter((k) => !(k in row.data))
    if (missing.length > 0) {
      return Effect.fail(
        new DatasetError({
          flag,
          path,
          line: row.line,
          reason: `has no ${missing.map((k) => `"${k}"`).join(", ")} (input key${missing.length === 1 ? "" : "s"})`,
          fix: "Give every example each input key, or set the input keys with --inputs."
        })
      )
    }
  }
  return Effect.succeed(rows.map((row) => Example.make(row.data).withInputs(...inputKeys)))
}
