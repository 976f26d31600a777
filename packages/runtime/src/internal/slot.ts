/**
 * The per-incarnation slot a supervisor hands to each child through the fiber context, so that a supervisor
 * created inside a child (a nested supervisor) can make itself visible in its parent's snapshot, and so that a new
 * incarnation can wait for a lingering earlier one to release what it holds.
 */
import { Context } from "effect"
import type { Effect } from "effect"
import type { SupervisorSnapshot } from "../SupervisorEvent.ts"

export interface ChildSlot {
  nested: { readonly snapshotUnsafe: () => SupervisorSnapshot } | undefined
  /** Completes when every earlier incarnation of this child has finished stopping (see ChildSpec.awaitPreviousRelease). */
  readonly previousReleased: Effect.Effect<void>
}

export const CurrentChildSlot = Context.Reference<ChildSlot | undefined>("@dspex/runtime/ChildSlot", {
  defaultValue: () => undefined
})
