/**
 * One shape for every optimizer: `optimizer.compile(student, { trainset, valset?, metric, teacher?, seed,
 * budget? })` returns the compiled program (a new instance; the student is untouched) with its trial log,
 * and `optimizer.stream(...)` gives the same run as progress events ending with the result.
 *
 * Every evaluation goes through `Evaluate` and so the `Executor`, with task descriptors carrying the
 * candidate's saved state and hash; a cluster executor can run a compile across nodes with no change here.
 * Every step a run pays for (evaluated examples, bootstrap attempts, instruction proposals) is kept in the
 * `Checkpoint` store when one is provided, so a run started again with the same arguments redoes none.
 */
import type { Evaluate, Example, Executor, LanguageModel, Module } from "@dspex/core"
import type { Effect, Stream } from "effect"
import type { OptimizerError } from "./Errors.ts"
import type * as Progress from "./Progress.ts"
import type { TrialLog } from "./TrialLog.ts"

/** Limits on what a run may spend; the run stops cleanly at the first one reached. */
export interface Budget {
  /** Provider calls (cache hits are free and not counted). */
  readonly maxLmCalls?: number | undefined
  /** Examples scored by the metric (bootstrap attempts included). */
  readonly maxMetricCalls?: number | undefined
  /** USD, where the models' prices are known. */
  readonly maxCost?: number | undefined
}

export interface CompileOptions<R = never> {
  readonly trainset: ReadonlyArray<Example.Example>
  /** Where candidates are scored; each optimizer's DSPy default when unset (often the trainset). */
  readonly valset?: ReadonlyArray<Example.Example> | undefined
  readonly metric: Evaluate.Metric<R>
  /** The program whose runs become demos (default: a copy of the student). */
  readonly teacher?: Module.Module | undefined
  /** The seed of every random choice; each optimizer's DSPy default when unset. */
  readonly seed?: number | undefined
  readonly budget?: Budget | undefined
  /** Examples evaluated at once within one evaluation (the Executor's default when unset). */
  readonly numThreads?: number | undefined
  /** Candidate evaluations run at once where the algorithm has independent ones (default 4). */
  readonly trialConcurrency?: number | undefined
  /** Failed examples that stop one evaluation (DSPy's `max_errors`, default 10). */
  readonly maxErrors?: number | undefined
  /** The metric's name, for the checkpoint key and remote executors (default: the function's name). */
  readonly metricName?: string | undefined
}

export interface CompileResult<P> {
  readonly program: P
  readonly log: TrialLog
}

/** Why a compile fails: its own checks, or an evaluation that could not go on (auth, error budget). */
export type CompileError = OptimizerError | Evaluate.EvaluateError

/** What a compile needs: the program's services, the metric's, an LM service and an Executor. */
export type CompileContext<P extends Module.Module, R> =
  | Module.ContextOf<P>
  | R
  | LanguageModel.LanguageModel
  | Executor.Executor

/** The last event of `stream`: the compiled program and its log. */
export interface Finished<P> {
  readonly _tag: "Finished"
  readonly result: CompileResult<P>
}

export interface Optimizer<Config> {
  /** DSPy's class name, e.g. "BootstrapFewShot". */
  readonly name: string
  /** The hyperparameters, DSPy's defaults filled in. */
  readonly config: Config
  readonly compile: <P extends Module.Module, R = never>(
    student: P,
    options: CompileOptions<R>
  ) => Effect.Effect<CompileResult<P>, CompileError, CompileContext<P, R>>
  readonly stream: <P extends Module.Module, R = never>(
    student: P,
    options: CompileOptions<R>
  ) => Stream.Stream<Progress.Event | Finished<P>, CompileError, CompileContext<P, R>>
}
