/**
 * Where a compile run keeps what it has paid for: each evaluated (candidate, example) pair, each
 * bootstrap attempt and each instruction proposal, under a key that names the run and the step. A run
 * that stops (a kill included) and is started again with the same arguments replays its steps from the
 * store and redoes none of them: every optimizer is deterministic given those results and its seed.
 *
 * The embedded default is one SQLite file (`layerSqlite`); a cluster can provide another `Store`.
 */
import { SqliteStore } from "@dspex/core"
import { Context, Effect, Layer } from "effect"
import { CheckpointError } from "./Errors.ts"

export interface Store {
  /** A description for errors and logs (a file path, "memory", "none"). */
  readonly name: string
  readonly get: (key: string) => Effect.Effect<unknown | undefined, CheckpointError>
  readonly put: (key: string, value: unknown) => Effect.Effect<void, CheckpointError>
}

/** A store that keeps nothing: every run starts from scratch (the default). */
export const none: Store = { name: "none", get: () => Effect.undefined, put: () => Effect.void }

/** The checkpoint store compile runs use; `none` unless a layer provides one. */
export const Checkpoint = Context.Reference<Store>("@dspex/optimizers/Checkpoint", { defaultValue: () => none })

/**
 * A store in this process's memory: a second compile in the same process resumes from the first.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@dspex/optimizers"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = Checkpoint.memory()
 *   yield* store.put("run/step", { score: 1 })
 *   return yield* store.get("run/step") // { score: 1 }
 * })
 * ```
 */
export const memory = (): Store => {
  const entries = new Map<string, string>()
  return {
    name: "memory",
    get: (key) => Effect.sync(() => decode(entries.get(key))),
    put: (key, value) => Effect.sync(() => void entries.set(key, JSON.stringify(value)))
  }
}

const decode = (json: string | undefined): unknown => json === undefined ? undefined : JSON.parse(json)

const failure = (path: string, e: unknown) =>
  new CheckpointError({
    path,
    reason: e instanceof Error ? e.message : String(e)
  })

/**
 * Opens the SQLite store at `path` (created when absent) for the scope's lifetime.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@dspex/optimizers"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* Checkpoint.sqlite("/tmp/dspex-compile.sqlite")
 *   yield* store.put("run/step", { score: 1 })
 * }))
 * ```
 */
export const sqlite = (path: string) =>
  Effect.acquireRelease(
    Effect.try({ try: () => SqliteStore.open(path, "checkpoints"), catch: (e) => failure(path, e) }),
    (db) => Effect.sync(() => db.close())
  ).pipe(Effect.map((db): Store => ({
    name: path,
    get: (key) => Effect.try({ try: () => decode(db.get(key)), catch: (e) => failure(path, e) }),
    put: (key, value) => Effect.try({ try: () => db.set(key, JSON.stringify(value)), catch: (e) => failure(path, e) })
  })))

/**
 * Compile runs keep their steps in the SQLite file at `path`.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@dspex/optimizers"
 *
 * const layer = Checkpoint.layerSqlite(".dspex/compile.sqlite")
 * ```
 */
export const layerSqlite = (path: string): Layer.Layer<never, CheckpointError> => Layer.effect(Checkpoint, sqlite(path))

/** Compile runs keep their steps in memory (resumable within this process). */
export const layerMemory: Layer.Layer<never> = Layer.sync(Checkpoint, memory)

/** Compile runs keep nothing. */
export const layerNone: Layer.Layer<never> = Layer.succeed(Checkpoint, none)
