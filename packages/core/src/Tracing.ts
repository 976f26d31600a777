/**
 * Spans on DSPex's per-call paths (module calls, adapter calls, LM calls, provider requests, executor
 * tasks) are made only when a tracing backend is installed: a `Tracer` other than Effect's in-memory
 * `nativeTracer` (for example the OTLP layer of `effect/observability`) with tracing enabled.
 * Without one nobody can read them, and making them costs more CPU per LM call than the rest of
 * DSPex's own work (bench/predict-cpu.ts). Effect documents comparing against `nativeTracer` for this.
 *
 * Install any tracer and every span appears, with the same names, attributes and nesting.
 */
import { Effect, type Fiber, References, Tracer } from "effect"

/**
 * True when spans made by this fiber reach a tracing backend.
 *
 * @example
 * ```ts
 * import { Tracing } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const work = Effect.sleep("10 millis")
 * const traced = Effect.withFiber((fiber) => Tracing.isTracing(fiber) ? Effect.withSpan(work, "step") : work)
 * ```
 */
export const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer && fiber.getRef(References.TracerEnabled)

/**
 * `effect` inside a span named `name` when tracing (attributes are built only then), else `effect`.
 *
 * @example
 * ```ts
 * import { Tracing } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const search = (query: string, k: number) =>
 *   Tracing.withSpan(Effect.succeed([`a passage about ${query}`]), "retriever.search", () => ({ "dspex.k": k }))
 * ```
 */
export const withSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: () => Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTracing(fiber) ? Effect.withSpan(effect, name, { attributes: attributes(), captureStackTrace: false }) : effect
  )
