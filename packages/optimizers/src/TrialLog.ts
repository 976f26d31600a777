/**
 * What a compile run did, step by step: every candidate it evaluated (its state hash, its score per
 * example, what the evaluation cost) and every bootstrap and proposal step, with the run's totals and why
 * it stopped. Plain JSON, so it can be saved beside the compiled program.
 */

/** Why a run ended. */
export type StopReason =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "StopScore"; readonly score: number; readonly stopAtScore: number }
  | {
    readonly _tag: "BudgetExhausted"
    readonly limit: "lmCalls" | "metricCalls" | "cost"
    readonly used: number
    readonly max: number
  }

/** LM usage of a step: provider calls, tokens, USD. Cache hits are free and not counted. */
export interface Usage {
  readonly lmCalls: number
  readonly tokens: number
  readonly cost: number
}

export interface Trial {
  /** 1-based, in the order the steps started. */
  readonly trial: number
  readonly kind: "evaluation" | "bootstrap" | "proposal"
  /** What the optimizer calls this step, e.g. "seed 3", "minibatch 7", "depth 1, predictor self". */
  readonly label: string
  /** The evaluated or bootstrapped program's state hash (`ProgramState.stateHash`). */
  readonly candidate: string
  /** Number of examples the step covered. */
  readonly examples: number
  /** One score per example, in the order given (null where the step stopped before it). */
  readonly scores: ReadonlyArray<number | null>
  /** DSPy's percentage over the examples scored (`round(100·Σ/n, 2)`), for evaluations. */
  readonly score: number
  /** Examples that failed (their failure score is in `scores`). */
  readonly errors: number
  /** Examples served from the checkpoint store instead of run again. */
  readonly resumed: number
  /** False when the run stopped (budget) before every example was scored. */
  readonly complete: boolean
  readonly usage: Usage
}

export interface TrialLog {
  readonly optimizer: string
  readonly trials: ReadonlyArray<Trial>
  /** The trial whose candidate was returned, when it was evaluated. */
  readonly best?: { readonly trial: number; readonly candidate: string; readonly score: number } | undefined
  readonly stopReason: StopReason
  readonly metricCalls: number
  readonly usage: Usage
  /** Steps (examples, bootstrap attempts, proposals) replayed from the checkpoint store. */
  readonly resumedSteps: number
}

/** Describes a stop reason in a sentence, for logs and the CLI. */
export const describeStop = (reason: StopReason): string => {
  switch (reason._tag) {
    case "Completed":
      return "completed"
    case "StopScore":
      return `stopped early: score ${reason.score} reached stopAtScore ${reason.stopAtScore}`
    case "BudgetExhausted":
      return `budget exhausted: ${reason.used} of ${reason.max} ${
        reason.limit === "cost" ? "USD" : reason.limit === "lmCalls" ? "LM calls" : "metric calls"
      }`
  }
}
