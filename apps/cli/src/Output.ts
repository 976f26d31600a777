/**
 * How CLI commands report: a result as pretty JSON on stdout; a failure as `{"error": {...}}` JSON on
 * stdout (so scripts can read the typed error) plus its message on stderr, and exit code 1.
 */
import { Cause, Effect } from "effect"

/** A typed error as JSON: its tag, message, suggestion, whether it is retryable, and its fields. */
export const errorJson = (error: unknown): Record<string, unknown> => {
  if (typeof error !== "object" || error === null) return { _tag: "UnknownError", message: String(error) }
  const e = error as Record<string, unknown> & { message?: string; suggestion?: string; retryable?: boolean }
  const fields: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) {
    if (k !== "stack" && typeof v !== "function") fields[k] = v
  }
  return {
    ...fields,
    _tag: e._tag ?? (error instanceof Error ? error.name : "UnknownError"),
    message: e.message ?? String(error),
    ...(e.suggestion === undefined ? {} : { suggestion: e.suggestion }),
    ...(e.retryable === undefined ? {} : { retryable: e.retryable })
  }
}

/** Runs a command body and prints its result or its typed error. */
export const printJson = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  effect.pipe(
    Effect.matchCauseEffect({
      onSuccess: (value) => Effect.sync(() => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)),
      onFailure: (cause) =>
        Effect.sync(() => {
          const failure = Cause.squash(cause)
          const json = errorJson(failure)
          process.stdout.write(`${JSON.stringify({ error: json }, null, 2)}\n`)
          process.stderr.write(`error: ${String(json.message)}\n`)
          process.exitCode = 1
        })
    })
  )
