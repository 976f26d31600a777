/**
 * The protocols the tests, node scripts and benchmark share: a counter (state that survives a NATS
 * outage only if the actor is not restarted) and an echo.
 */
import { Protocol } from "@dspex/runtime"
import { Schema } from "effect"

export class Overdrawn
  extends Schema.TaggedError<Overdrawn>()("Overdrawn", { balance: Schema.Number, requested: Schema.Number })
{}

export const Counter = Protocol.make({
  Add: { payload: Schema.Struct({ n: Schema.Number }) },
  Get: { success: Schema.Number },
  /** Fails with the typed `Overdrawn` when n is larger than the count. */
  Take: { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number, error: Overdrawn },
  /** Replies after `ms` (for timeouts). */
  Sleep: { payload: Schema.Struct({ ms: Schema.Number }), success: Schema.String },
  /** Which process answers (to tell incarnations and nodes apart). */
  Whoami: { success: Schema.Struct({ pid: Schema.Number, node: Schema.String, startedAt: Schema.Number }) },
  /** Makes the handler crash (a defect). */
  Crash: {}
})
export type Counter = typeof Counter

export const Echo = Protocol.make({
  Echo: { payload: Schema.Struct({ text: Schema.String }), success: Schema.String }
})
export type Echo = typeof Echo
