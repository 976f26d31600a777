/**
 * Caller hooks on module, adapter and LM events (DSPy's callbacks), scoped per fiber so two runs in one
 * process can observe different things. Every event carries a call id pairing its start with its end.
 */
import { Context, Effect } from "effect"

export type CallbackEvent =
  | {
    readonly _tag: "ModuleStart"
    readonly callId: string
    readonly module: string
    readonly path: string
    readonly inputs: Readonly<Record<string, unknown>>
  }
  | {
    readonly _tag: "ModuleEnd"
    readonly callId: string
    readonly module: string
    readonly path: string
    readonly outputs?: unknown
    readonly error?: unknown
  }
  | {
    readonly _tag: "AdapterFormatStart"
    readonly callId: string
    readonly adapter: string
    readonly inputs: Readonly<Record<string, unknown>>
  }
  | {
    readonly _tag: "AdapterFormatEnd"
    readonly callId: string
    readonly adapter: string
    readonly messages?: unknown
    readonly error?: unknown
  }
  | {
    readonly _tag: "AdapterParseStart"
    readonly callId: string
    readonly adapter: string
    readonly completion: string
  }
  | {
    readonly _tag: "AdapterParseEnd"
    readonly callId: string
    readonly adapter: string
    readonly outputs?: unknown
    readonly error?: unknown
  }
  | {
    readonly _tag: "LMStart"
    readonly callId: string
    readonly model: string
    readonly messages: unknown
    readonly kwargs: Readonly<Record<string, unknown>>
  }
  | {
    readonly _tag: "LMEnd"
    readonly callId: string
    readonly model: string
    readonly outputs?: unknown
    readonly cacheHit?: boolean
    readonly error?: unknown
  }

export type Callback = (event: CallbackEvent) => void

/** The callbacks active for the current fiber. */
export const CurrentCallbacks = Context.Reference<ReadonlyArray<Callback>>("@dspex/core/CurrentCallbacks", {
  defaultValue: () => []
})

let counter = 0
/** A process-unique call id (cheap: no randomness on the hot path). */
export const nextCallId = (): string => `c${(++counter).toString(36)}`

/**
 * Fires an event at the given callbacks, now; a throwing callback never breaks the call. For hot paths
 * that already hold the fiber's callbacks (`emit` is the Effect form).
 *
 * @example
 * ```ts
 * import { Callbacks } from "@dspex/core"
 *
 * const log: Callbacks.Callback = (e) => console.log(e._tag, e.callId)
 * Callbacks.fire([log], { _tag: "LMEnd", callId: Callbacks.nextCallId(), model: "openai/gpt-4o-mini", outputs: ["4"] })
 * // logs "LMEnd c1"; a callback that throws is ignored
 * ```
 */
export const fire = (callbacks: ReadonlyArray<Callback>, event: CallbackEvent): void => {
  for (const cb of callbacks) {
    try {
      cb(event)
    } catch {
      // A broken observer must not change the program's result.
    }
  }
}

/** Fires an event at every callback of the current fiber; a throwing callback never breaks the call. */
export const emit = (event: CallbackEvent): Effect.Effect<void> =>
  Effect.flatMap(CurrentCallbacks, (cbs) => (cbs.length === 0 ? Effect.void : Effect.sync(() => fire(cbs, event))))

/**
 * Runs `effect` with extra callbacks.
 *
 * @example
 * ```ts
 * import { Callbacks, Predict } from "@dspex/core"
 *
 * const qa = Predict.make("question -> answer")
 * const program = qa.call({ question: "What is 2 + 2?" }).pipe(
 *   Callbacks.withCallbacks([(e) => console.log(e._tag)]) // ModuleStart, AdapterFormatStart, ..., LMStart, LMEnd, ..., ModuleEnd
 * )
 * ```
 */
export const withCallbacks =
  (callbacks: ReadonlyArray<Callback>) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      CurrentCallbacks,
      (existing) => Effect.provideService(effect, CurrentCallbacks, [...existing, ...callbacks])
    )
