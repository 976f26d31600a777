/**
 * The state of one compile run, shared by its steps: the budget and what has been spent, the trial log,
 * the best candidate so far, the checkpoint store and the progress sink. Algorithms call `evaluate` for a
 * scored candidate and `step` for any other paid step (a bootstrap attempt, a proposal); both replay from
 * the checkpoint store what an earlier run with the same key already did.
 */
import { Evaluate, type Example, type Module, ProgramState, Usage } from "@dspex/core"
import { Data, Effect, Stream } from "effect"
import type { Store } from "../Checkpoint.ts"
import type { CheckpointError } from "../Errors.ts"
import type { Budget, CompileError } from "../Optimizer.ts"
import type * as Progress from "../Progress.ts"
import type { StopReason, Trial, Usage as StepUsage } from "../TrialLog.ts"

/** Raised inside a run when its budget is spent; `define` turns it into a clean stop. */
export class BudgetStop extends Data.TaggedError("BudgetStop")<{ readonly reason: StopReason }> {}

export interface Evaluation {
  readonly trial: number
  /** DSPy's percentage over the examples (over those scored when incomplete). */
  readonly score: number
  readonly scores: ReadonlyArray<number | null>
  readonly complete: boolean
}

export interface EvaluateStepOptions {
  readonly label: string
  readonly metric: Evaluate.Metric<any>
  readonly metricName?: string | undefined
  readonly numThreads?: number | undefined
  readonly maxErrors?: number | undefined
}

interface StoredScore {
  readonly score: number
  readonly error?: string | undefined
}

/** A stable key for an example: its fields and input keys. */
export const exampleKey = (example: Example.Example): string =>
  ProgramState.hashState({ data: example.data, inputKeys: example.inputKeys ?? null }).slice(0, 32)

const zero: StepUsage = { lmCalls: 0, tokens: 0, cost: 0 }

const stepUsage = (u: Usage.Totals): StepUsage => ({ lmCalls: u.lmCalls, tokens: u.tokens, cost: u.cost })

export class Session {
  readonly trials: Array<Trial> = []
  metricCalls = 0
  resumedSteps = 0
  stopReason: StopReason | undefined
  best: { trial: number; candidate: string; score: number; program: Module.Module } | undefined
  /** What to return if the run stops before it has an evaluated best (e.g. demos bootstrapped so far). */
  fallback: (() => Module.Module) | undefined
  private trialCounter = 0

  readonly optimizer: string
  readonly runKey: string
  readonly store: Store
  readonly budget: Budget
  readonly emit: (event: Progress.Event) => Effect.Effect<void>
  readonly used: () => Usage.Totals

  constructor(options: {
    readonly optimizer: string
    readonly runKey: string
    readonly store: Store
    readonly budget: Budget
    readonly emit: (event: Progress.Event) => Effect.Effect<void>
    readonly used: () => Usage.Totals
  }) {
    this.optimizer = options.optimizer
    this.runKey = options.runKey
    this.store = options.store
    this.budget = options.budget
    this.emit = options.emit
    this.used = options.used
  }

  budgetUse(): Progress.BudgetUse {
    const u = this.used()
    return {
      lmCalls: u.lmCalls,
      metricCalls: this.metricCalls,
      cost: u.cost,
      maxLmCalls: this.budget.maxLmCalls,
      maxMetricCalls: this.budget.maxMetricCalls,
      maxCost: this.budget.maxCost
    }
  }

  /** The first limit reached, if any (and remembers it as the run's stop reason). */
  exhausted(): StopReason | undefined {
    if (this.stopReason !== undefined) return this.stopReason
    const u = this.used()
    const { maxCost, maxLmCalls, maxMetricCalls } = this.budget
    const hit = maxLmCalls !== undefined && u.lmCalls >= maxLmCalls
      ? { limit: "lmCalls" as const, used: u.lmCalls, max: maxLmCalls }
      : maxMetricCalls !== undefined && this.metricCalls >= maxMetricCalls
      ? { limit: "metricCalls" as const, used: this.metricCalls, max: maxMetricCalls }
      : maxCost !== undefined && u.cost >= maxCost
      ? { limit: "cost" as const, used: Number(u.cost.toPrecision(6)), max: maxCost }
      : undefined
    if (hit !== undefined) this.stopReason = { _tag: "BudgetExhausted", ...hit }
    return this.stopReason
  }

  /**
   * Counts an example about to be scored, if the budget allows it. Counted at the start rather than at the
   * end, so concurrent examples never take the run past `maxMetricCalls`.
   */
  reserveMetricCall(): boolean {
    if (this.exhausted() !== undefined) return false
    this.metricCalls++
    return true
  }

  /** Fails with BudgetStop when the budget is spent: call before starting paid work. */
  readonly ensureBudget = Effect.suspend(() => {
    const reason = this.exhausted()
    return reason === undefined ? Effect.void : Effect.fail(new BudgetStop({ reason }))
  })

  private nextTrial(): number {
    return ++this.trialCounter
  }

  private record(trial: Trial): Effect.Effect<void> {
    this.trials.push(trial)
    return Effect.andThen(
      this.emit({ _tag: "TrialScored", trial }),
      this.emit({ _tag: "BudgetUsed", budget: this.budgetUse() })
    )
  }

  /** Keeps `program` as the best when it beats the best so far strictly (ties keep the earlier one, as DSPy). */
  offerBest(evaluation: Evaluation, label: string, program: Module.Module): Effect.Effect<boolean> {
    if (!evaluation.complete) return Effect.succeed(false)
    if (this.best !== undefined && !(evaluation.score > this.best.score)) return Effect.succeed(false)
    const candidate = this.trials.find((t) => t.trial === evaluation.trial)?.candidate ?? ""
    this.best = { trial: evaluation.trial, candidate, score: evaluation.score, program }
    return Effect.as(this.emit({ _tag: "NewBest", trial: evaluation.trial, label, score: evaluation.score }), true)
  }

  /**
   * Scores `program` on `examples` through Evaluate (and so the Executor). Examples already scored for this
   * candidate by a run with the same key come from the checkpoint store. Stops at the budget: the examples
   * scored by then are kept (and stored): no new example starts, those running finish (a run overshoots a
   * limit by at most the examples in flight), the trial is marked incomplete and the run stops with BudgetStop.
   */
  evaluate(
    program: Module.Module,
    examples: ReadonlyArray<Example.Example>,
    options: EvaluateStepOptions
  ): Effect.Effect<Evaluation, CompileError | BudgetStop, any> {
    const self = this
    return Effect.gen(function*() {
      const candidate = ProgramState.stateHash(program)
      const trial = self.nextTrial()
      const n = examples.length
      yield* self.emit({
        _tag: "TrialStarted",
        trial,
        kind: "evaluation",
        label: options.label,
        candidate,
        examples: n
      })
      const keys = examples.map((e) => `${self.runKey}/eval/${candidate}/${exampleKey(e)}`)
      const scores: Array<number | null> = new Array(n).fill(null)
      let errors = 0
      let resumed = 0
      for (let i = 0; i < n; i++) {
        const stored = (yield* self.store.get(keys[i]!)) as StoredScore | undefined
        if (stored !== undefined) {
          scores[i] = stored.score
          if (stored.error !== undefined) errors++
          resumed++
        }
      }
      self.resumedSteps += resumed
      const missing = scores.flatMap((s, i) => (s === null ? [i] : []))
      let usage = zero
      if (missing.length > 0 && self.exhausted() === undefined) {
        const devset = missing.map((i) => examples[i]!)
        const run = Evaluate.stream({
          program,
          devset,
          metric: options.metric,
          ...(options.metricName === undefined ? {} : { metricName: options.metricName }),
          ...(options.numThreads === undefined ? {} : { numThreads: options.numThreads }),
          ...(options.maxErrors === undefined ? {} : { maxErrors: options.maxErrors }),
          // A spent budget starts no new example; those running finish and are kept.
          shouldStart: () => self.reserveMetricCall()
        }).pipe(
          Stream.mapEffect((event) => {
            if (event._tag !== "ExampleDone") return Effect.void
            const i = missing[event.index]!
            scores[i] = event.score
            if (event.error !== undefined) errors++
            const stored: StoredScore = event.error === undefined
              ? { score: event.score }
              : { score: event.score, error: Evaluate.describeError(event.error) }
            return self.store.put(keys[i]!, stored)
          }),
          Stream.runDrain
        )
        const [, spent] = yield* Usage.capture(run as Effect.Effect<void, CompileError | CheckpointError, any>)
        usage = stepUsage(spent)
      }
      const scored = scores.filter((s): s is number => s !== null)
      const complete = scored.length === n
      const sum = scored.reduce((a, b) => a + b, 0)
      yield* self.record({
        trial,
        kind: "evaluation",
        label: options.label,
        candidate,
        examples: n,
        scores,
        score: Evaluate.percentage(sum, scored.length),
        errors,
        resumed,
        complete,
        usage
      })
      if (!complete) return yield* new BudgetStop({ reason: self.exhausted()! })
      return { trial, score: Evaluate.percentage(sum, n), scores, complete }
    })
  }

  /**
   * A paid step other than an evaluation (a bootstrap attempt, an instruction proposal): its JSON result is
   * kept under `key`, so a run with the same key replays it instead of paying again.
   */
  step<A>(
    kind: "bootstrap" | "proposal",
    label: string,
    candidate: string,
    key: string,
    compute: Effect.Effect<A, any, any>,
    options: { readonly metricCalls?: number } = {}
  ): Effect.Effect<A, any, any> {
    const self = this
    return Effect.gen(function*() {
      const fullKey = `${self.runKey}/${kind}/${key}`
      const stored = yield* self.store.get(fullKey)
      if (stored !== undefined) {
        self.resumedSteps++
        return stored as A
      }
      yield* self.ensureBudget
      const trial = self.nextTrial()
      yield* self.emit({ _tag: "TrialStarted", trial, kind, label, candidate, examples: 1 })
      const [value, spent] = yield* Usage.capture(compute)
      self.metricCalls += options.metricCalls ?? 0
      yield* self.store.put(fullKey, value)
      yield* self.record({
        trial,
        kind,
        label,
        candidate,
        examples: 1,
        scores: [],
        score: 0,
        errors: 0,
        resumed: 0,
        complete: true,
        usage: stepUsage(spent)
      })
      return value
    })
  }
}
