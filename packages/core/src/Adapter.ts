/**
 * Adapters turn a signature + demos + inputs into provider messages and parse replies back into typed
 * outputs. `format` and `parse` are pure so `dspex prompt` and tests can show exactly what is sent;
 * `call` runs one LM round trip with the adapter's request options and fallbacks.
 */
import { Context, type Effect } from "effect"
import type { AdapterParseError } from "./Errors.ts"
import type { LanguageModel, LMRequest, LMResponse } from "./LanguageModel.ts"
import type { LM } from "./LM.ts"
import type { LMError } from "./LMError.ts"
import type { Message } from "./Message.ts"
import type { Signature } from "./Signature.ts"

export type Demo = Readonly<Record<string, unknown>>

export interface AdapterCall {
  readonly lm: LM
  readonly signature: Signature
  readonly demos: ReadonlyArray<Demo>
  readonly inputs: Readonly<Record<string, unknown>>
  /** Per-call overrides of the LM's settings (n, temperature, rollout id, cache). */
  readonly config?: Partial<Omit<LMRequest, "messages">> | undefined
}

export interface AdapterResult {
  /** One parsed output record per completion (n > 1 gives several). */
  readonly outputs: ReadonlyArray<Record<string, unknown>>
  readonly response: LMResponse
  /** The adapter whose parse succeeded (ChatAdapter may fall back to JSONAdapter). */
  readonly adapter: string
}

export interface Adapter {
  readonly name: string
  readonly format: (
    signature: Signature,
    demos: ReadonlyArray<Demo>,
    inputs: Readonly<Record<string, unknown>>
  ) => ReadonlyArray<Message>
  readonly parse: (
    signature: Signature,
    completion: string
  ) => Effect.Effect<Record<string, unknown>, AdapterParseError>
  readonly call: (call: AdapterCall) => Effect.Effect<AdapterResult, AdapterParseError | LMError, LanguageModel>
}

/** The adapter predictors use when they have none of their own (DSPy's `settings.adapter`); ChatAdapter when unset. */
export const CurrentAdapter = Context.Reference<Adapter | undefined>("@dspex/core/CurrentAdapter", {
  defaultValue: () => undefined
})
