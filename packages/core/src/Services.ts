/**
 * The core services as one supervision tree: `LanguageModel` and `Executor` are built as children of a root
 * Supervisor (`@dspex/runtime`), each by its own Layer in its own scope. A child that crashes is restarted (its
 * layer built again) without touching the other; the tree's snapshot and events are the `CoreSupervisor`.
 *
 * The services the layer provides forward every call to the child's current incarnation, so a restart is
 * picked up by everyone holding the service. While a child restarts, calls still reach the incarnation that
 * just ended (its resources may be released): restarts are for recovering, not for steady traffic.
 */
import { type ActorError, ChildSpec, Supervisor, type SupervisorEvent } from "@dspex/runtime"
import { Context, type Duration, Effect, Layer, type Stream } from "effect"
import * as Executor from "./Executor.ts"
import { LanguageModel, type LanguageModelShape } from "./LanguageModel.ts"

export interface CoreSupervisorShape {
  /** The root supervisor: its children are "languageModel" and "executor". */
  readonly supervisor: Supervisor.Supervisor
  /** The tree with each child's status, restarts and last exit. */
  readonly snapshot: Effect.Effect<SupervisorEvent.SupervisorSnapshot>
  /** Supervisor events (starts, exits, restarts) from the moment the stream is run. */
  readonly events: Stream.Stream<SupervisorEvent.SupervisorEvent>
}

/** The root supervisor of the core services started by `layerSupervised`. */
export class CoreSupervisor
  extends Context.Service<CoreSupervisor, CoreSupervisorShape>()("@dspex/core/CoreSupervisor")
{}

export interface SupervisedOptions<E1, R1, E2, R2> {
  /** The LanguageModel layer, already provided with its Providers and Cache (or leave those to R1). */
  readonly languageModel: Layer.Layer<LanguageModel, E1, R1>
  /** The Executor layer; `Executor.layerLocal()` (DSPEX_NUM_THREADS) when unset. */
  readonly executor?: Layer.Layer<Executor.Executor, E2, R2> | undefined
  /** Default "dspex-core". */
  readonly name?: string | undefined
  /** Restart intensity: default 3 restarts within 5 seconds, then the tree gives up. */
  readonly maxRestarts?: number | undefined
  readonly within?: Duration.Input | undefined
}

/** A child that builds `layer` and keeps its service in `cell` until the incarnation ends. */
const serviceChild = <I, S, E, R>(
  id: string,
  layer: Layer.Layer<I, E, R>,
  key: Context.Key<I, S>,
  cell: { current: S | undefined }
) =>
  ChildSpec.withInit(
    id,
    Effect.map(Layer.build(layer), (context) => {
      cell.current = Context.get(context, key)
    }),
    () => Effect.never,
    { restart: "permanent" }
  )

/** A service whose members forward to whatever `get` returns now (the child's current incarnation). */
const forwarding = <S extends object>(sample: S, get: () => S): S => {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(sample)) {
    if (typeof (sample as Record<string, unknown>)[key] === "function") {
      out[key] = (...args: Array<unknown>) =>
        ((get() as Record<string, unknown>)[key] as (...a: Array<unknown>) => unknown)(...args)
    } else {
      Object.defineProperty(out, key, { enumerable: true, get: () => (get() as Record<string, unknown>)[key] })
    }
  }
  return out as S
}

/**
 * Starts `LanguageModel` and `Executor` as children of one root supervisor and provides them, plus the
 * `CoreSupervisor`. Closing the layer's scope stops the tree (executor first, then the language model).
 * A child whose layer cannot be built fails the layer at once with `ChildStartFailed` (its `cause` carries the
 * layer's error), after stopping what was already built; later rebuilds count toward the restart intensity.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, Providers, Services } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * // LanguageModel, Executor (Executor.layerLocal() unless given) and CoreSupervisor
 * const CoreLive = Services.layerSupervised({
 *   languageModel: LanguageModel.layer().pipe(Layer.provide([Providers.layer(OpenAi.provider()), Cache.layerMemory()]))
 * })
 * const snapshot = Effect.flatMap(Services.CoreSupervisor, (core) => core.snapshot).pipe(Effect.provide(CoreLive))
 * ```
 */
export const layerSupervised = <E1 = never, R1 = never, E2 = never, R2 = never>(
  options: SupervisedOptions<E1, R1, E2, R2>
): Layer.Layer<LanguageModel | Executor.Executor | CoreSupervisor, ActorError.ChildStartFailed, R1 | R2> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const lm: { current: LanguageModelShape | undefined } = { current: undefined }
      const executor: { current: Executor.ExecutorShape | undefined } = { current: undefined }
      const executorLayer = (options.executor ?? Executor.layerLocal()) as Layer.Layer<Executor.Executor, unknown, R2>
      const supervisor = yield* Supervisor.make<R1 | R2>({
        name: options.name ?? "dspex-core",
        strategy: "oneForOne",
        maxRestarts: options.maxRestarts ?? 3,
        within: options.within ?? "5 seconds",
        children: [
          serviceChild("languageModel", options.languageModel, LanguageModel, lm),
          serviceChild("executor", executorLayer, Executor.Executor, executor)
        ]
      })
      // make returns once every child has started, so both cells are filled.
      const core: CoreSupervisorShape = { supervisor, snapshot: supervisor.snapshot, events: supervisor.events }
      return Context.make(CoreSupervisor, core).pipe(
        Context.add(LanguageModel, forwarding(lm.current!, () => lm.current!)),
        Context.add(Executor.Executor, forwarding(executor.current!, () => executor.current!))
      )
    })
  )

/**
 * The snapshot of one core service's child ("languageModel" or "executor").
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, Providers, Services } from "@dspex/core"
 * import { OpenAi } from "@dspex/providers"
 * import { Effect, Layer } from "effect"
 *
 * const CoreLive = Services.layerSupervised({
 *   languageModel: LanguageModel.layer().pipe(Layer.provide([Providers.layer(OpenAi.provider()), Cache.layerMemory()]))
 * })
 * const program = Effect.gen(function*() {
 *   const lm = yield* Services.child("languageModel") // { id: "languageModel", status: "running", restarts: 0, ... }
 * }).pipe(Effect.provide(CoreLive))
 * ```
 */
export const child = (
  id: "languageModel" | "executor"
): Effect.Effect<SupervisorEvent.ChildSnapshot | undefined, never, CoreSupervisor> =>
  CoreSupervisor.use((core) => Effect.map(core.snapshot, (s) => s.children.find((c) => c.id === id)))
