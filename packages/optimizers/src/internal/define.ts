/**
 * Builds an `Optimizer` from an algorithm: checks the compile options, derives the run's checkpoint key,
 * opens a Session under a live usage count, turns a spent budget into a clean stop with the best program
 * so far, and exposes the run both as `compile` and as a `stream` of progress events.
 */
import { type Example, LM, type Module, ProgramState, Usage } from "@dspex/core"
import { Effect, Queue, Stream } from "effect"
import { Checkpoint } from "../Checkpoint.ts"
import { InvalidOption } from "../Errors.ts"
import type { CompileError, CompileOptions, CompileResult, Finished, Optimizer } from "../Optimizer.ts"
import type * as Progress from "../Progress.ts"
import type { StopReason, TrialLog } from "../TrialLog.ts"
import { BudgetStop, Session } from "./session.ts"

export type Algorithm = (
  session: Session,
  student: Module.Module,
  options: CompileOptions<any>
) => Effect.Effect<Module.Module, CompileError | BudgetStop, any>

const datasetKey = (examples: ReadonlyArray<Example.Example> | undefined) =>
  examples === undefined ? null : ProgramState.hashState(examples.map((e) => [e.data, e.inputKeys ?? null]))

/** Hyperparameters as JSON for the run key: functions by name, programs by state hash. */
const configKey = (config: unknown): unknown =>
  JSON.parse(
    JSON.stringify(config, (_k, v) => {
      if (typeof v === "function") return `fn:${v.name}`
      if (v !== null && typeof v === "object" && typeof (v as Module.Module).dumpState === "function") {
        return `program:${ProgramState.stateHash(v as Module.Module)}`
      }
      return v
    }) ?? "null"
  )

const checkBudget = (name: string, options: CompileOptions<any>) => {
  for (const [option, value] of Object.entries(options.budget ?? {})) {
    if (value !== undefined && !(typeof value === "number" && value > 0)) {
      return Effect.fail(
        new InvalidOption({
          optimizer: name,
          option: `budget.${option}`,
          value: String(value),
          expected: "a number above 0"
        })
      )
    }
  }
  return Effect.void
}

export const define = <Config>(name: string, config: Config, algorithm: Algorithm): Optimizer<Config> => {
  const run = (
    student: Module.Module,
    options: CompileOptions<any>,
    emit: (event: Progress.Event) => Effect.Effect<void>
  ): Effect.Effect<CompileResult<Module.Module>, CompileError, any> =>
    Effect.gen(function*() {
      yield* checkBudget(name, options)
      const store = yield* Checkpoint
      const lm = yield* LM.CurrentLM
      const runKey = ProgramState.hashState({
        optimizer: name,
        config: configKey(config),
        student: ProgramState.stateHash(student),
        teacher: options.teacher === undefined ? null : ProgramState.stateHash(options.teacher),
        trainset: datasetKey(options.trainset),
        valset: datasetKey(options.valset),
        metric: options.metricName ?? options.metric.name,
        seed: options.seed ?? null,
        lm: lm ?? null
      }).slice(0, 24)
      return yield* Usage.track((used) => {
        const session = new Session({ optimizer: name, runKey, store, budget: options.budget ?? {}, emit, used })
        const finish = (program: Module.Module, stopReason: StopReason) => {
          const u = used()
          const log: TrialLog = {
            optimizer: name,
            trials: session.trials,
            best: session.best === undefined
              ? undefined
              : { trial: session.best.trial, candidate: session.best.candidate, score: session.best.score },
            stopReason,
            metricCalls: session.metricCalls,
            usage: { lmCalls: u.lmCalls, tokens: u.tokens, cost: u.cost },
            resumedSteps: session.resumedSteps
          }
          return Effect.as(emit({ _tag: "Stopped", reason: stopReason, log }), { program, log })
        }
        return algorithm(session, student, options).pipe(
          Effect.matchEffect({
            onSuccess: (program) => finish(program, session.stopReason ?? { _tag: "Completed" }),
            onFailure: (error) =>
              error instanceof BudgetStop
                ? finish(
                  session.best?.program.deepCopy() ?? session.fallback?.() ?? student.resetCopy(),
                  error.reason
                )
                : Effect.fail(error)
          })
        )
      })
    })

  return {
    name,
    config,
    compile: (student, options) => run(student, options, () => Effect.void) as any,
    stream: (student, options) =>
      Stream.callback<Progress.Event | Finished<any>, CompileError>((queue) =>
        run(student, options, (event) => Effect.asVoid(Queue.offer(queue, event))).pipe(
          Effect.matchCauseEffect({
            onSuccess: (result) => Effect.andThen(Queue.offer(queue, { _tag: "Finished", result }), Queue.end(queue)),
            onFailure: (cause) => Queue.failCause(queue, cause)
          })
        )
      ) as any
  }
}
