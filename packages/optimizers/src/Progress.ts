/**
 * A compile run's progress as typed events, and a plain-text rendering of them for terminals and logs.
 */
import type { StopReason, Trial, TrialLog, Usage } from "./TrialLog.ts"
import { describeStop } from "./TrialLog.ts"

/** The budget a run has, and what it has used so far. */
export interface BudgetUse {
  readonly lmCalls: number
  readonly metricCalls: number
  readonly cost: number
  readonly maxLmCalls?: number | undefined
  readonly maxMetricCalls?: number | undefined
  readonly maxCost?: number | undefined
}

export type Event =
  | {
    readonly _tag: "TrialStarted"
    readonly trial: number
    readonly kind: Trial["kind"]
    readonly label: string
    readonly candidate: string
    readonly examples: number
  }
  | { readonly _tag: "TrialScored"; readonly trial: Trial }
  | { readonly _tag: "NewBest"; readonly trial: number; readonly label: string; readonly score: number }
  | { readonly _tag: "BudgetUsed"; readonly budget: BudgetUse }
  | { readonly _tag: "Stopped"; readonly reason: StopReason; readonly log: TrialLog }

const money = (usd: number) => `$${Number(usd.toPrecision(6))}`

const usageText = (u: Usage) => `${u.lmCalls} LM calls, ${u.tokens} tokens, ${money(u.cost)}`

/**
 * One line per event worth showing (trial starts of evaluations, scores, new bests, the stop); undefined for
 * the rest.
 *
 * @example
 * ```ts
 * import { Progress } from "@dspex/optimizers"
 *
 * Progress.render({ _tag: "NewBest", trial: 3, label: "seed 0", score: 87.5 })
 * // => "★ new best 87.5 (trial 3, seed 0)"
 * ```
 */
export const render = (event: Event): string | undefined => {
  switch (event._tag) {
    case "TrialStarted":
      return event.kind === "evaluation"
        ? `▶ trial ${event.trial}: ${event.label} on ${event.examples} examples`
        : undefined
    case "TrialScored": {
      const t = event.trial
      if (t.kind === "bootstrap") return undefined
      const resumed = t.resumed > 0 ? `, ${t.resumed} from checkpoint` : ""
      const partial = t.complete ? "" : " (stopped before the end)"
      return t.kind === "evaluation"
        ? `  trial ${t.trial}: ${t.score}%${partial} · ${t.errors} errors${resumed} · ${usageText(t.usage)}`
        : `  ${t.label}: ${usageText(t.usage)}`
    }
    case "NewBest":
      return `★ new best ${event.score} (trial ${event.trial}, ${event.label})`
    case "BudgetUsed":
      return undefined
    case "Stopped":
      return `■ ${
        describeStop(event.reason)
      } · ${event.log.trials.length} trials, ${event.log.metricCalls} metric calls, ${usageText(event.log.usage)}${
        event.log.resumedSteps > 0 ? `, ${event.log.resumedSteps} steps from checkpoint` : ""
      }`
  }
}
