/**
 * Typed errors of the optimizers. Each carries a stable `_tag`, whether a retry can help (`retryable`) and a
 * `suggestion` saying what to change, after the model of `effect/ai`'s AiError.
 */
import { Schema } from "effect"

/** The trainset (or valset) cannot drive this optimizer: empty, too small, or without input keys. */
export class InvalidDataset extends Schema.TaggedError<InvalidDataset>()("InvalidDataset", {
  optimizer: Schema.String,
  /** "trainset" or "valset". */
  dataset: Schema.String,
  size: Schema.Number,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `${this.optimizer}: the ${this.dataset} (${this.size} examples) ${this.reason}`
  }
  get suggestion(): string {
    return `Pass a ${this.dataset} of Examples marked with withInputs(...), large enough for the optimizer's settings.`
  }
}

/** A hyperparameter or compile option out of its range (a zero budget, an unknown preset, breadth 1...). */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  optimizer: Schema.String,
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `${this.optimizer}: ${this.option} = ${this.value} is invalid; expected ${this.expected}`
  }
  get suggestion(): string {
    return `Set ${this.option} to ${this.expected}, or leave it unset for DSPy's default.`
  }
}

/** The program cannot be compiled as given: no predictors, already compiled, or a teacher of another shape. */
export class InvalidProgram extends Schema.TaggedError<InvalidProgram>()("InvalidProgram", {
  optimizer: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `${this.optimizer}: ${this.reason}`
  }
  get suggestion(): string {
    return "Compile an uncompiled program with at least one predictor (Predict, ChainOfThought...); a teacher must have the student's predictors, names and signatures."
  }
}

/**
 * Bootstrapping failed on as many examples as `maxErrors` allows (DSPy raises the last error then).
 * `error` is that last error.
 */
export class BootstrapFailed extends Schema.TaggedError<BootstrapFailed>()("BootstrapFailed", {
  optimizer: Schema.String,
  errors: Schema.Number,
  maxErrors: Schema.Number,
  error: Schema.Unknown
}) {
  readonly retryable = false
  override get message(): string {
    const inner = this.error instanceof Error ? `${this.error.name}: ${this.error.message}` : String(this.error)
    return `${this.optimizer}: bootstrapping stopped after ${this.errors} failed examples (maxErrors ${this.maxErrors}). Last error: ${inner}`
  }
  get suggestion(): string {
    const inner = (this.error as { suggestion?: unknown } | null)?.suggestion
    return typeof inner === "string" ? inner : "Fix the error above (the program or the metric), or raise maxErrors."
  }
}

/**
 * A call to the prompt model that proposes instructions failed (after the LM's own retries); DSPy raises it
 * too. `error` is the LM or adapter error.
 */
export class ProposalFailed extends Schema.TaggedError<ProposalFailed>()("ProposalFailed", {
  optimizer: Schema.String,
  /** Which proposal, e.g. "depth 1, predictor self". */
  step: Schema.String,
  error: Schema.Unknown
}) {
  get retryable(): boolean {
    return (this.error as { retryable?: unknown } | null)?.retryable === true
  }
  override get message(): string {
    const inner = this.error instanceof Error ? `${this.error.name}: ${this.error.message}` : String(this.error)
    return `${this.optimizer}: proposing instructions (${this.step}) failed: ${inner}`
  }
  get suggestion(): string {
    const inner = (this.error as { suggestion?: unknown } | null)?.suggestion
    return typeof inner === "string" ? inner : "Check the prompt model (its name, key and limits), then run again."
  }
}

/** The checkpoint store could not be opened, read or written. */
export class CheckpointError extends Schema.TaggedError<CheckpointError>()("CheckpointError", {
  path: Schema.String,
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `checkpoint store ${this.path}: ${this.reason}`
  }
  get suggestion(): string {
    return "Point the checkpoint at a writable file (Checkpoint.layerSqlite(path)), or run without one (Checkpoint.layerNone)."
  }
}

/** Every error an optimizer's own checks can raise (besides the program's and the metric's own). */
export type OptimizerError =
  | InvalidDataset
  | InvalidOption
  | InvalidProgram
  | BootstrapFailed
  | ProposalFailed
  | CheckpointError
