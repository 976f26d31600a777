/**
 * The Executor decides where a batch of tasks runs. Evaluate and every optimizer submit their work
 * through it: the local executor runs the tasks' Effects on fibers with bounded concurrency; a cluster
 * executor (NATS) can replace it as a Layer, running the same tasks on workers from their descriptors.
 *
 * A task is data plus a local way to run it: the descriptor says what to compute (kind, program state,
 * example, payload) so a remote executor can ship it; `effect` is how this process computes it. Each
 * task's outcome comes back as its own Exit, so one failure never aborts the batch: the consumer decides
 * when to stop (and stopping, or interrupting the batch, interrupts the tasks still running).
 */
import { Config, Context, Effect, type Exit, Layer, Stream } from "effect"

/** What a task computes, as plain JSON-able data a remote worker can act on. */
export interface TaskDescriptor {
  /** Unique within the batch (and ideally across batches: a remote executor dedupes on it). */
  readonly id: string
  /** What the worker should do, e.g. "evaluate"; the worker looks its handler up by kind. */
  readonly kind: string
  /** The program's saved state (DSPy layout) and its state hash. */
  readonly program?: { readonly hash: string; readonly state: Readonly<Record<string, unknown>> } | undefined
  /** The example's fields and its input keys. */
  readonly example?: { readonly data: Readonly<Record<string, unknown>>; readonly inputKeys?: ReadonlyArray<string> | undefined } | undefined
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
  readonly runBatch: <A, E, R>(tasks: ReadonlyArray<Task<A, E, R>>, options?: BatchOptions) => Stream.Stream<TaskResult<A, E>, never, R>
}

export class Executor extends Context.Service<Executor, ExecutorShape>()("dspex/Executor") {}

const positive = (n: number | undefined, fallback: number): number =>
  n === undefined || !Number.isFinite(n) || n < 1 ? fallback : Math.floor(n)

/**
 * An executor that runs tasks on fibers of this process, at most `defaultConcurrency` at a time unless
 * a batch asks for another bound.
 *
 * @example
 * Effect.provideService(program, Executor, Executor.makeLocal(4))
 */
export const makeLocal = (defaultConcurrency = 8): ExecutorShape => {
  const fallback = positive(defaultConcurrency, 8)
  return {
    name: "local",
    defaultConcurrency: fallback,
    runBatch: <A, E, R>(tasks: ReadonlyArray<Task<A, E, R>>, options: BatchOptions = {}) =>
      Stream.fromIterable(tasks).pipe(
        Stream.mapEffect(
          (task, index) =>
            // Data-first without a stack trace: the curried form captures one per task.
            Effect.withSpan(
              Effect.map(Effect.exit(task.effect), (exit): TaskResult<A, E> => ({ index, id: task.descriptor.id, exit })),
              "Executor.task",
              { attributes: { "dspex.task.id": task.descriptor.id, "dspex.task.kind": task.descriptor.kind }, captureStackTrace: false }
            ),
          { concurrency: positive(options.concurrency, fallback), unordered: true }
        )
      )
  }
}

/**
 * The local executor, its default concurrency read from `DSPEX_NUM_THREADS` (8 when unset, DSPy's
 * `num_threads` default).
 *
 * @example
 * Evaluate.run({ program, devset, metric }).pipe(Effect.provide(Executor.local))
 */
export const local: Layer.Layer<Executor, Config.ConfigError> = Layer.effect(
  Executor,
  Effect.map(Config.Int("DSPEX_NUM_THREADS").pipe(Config.withDefault(8)), makeLocal)
)

/** The local executor with a fixed default concurrency. */
export const localWith = (concurrency: number): Layer.Layer<Executor> => Layer.succeed(Executor, makeLocal(concurrency))

/**
 * Runs a batch through the current Executor; results in completion order.
 *
 * @example
 * Executor.runBatch(tasks, { concurrency: 4 }).pipe(Stream.runForEach((r) => Console.log(r.index)))
 */
export const runBatch = <A, E, R>(tasks: ReadonlyArray<Task<A, E, R>>, options?: BatchOptions): Stream.Stream<TaskResult<A, E>, never, R | Executor> =>
  Stream.unwrap(Executor.useSync((executor) => executor.runBatch(tasks, options)))

/**
 * Runs a batch through the current Executor and returns every result in input order.
 *
 * @example
 * const results = yield* Executor.runAll(tasks)
 * results[0].exit
 */
export const runAll = <A, E, R>(tasks: ReadonlyArray<Task<A, E, R>>, options?: BatchOptions): Effect.Effect<Array<TaskResult<A, E>>, never, R | Executor> =>
  Effect.map(Stream.runCollect(runBatch(tasks, options)), (results) => {
    const ordered = new Array<TaskResult<A, E>>(tasks.length)
    for (const r of results) ordered[r.index] = r
    return ordered
  })
