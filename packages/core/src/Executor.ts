/**
 * The Executor decides where a batch of tasks runs. Evaluate and every optimizer submit their work
 * through it: the local executor runs the tasks' Effects on fibers with bounded concurrency; a cluster
 * executor (NATS) can replace it as a Layer, running the same tasks on workers from their descriptors.
 *
 * A task is data plus a local way to run it: the descriptor says what to compute (kind, program state,
 * example, payload) so a remote executor can ship it; `effect` is how this process computes it. Each
 * task's outcome comes back as its own Exit, so one failure never aborts the batch: the consumer decides
 * when to stop (and stopping, or interrupting the batch, interrupts the tasks still running).
 *
 * The local executor runs a batch as a supervision tree (`@dspex/runtime`): one Supervisor per batch, in the
 * batch's scope, with `concurrency` permanent worker children that take tasks from a shared cursor and push
 * each outcome to the results queue. A worker whose fiber dies (an interruption or defect that escapes the
 * task, not a task failure) is restarted by the supervisor; the task it held is reported as a failed
 * TaskResult carrying the crash cause, never re-run (a task may have side effects, e.g. a paid LM call).
 * Should the workers crash faster than the supervisor's intensity allows, it gives up and every task not
 * yet reported fails with the `SupervisorEscalation` as a defect: the batch still ends.
 */
import { ChildSpec, Supervisor } from "@dspex/runtime"
import { Cause, Context, Effect, Exit, Layer, Queue, Stream } from "effect"
import { optionalNumber } from "./internal/envConfig.ts"
import type { LMConfigurationError } from "./LMError.ts"
import * as Tracing from "./Tracing.ts"

/** What a task computes, as plain JSON-able data a remote worker can act on. */
export interface TaskDescriptor {
  /** Unique within the batch (and ideally across batches: a remote executor dedupes on it). */
  readonly id: string
  /** What the worker should do, e.g. "evaluate"; the worker looks its handler up by kind. */
  readonly kind: string
  /** The program's saved state (DSPy layout) and its state hash. */
  readonly program?: { readonly hash: string; readonly state: Readonly<Record<string, unknown>> } | undefined
  /** The example's fields and its input keys. */
  readonly example?: {
    readonly data: Readonly<Record<string, unknown>>
    readonly inputKeys?: ReadonlyArray<string> | undefined
  } | undefined
  /** Anything else the kind needs (metric name, options), JSON-able. */
  readonly payload?: unknown
}

export interface Task<A, E = never, R = never> {
  readonly descriptor: TaskDescriptor
  /** How to compute the task in this process. */
  readonly effect: Effect.Effect<A, E, R>
}

/** The outcome of one task; `index` is its position in the submitted batch. */
export interface TaskResult<A, E> {
  readonly index: number
  readonly id: string
  readonly exit: Exit.Exit<A, E>
}

export interface BatchOptions {
  /** How many tasks may run at once; the executor's default when unset. */
  readonly concurrency?: number | undefined
}

export interface ExecutorShape {
  readonly name: string
  readonly defaultConcurrency: number
  /**
   * Runs the tasks and emits each result as it completes (completion order). Never fails because a
   * task failed; ending or interrupting the stream interrupts the tasks still running.
   */
  readonly runBatch: <A, E, R>(
    tasks: ReadonlyArray<Task<A, E, R>>,
    options?: BatchOptions
  ) => Stream.Stream<TaskResult<A, E>, never, R>
}

export class Executor extends Context.Service<Executor, ExecutorShape>()("@dspex/core/Executor") {}

const positive = (n: number | undefined, fallback: number): number =>
  n === undefined || !Number.isFinite(n) || n < 1 ? fallback : Math.floor(n)

/** Restart intensity of a batch's supervisor: a worker crash is rare, a storm of them means stop. */
const intensity = (workers: number) => ({ maxRestarts: Math.max(3, workers), within: "1 second" as const })

/**
 * Runs one batch on `workers` supervised worker fibers; results in completion order. The stream's scope owns
 * the supervisor, so ending or interrupting the stream stops every worker (and the task it runs).
 */
const supervisedBatch = <A, E, R>(
  tasks: ReadonlyArray<Task<A, E, R>>,
  concurrency: number
): Stream.Stream<TaskResult<A, E>, never, R> => {
  const n = tasks.length
  if (n === 0) return Stream.empty
  return Stream.unwrap(
    Effect.gen(function*() {
      const results = yield* Queue.unbounded<TaskResult<A, E>, Cause.Done>()
      // Whether tasks get spans is decided once per batch (see Tracing.ts).
      const tracing = yield* Effect.withFiber((fiber) => Effect.succeed(Tracing.isTracing(fiber)))
      // Each task is reported exactly once, whoever reports it (its worker, a crash, an escalation).
      const reported = new Uint8Array(n)
      let pending = n
      let next = 0
      const report = (index: number, exit: Exit.Exit<A, E>) => {
        if (reported[index] === 1) return
        reported[index] = 1
        Queue.offerUnsafe(results, { index, id: tasks[index]!.descriptor.id, exit })
        if (--pending === 0) Queue.endUnsafe(results)
      }

      const worker = (): Effect.Effect<never, never, R> => {
        let current = -1
        const finish = (exit: Exit.Exit<A, E>) => {
          report(current, exit)
          current = -1
        }
        // Taking a task happens inside a suspended step, so an interrupted worker takes no new task.
        const step = Effect.suspend((): Effect.Effect<void, never, R> => {
          if (next >= n) return Effect.never // idle until the batch's scope stops the tree
          current = next++
          const task = tasks[current]!
          const run = Effect.exit(task.effect)
          return Effect.map(
            tracing
              ? Effect.withSpan(run, "Executor.task", {
                attributes: { "dspex.task.id": task.descriptor.id, "dspex.task.kind": task.descriptor.kind },
                captureStackTrace: false
              })
              : run,
            finish
          )
        })
        return Effect.onExit(Effect.forever(step), (exit) =>
          Effect.sync(() => {
            // The worker itself died holding a task: that task fails with the crash's cause.
            if (current >= 0 && Exit.isFailure(exit)) finish(Exit.failCause(exit.cause))
          }))
      }

      const workers = Math.min(concurrency, n)
      const children = Array.from(
        { length: workers },
        (_, k) => ChildSpec.make(`worker-${k}`, Effect.suspend(worker), { restart: "permanent", shutdown: "brutal" })
      )
      // A fixed name: it labels the supervisor metrics, which must not get one series per batch.
      const supervisor = yield* Supervisor.make({
        name: "dspex-executor",
        strategy: "oneForOne",
        ...intensity(workers),
        children
      }).pipe(
        Effect.orDie
      )
      yield* Effect.forkScoped(
        Effect.catch(supervisor.join, (escalation) =>
          Effect.sync(() => {
            const cause = Cause.die(escalation)
            for (let i = 0; i < n; i++) report(i, Exit.failCause(cause))
          }))
      )
      return Stream.fromQueue(results)
    })
  )
}

/**
 * An executor that runs tasks on supervised worker fibers of this process, at most `defaultConcurrency` at
 * a time unless a batch asks for another bound.
 *
 * @example
 * ```ts
 * import { Executor } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const tasks = [1, 2, 3].map((n) => ({ descriptor: { id: `square-${n}`, kind: "square" }, effect: Effect.succeed(n * n) }))
 * const program = Executor.runAll(tasks).pipe(Effect.provideService(Executor.Executor, Executor.makeLocal(4)))
 * ```
 */
export const makeLocal = (defaultConcurrency = 8): ExecutorShape => {
  const fallback = positive(defaultConcurrency, 8)
  return {
    name: "local",
    defaultConcurrency: fallback,
    runBatch: <A, E, R>(tasks: ReadonlyArray<Task<A, E, R>>, options: BatchOptions = {}) =>
      supervisedBatch(tasks, positive(options.concurrency, fallback))
  }
}

export interface LocalOptions {
  /** The default concurrency of a batch; read from `DSPEX_NUM_THREADS` (8 when unset) when left out. */
  readonly concurrency?: number | undefined
}

const layerLocalFromConfig: Layer.Layer<Executor, LMConfigurationError> = Layer.effect(
  Executor,
  Effect.map(
    optionalNumber("DSPEX_NUM_THREADS", {
      integer: true,
      min: 1,
      expected: "a whole number of threads of at least 1, e.g. 8"
    }),
    (threads) => makeLocal(threads ?? 8)
  )
)

/**
 * The local executor. Its default concurrency is `options.concurrency`, or else read from
 * `DSPEX_NUM_THREADS` (8 when unset, DSPy's `num_threads` default).
 *
 * @example
 * ```ts
 * import { Evaluate, Example, Executor, Metrics, Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer")
 * const devset = [Example.make({ question: "What is the capital of France?", answer: "Paris" }).withInputs("question")]
 * const evaluation = Evaluate.run({ program, devset, metric: Metrics.answerExactMatch })
 *
 * evaluation.pipe(Effect.provide(Executor.layerLocal())) // DSPEX_NUM_THREADS examples at once (8 when unset)
 * evaluation.pipe(Effect.provide(Executor.layerLocal({ concurrency: 4 })))
 * ```
 */
export function layerLocal(options: LocalOptions & { readonly concurrency: number }): Layer.Layer<Executor>
export function layerLocal(options?: LocalOptions): Layer.Layer<Executor, LMConfigurationError>
export function layerLocal(options?: LocalOptions): Layer.Layer<Executor, LMConfigurationError> {
  return options?.concurrency === undefined
    ? layerLocalFromConfig
    : Layer.succeed(Executor, makeLocal(options.concurrency))
}

/**
 * Runs a batch through the current Executor; results in completion order.
 *
 * @example
 * ```ts
 * import { Executor } from "@dspex/core"
 * import { Console, Effect, Stream } from "effect"
 *
 * const tasks = [300, 100, 200].map((ms, i) => ({ descriptor: { id: `sleep-${i}`, kind: "sleep" }, effect: Effect.sleep(ms) }))
 * const program = Executor.runBatch(tasks, { concurrency: 4 }).pipe(
 *   Stream.runForEach((r) => Console.log(r.index)), // 1, 2, 0: in completion order
 *   Effect.provide(Executor.layerLocal({ concurrency: 4 }))
 * )
 * ```
 */
export const runBatch = <A, E, R>(
  tasks: ReadonlyArray<Task<A, E, R>>,
  options?: BatchOptions
): Stream.Stream<TaskResult<A, E>, never, R | Executor> =>
  Stream.unwrap(Executor.useSync((executor) => executor.runBatch(tasks, options)))

/**
 * Runs a batch through the current Executor and returns every result in input order.
 *
 * @example
 * ```ts
 * import { Executor } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const tasks = [1, 2, 3].map((n) => ({ descriptor: { id: `square-${n}`, kind: "square" }, effect: Effect.succeed(n * n) }))
 * const program = Effect.gen(function*() {
 *   const results = yield* Executor.runAll(tasks) // in input order, one Exit each
 *   return results.map((r) => r.exit) // [Exit.succeed(1), Exit.succeed(4), Exit.succeed(9)]
 * }).pipe(Effect.provide(Executor.layerLocal({ concurrency: 2 })))
 * ```
 */
export const runAll = <A, E, R>(
  tasks: ReadonlyArray<Task<A, E, R>>,
  options?: BatchOptions
): Effect.Effect<Array<TaskResult<A, E>>, never, R | Executor> =>
  Effect.map(Stream.runCollect(runBatch(tasks, options)), (results) => {
    const ordered = new Array<TaskResult<A, E>>(tasks.length)
    for (const r of results) ordered[r.index] = r
    return ordered
  })
