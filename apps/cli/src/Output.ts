/**
 * How CLI commands report: a result as pretty JSON on stdout; a failure as `{"error": {...}}` JSON on
 * stdout (so scripts can read the typed error) plus its message and suggestion on stderr, and exit code 1.
 * A report that carries an `error` next to its other fields (a run that stopped or where every example
 * failed) is printed whole and exits 1 the same way.
 */
import { Cause, Effect } from "effect"

/** For failures that are not DSPex's typed errors (a defect): what to do about them. */
const unexpectedSuggestion = "This is a bug: please report it with the command line that produced it."

/**
 * A typed error as JSON: its tag, message, suggestion, whether it is retryable, and its fields (an error
 * it carries, as `EvaluationAborted.error`, as JSON too). Every error gets a `suggestion`.
 *
 * For example (the command's own internals, not a library API):
 * errorJson(new Errors.SignatureParseError({ source: "a -> -> b", position: 5, found: "->", reason: "..." }))
 * // => { _tag: "SignatureParseError", source: "a -> -> b", position: 5, ..., message: "...", suggestion: "...", retryable: false }
 */
export const errorJson = (error: unknown): Record<string, unknown> => {
  if (typeof error !== "object" || error === null) {
    return { _tag: "UnknownError", message: String(error), suggestion: unexpectedSuggestion }
  }
  const e = error as Record<string, unknown> & { message?: string; suggestion?: string; retryable?: boolean }
  const fields: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) {
    if (k === "stack" || typeof v === "function") continue
    fields[k] = v instanceof Error ? errorJson(v) : v
  }
  return {
    ...fields,
    _tag: e._tag ?? (error instanceof Error ? error.name : "UnknownError"),
    message: e.message ?? String(error),
    suggestion: typeof e.suggestion === "string" ? e.suggestion : unexpectedSuggestion,
    ...(e.retryable === undefined ? {} : { retryable: e.retryable })
  }
}

const writeJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)

const reportError = (json: Record<string, unknown>) => {
  process.stderr.write(`error: ${String(json.message)}\n`)
  if (typeof json.suggestion === "string") process.stderr.write(`suggestion: ${json.suggestion}\n`)
  process.exitCode = 1
}

/**
 * Prints a failure: `{"error": ...}` on stdout, message and suggestion on stderr, exit code 1.
 *
 * For example (the command's own internals, not a library API):
 * printError(new UsageError({ command: "dspex run-example", problems: ["--threads must be at least 1"] }))
 */
export const printError = (error: unknown): Effect.Effect<void> =>
  Effect.sync(() => {
    const json = errorJson(error)
    writeJson({ error: json })
    reportError(json)
  })

/** Runs a command body and prints its result, or its typed error. */
export const printJson = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  effect.pipe(
    Effect.matchCauseEffect({
      onSuccess: (value) =>
        Effect.sync(() => {
          writeJson(value)
          // A report that failed as a whole says so in its `error` field.
          const error = (value as { error?: unknown } | null)?.error
          if (typeof error === "object" && error !== null) reportError(error as Record<string, unknown>)
        }),
      onFailure: (cause) => printError(Cause.squash(cause))
    })
  )
