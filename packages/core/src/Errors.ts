/**
 * Typed errors of the core that are not LM errors. Every error carries a stable `_tag`, whether a retry
 * can help (`retryable`), and a `suggestion` for the user, after the model of `effect/ai`'s AiError.
 */
import { Schema } from "effect"
import type { ExampleResult } from "./Evaluate.ts"
import { describeError } from "./internal/describeError.ts"

/** A DSPy signature string that does not parse; `position` is a 0-based offset into `source`. */
export class SignatureParseError extends Schema.TaggedError<SignatureParseError>()("SignatureParseError", {
  source: Schema.String,
  position: Schema.Number,
  found: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    const caret = `${this.source}\n${" ".repeat(Math.max(0, this.position))}^`
    return `Invalid signature at position ${this.position} (near ${
      JSON.stringify(this.found)
    }): ${this.reason}\n${caret}`
  }
  get suggestion(): string {
    return "Write signatures as \"input1, input2: type -> output: type\", e.g. \"context: list[str], question -> answer: float\"."
  }
}

/** An invalid edit of a signature (unknown field, duplicate name, bad index). */
export class SignatureEditError extends Schema.TaggedError<SignatureEditError>()("SignatureEditError", {
  operation: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `Cannot ${this.operation} field "${this.field}": ${this.reason}`
  }
  get suggestion(): string {
    return "Check the field names with signature.inputNames / signature.outputNames and the index against the field count."
  }
}

/** Inputs that do not fit the signature: a missing or unknown field, or a value of the wrong type. */
export class InputValidationError extends Schema.TaggedError<InputValidationError>()("InputValidationError", {
  predictor: Schema.String,
  field: Schema.String,
  problem: Schema.Literals(["missing", "unknown", "wrong_type"]),
  detail: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    const where = this.predictor === "" ? "" : ` (predictor "${this.predictor}")`
    switch (this.problem) {
      case "missing":
        return `Missing input field "${this.field}"${where}: ${this.detail}`
      case "unknown":
        return `Unknown input field "${this.field}"${where}: ${this.detail}`
      case "wrong_type":
        return `Input field "${this.field}" has the wrong type${where}: ${this.detail}`
    }
  }
  get suggestion(): string {
    return "Pass exactly the signature's input fields with values of their declared types."
  }
}

/**
 * The LM replied, but the reply could not be turned into the signature's outputs (after the JSON
 * fallback where it applies). `completion` keeps the raw text so the caller can see what came back.
 */
export class AdapterParseError extends Schema.TaggedError<AdapterParseError>()("AdapterParseError", {
  adapter: Schema.String,
  signature: Schema.String,
  completion: Schema.String,
  reason: Schema.String,
  field: Schema.optional(Schema.String),
  parsed: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
}) {
  readonly retryable = true
  override get message(): string {
    const where = this.field === undefined ? "" : ` (field "${this.field}")`
    const shown = this.completion.length > 500 ? `${this.completion.slice(0, 500)}…` : this.completion
    return `${this.adapter} failed to parse the LM response for signature "${this.signature}"${where}: ${this.reason}\nLM response:\n${shown}`
  }
  get suggestion(): string {
    return "Use a model that follows the output format, add demos, or switch to JSONAdapter with structured outputs."
  }
}

/** A saved program state that does not fit the program it is loaded into; the program is left as it was. */
export class StateLoadError extends Schema.TaggedError<StateLoadError>()("StateLoadError", {
  key: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `Cannot load program state at key "${this.key}": ${this.reason}`
  }
  get suggestion(): string {
    return "Load a file saved from a program with the same predictors (same attribute paths and field counts)."
  }
}

/**
 * A metric returned something that is not a score (a number or a boolean): a bug in the metric, so the
 * example fails rather than scoring a guess.
 */
export class MetricError extends Schema.TaggedError<MetricError>()("MetricError", {
  /** What the metric returned, as JSON where it can be. */
  returned: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `the metric returned ${this.returned}; expected a number or a boolean`
  }
  get suggestion(): string {
    return "Return a number (e.g. 0.5) or a boolean from the metric, or an Effect or Promise of one."
  }
}

/** An example Evaluate finished before it stopped (its score, prediction, and error when it failed). */
const FinishedResult = Schema.declare((u: unknown): u is ExampleResult => typeof u === "object" && u !== null, {
  identifier: "ExampleResult"
})

/**
 * Evaluate stopped because more examples failed than its error budget allows. `results` holds the examples
 * finished by then (in devset order), so the work already paid for is not lost.
 */
export class ErrorBudgetExceeded extends Schema.TaggedError<ErrorBudgetExceeded>()("ErrorBudgetExceeded", {
  maxErrors: Schema.Number,
  errors: Schema.Number,
  completed: Schema.Number,
  total: Schema.Number,
  lastError: Schema.String,
  results: Schema.Array(FinishedResult)
}) {
  readonly retryable = false
  override get message(): string {
    return `Execution cancelled: ${this.errors} errors reached the budget of ${this.maxErrors} after ${this.completed}/${this.total} examples. Last error: ${this.lastError}`
  }
  get suggestion(): string {
    // The last failure's own advice says what the errors most likely share.
    const last = [...(this.results ?? [])].reverse().find((r) => r.error !== undefined)?.error as {
      suggestion?: unknown
    } | undefined
    const fix = typeof last?.suggestion === "string"
      ? `${last.suggestion} `
      : "Look at the examples' errors (results[].error) for what they share. "
    return `${fix}If some failures are expected, raise maxErrors.`
  }
}

/**
 * Evaluate stopped at the first error that no other example can get past (`fatal`: a bad API key, an
 * unknown model or provider, missing configuration, no quota). `error` is that error; `results` holds the
 * examples finished by then, that one included (in devset order).
 */
export class EvaluationAborted extends Schema.TaggedError<EvaluationAborted>()("EvaluationAborted", {
  /** The devset index of the example that hit the error. */
  index: Schema.Number,
  completed: Schema.Number,
  total: Schema.Number,
  error: Schema.Unknown,
  results: Schema.Array(FinishedResult)
}) {
  readonly retryable = false
  override get message(): string {
    return `Evaluation stopped at example ${this.index} (${this.completed}/${this.total} finished): ${
      describeError(this.error)
    }`
  }
  get suggestion(): string {
    const inner = (this.error as { suggestion?: unknown } | null)?.suggestion
    return typeof inner === "string" ? inner : "Fix the error above: no other example can succeed until then."
  }
}
