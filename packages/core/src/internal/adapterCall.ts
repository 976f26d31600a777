/**
 * What every adapter does around its own layout and parser: callback events and spans for format and
 * parse, one LM round trip, and the parse of every completion (n > 1 gives several). Adapters differ
 * only in the parts they plug in and in their fallbacks.
 */
import { Context, Effect, type Fiber } from "effect"
import type { AdapterCall, AdapterResult, Demo } from "../Adapter.ts"
import { type Callback, CurrentCallbacks, emit, fire, nextCallId } from "../Callbacks.ts"
import { AdapterParseError } from "../Errors.ts"
import { LanguageModel, type LMRequest, type ResponseFormat } from "../LanguageModel.ts"
import type { LMError } from "../LMError.ts"
import type { Message } from "../Message.ts"
import type { Field, Signature } from "../Signature.ts"
import * as Tracing from "../Tracing.ts"
import { perSignature } from "./adapterFormat.ts"
import { allowsNone } from "./parseValue.ts"

/** The signature's label in spans and errors (its class name, else its string form). */
export const signatureLabel = perSignature((sig): string => sig.name ?? sig.toString())

/** Output fields by name. */
export const outputIndex = perSignature((sig): ReadonlyMap<string, Field> =>
  new Map(sig.outputs.map((f) => [f.name, f]))
)

/** A synchronous parser: the outputs, or the error (returned, not thrown, to keep the hot path cheap). */
export type ParseCore = (sig: Signature, completion: string) => Record<string, unknown> | AdapterParseError

export const parseError = (
  adapter: string,
  sig: Signature,
  completion: string,
  reason: string,
  extra: { readonly field?: string | undefined; readonly parsed?: Record<string, unknown> | undefined } = {}
): AdapterParseError =>
  new AdapterParseError({
    adapter,
    signature: signatureLabel(sig),
    completion,
    reason,
    ...(extra.field === undefined ? {} : { field: extra.field }),
    ...(extra.parsed === undefined ? {} : { parsed: extra.parsed })
  })

export const EMPTY_RESPONSE = "The LM returned an empty or null response."

/**
 * DSPy's `apply_output_field_defaults` plus the key check: outputs in signature order, missing
 * None-able ones as null; any other missing output is an error naming it.
 */
export const completeOutputs = (
  adapter: string,
  sig: Signature,
  completion: string,
  found: ReadonlyMap<string, unknown>
): Record<string, unknown> | AdapterParseError => {
  const out: Record<string, unknown> = {}
  let missing: Array<string> | undefined
  for (const f of sig.outputs) {
    if (found.has(f.name)) out[f.name] = found.get(f.name)
    else if (allowsNone(f.type)) out[f.name] = null
    else (missing ??= []).push(f.name)
  }
  if (missing === undefined) return out
  return parseError(
    adapter,
    sig,
    completion,
    `Missing output field${missing.length > 1 ? "s" : ""} [${missing.join(", ")}]: expected [${
      sig.outputNames.join(", ")
    }], parsed [${[...found.keys()].join(", ")}]`,
    { field: missing.join(", "), parsed: out }
  )
}

/** `parse` as the Adapter interface exposes it: an Effect with a span and AdapterParse events. */
export const tracedParse =
  (adapter: string, core: ParseCore) =>
  (sig: Signature, completion: string): Effect.Effect<Record<string, unknown>, AdapterParseError> =>
    Effect.suspend(() => {
      const callId = nextCallId()
      return emit({ _tag: "AdapterParseStart", callId, adapter, completion }).pipe(
        Effect.andThen(Effect.suspend(() => {
          const result = core(sig, completion)
          return result instanceof AdapterParseError ? Effect.fail(result) : Effect.succeed(result)
        })),
        Effect.tap((outputs) => emit({ _tag: "AdapterParseEnd", callId, adapter, outputs })),
        Effect.tapError((error) => emit({ _tag: "AdapterParseEnd", callId, adapter, error })),
        (effect) => Tracing.withSpan(effect, `${adapter}.parse`, () => ({ adapter, signature: signatureLabel(sig) }))
      )
    })

type Format = (
  sig: Signature,
  demos: ReadonlyArray<Demo>,
  inputs: Readonly<Record<string, unknown>>
) => ReadonlyArray<Message>

/** A throw from a layout (a bug, never bad input): carried out of the synchronous part as a value. */
class FormatDefect {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

const formatWithEvents = (
  callbacks: ReadonlyArray<Callback>,
  adapter: string,
  format: Format,
  sig: Signature,
  demos: ReadonlyArray<Demo>,
  inputs: Readonly<Record<string, unknown>>
): ReadonlyArray<Message> | FormatDefect => {
  if (callbacks.length === 0) {
    try {
      return format(sig, demos, inputs)
    } catch (e) {
      return new FormatDefect(e)
    }
  }
  const callId = nextCallId()
  fire(callbacks, { _tag: "AdapterFormatStart", callId, adapter, inputs })
  try {
    const messages = format(sig, demos, inputs)
    fire(callbacks, { _tag: "AdapterFormatEnd", callId, adapter, messages })
    return messages
  } catch (e) {
    fire(callbacks, { _tag: "AdapterFormatEnd", callId, adapter, error: e })
    return new FormatDefect(e)
  }
}

const parseWithEvents = (
  callbacks: ReadonlyArray<Callback>,
  adapter: string,
  core: ParseCore,
  sig: Signature,
  completion: string
): Record<string, unknown> | AdapterParseError => {
  if (callbacks.length === 0) return core(sig, completion)
  const callId = nextCallId()
  fire(callbacks, { _tag: "AdapterParseStart", callId, adapter, completion })
  const result = core(sig, completion)
  fire(
    callbacks,
    result instanceof AdapterParseError
      ? { _tag: "AdapterParseEnd", callId, adapter, error: result }
      : { _tag: "AdapterParseEnd", callId, adapter, outputs: result }
  )
  return result
}

export interface Pipeline {
  readonly name: string
  readonly format: Format
  /** The synchronous parser (the Adapter's Effect `parse` is `tracedParse` over it). */
  readonly parse: ParseCore
}

/**
 * Format, one LM call (with `responseFormat` when given), and the parse of every completion.
 *
 * Format and parse are synchronous string work of a few microseconds; they run inside the one fiber
 * step that reads the callbacks, with their callback events but without spans of their own (the
 * adapter's `call` span covers them). Every Effect step here is paid on every LM call: see
 * bench/predict-cpu.ts.
 */
export const roundTrip = (
  pipeline: Pipeline,
  call: AdapterCall,
  responseFormat?: ResponseFormat
): Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel> =>
  Effect.withFiber((fiber) => roundTripIn(fiber, pipeline, call, responseFormat))

/** `roundTrip`'s work in a fiber step the caller already holds (it formats right away). */
const roundTripIn = (
  fiber: Fiber.Fiber<unknown, unknown>,
  pipeline: Pipeline,
  call: AdapterCall,
  responseFormat: ResponseFormat | undefined
): Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel> => {
  const callbacks = fiber.getRef(CurrentCallbacks)
  const model = Context.getUnsafe(fiber.context as Context.Context<LanguageModel>, LanguageModel)
  const messages = formatWithEvents(callbacks, pipeline.name, pipeline.format, call.signature, call.demos, call.inputs)
  if (messages instanceof FormatDefect) return Effect.die(messages.cause)
  const request: LMRequest = responseFormat === undefined
    ? { ...call.config, messages }
    : { ...call.config, messages, responseFormat }
  return Effect.flatMap(model.generate(call.lm, request), (response) => {
    if (response.outputs.length === 0) {
      return Effect.fail(parseError(pipeline.name, call.signature, "", "The LM returned no completions."))
    }
    const outputs: Array<Record<string, unknown>> = []
    for (const output of response.outputs) {
      if (output.text === "") return Effect.fail(parseError(pipeline.name, call.signature, "", EMPTY_RESPONSE))
      const parsed = parseWithEvents(callbacks, pipeline.name, pipeline.parse, call.signature, output.text)
      if (parsed instanceof AdapterParseError) return Effect.fail(parsed)
      outputs.push(parsed)
    }
    return Effect.succeed<AdapterResult>({ outputs, response, adapter: pipeline.name })
  })
}

/**
 * A whole adapter call: one round trip, then `fallback` once when the reply does not parse (LM errors,
 * context-window overflows included, are never retried with another format), inside the adapter's
 * `call` span when tracing.
 */
export const callWithFallback = (
  pipeline: Pipeline,
  call: AdapterCall,
  fallback:
    | ((call: AdapterCall) => Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel>)
    | undefined
): Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel> =>
  Effect.withFiber((fiber) => {
    const tracing = Tracing.isTracing(fiber)
    // Traced, the round trip starts inside the span; untraced, it starts in this very step.
    const first = tracing ? roundTrip(pipeline, call) : roundTripIn(fiber, pipeline, call, undefined)
    const withFallback = fallback === undefined
      ? first
      : Effect.catchTag(first, "AdapterParseError", () => fallback(call))
    return tracing
      ? Effect.withSpan(withFallback, `${pipeline.name}.call`, {
        attributes: callAttributes(pipeline.name, call),
        captureStackTrace: false
      })
      : withFallback
  })

/** The span around a whole adapter call (fallbacks included), when tracing. */
export const callSpan =
  (adapter: string, call: AdapterCall) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Tracing.withSpan(effect, `${adapter}.call`, () => callAttributes(adapter, call))

/** The attributes of an adapter's `call` span. */
const callAttributes = (adapter: string, call: AdapterCall): Record<string, unknown> => ({
  adapter,
  signature: signatureLabel(call.signature),
  n: call.config?.n ?? call.lm.n ?? 1
})
