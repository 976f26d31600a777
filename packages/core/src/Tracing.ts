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

/** True when spans made by this fiber reach a tracing backend. */
export const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer && fiber.getRef(References.TracerEnabled)

const noStack = { captureStackTrace: false } as const

/**
 * `effect` inside a span named `name` when tracing (attributes are built only then), else `effect`.
 *
 * @example
 * Tracing.withSpan(call, "retriever.search", () => ({ "dspex.k": k }))
 */
export const withSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: () => Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTracing(fiber) ? Effect.withSpan(effect, name, { attributes: attributes(), captureStackTrace: false }) : effect
  )

/**
 * Like `Effect.useSpan` when tracing; otherwise `f(undefined)` with no span. `f` may set attributes
 * on the span it gets (for example usage known only at the end).
 *
 * @example
 * Tracing.useSpan("LanguageModel.generate", () => ({ "gen_ai.request.model": model }), (span) => call(span))
 */
export const useSpan = <A, E, R>(
  name: string,
  attributes: () => Record<string, unknown>,
  f: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTracing(fiber)
      ? Effect.useSpan(name, { attributes: attributes() }, (span) => Effect.withParentSpan(f(span), span, noStack))
      : f(undefined)
  )
