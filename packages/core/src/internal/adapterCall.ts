/**
 * What every adapter does around its own layout and parser: callback events and spans for format and
 * parse, one LM round trip, and the parse of every completion (n > 1 gives several). Adapters differ
 * only in the parts they plug in and in their fallbacks.
 */
import { Cause, Effect } from "effect"
import type { AdapterCall, AdapterResult, Demo } from "../Adapter.ts"
import { emit, nextCallId } from "../Callbacks.ts"
import { AdapterParseError } from "../Errors.ts"
import { LanguageModel, type LMRequest, type ResponseFormat } from "../LanguageModel.ts"
import type { LMError } from "../LMError.ts"
import type { Message } from "../Message.ts"
import type { Field, Signature } from "../Signature.ts"
import { perSignature } from "./adapterFormat.ts"
import { allowsNone } from "./parseValue.ts"

/** The signature's label in spans and errors (its class name, else its string form). */
export const signatureLabel = perSignature((sig): string => sig.name ?? sig.toString())

/** Output fields by name. */
export const outputIndex = perSignature((sig): ReadonlyMap<string, Field> => new Map(sig.outputs.map((f) => [f.name, f])))

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
    `Missing output field${missing.length > 1 ? "s" : ""} [${missing.join(", ")}]: expected [${sig.outputNames.join(", ")}], parsed [${[...found.keys()].join(", ")}]`,
    { field: missing.join(", "), parsed: out }
  )
}

// Capturing a stack trace per span costs more than the parse itself; these spans are named precisely enough.
const noStack = { captureStackTrace: false } as const

/** `parse` as the Adapter interface exposes it: an Effect with a span and AdapterParse events. */
export const tracedParse = (adapter: string, core: ParseCore) =>
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
      Effect.withSpan(`${adapter}.parse`, { attributes: { adapter, signature: signatureLabel(sig) } }, noStack)
    )
  })

type Format = (sig: Signature, demos: ReadonlyArray<Demo>, inputs: Readonly<Record<string, unknown>>) => ReadonlyArray<Message>

/** `format` inside `call`: the same rendering, with a span and AdapterFormat events. */
export const tracedFormat = (adapter: string, format: Format) =>
(sig: Signature, demos: ReadonlyArray<Demo>, inputs: Readonly<Record<string, unknown>>): Effect.Effect<ReadonlyArray<Message>> =>
  Effect.suspend(() => {
    const callId = nextCallId()
    return emit({ _tag: "AdapterFormatStart", callId, adapter, inputs }).pipe(
      Effect.andThen(Effect.sync(() => format(sig, demos, inputs))),
      Effect.tap((messages) => emit({ _tag: "AdapterFormatEnd", callId, adapter, messages })),
      Effect.tapCause((cause) => emit({ _tag: "AdapterFormatEnd", callId, adapter, error: Cause.squash(cause) })),
      Effect.withSpan(`${adapter}.format`, { attributes: { adapter, signature: signatureLabel(sig), demos: demos.length } }, noStack)
    )
  })

export interface Pipeline {
  readonly name: string
  readonly format: Format
  readonly parse: (sig: Signature, completion: string) => Effect.Effect<Record<string, unknown>, AdapterParseError>
}

/** Format, one LM call (with `responseFormat` when given), and the parse of every completion. */
export const roundTrip = (
  pipeline: Pipeline,
  call: AdapterCall,
  responseFormat?: ResponseFormat
): Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel> => {
  const format = tracedFormat(pipeline.name, pipeline.format)
  return Effect.gen(function*() {
    const model = yield* LanguageModel
    const messages = yield* format(call.signature, call.demos, call.inputs)
    const request: LMRequest = { ...call.config, messages, ...(responseFormat === undefined ? {} : { responseFormat }) }
    const response = yield* model.generate(call.lm, request)
    if (response.outputs.length === 0) {
      return yield* parseError(pipeline.name, call.signature, "", "The LM returned no completions.")
    }
    const outputs: Array<Record<string, unknown>> = []
    for (const output of response.outputs) {
      if (output.text === "") return yield* parseError(pipeline.name, call.signature, "", EMPTY_RESPONSE)
      outputs.push(yield* pipeline.parse(call.signature, output.text))
    }
    return { outputs, response, adapter: pipeline.name }
  })
}

/** The span around a whole adapter call (fallbacks included); no stack capture on the hot path. */
export const callSpan = (adapter: string, call: AdapterCall) =>
  Effect.withSpan(`${adapter}.call`, {
    attributes: { adapter, signature: signatureLabel(call.signature), n: call.config?.n ?? call.lm.n ?? 1 }
  }, noStack)
