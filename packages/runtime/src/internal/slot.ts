/**
 * The per-incarnation slot a supervisor hands to each child through the fiber context, so that a supervisor
 * created inside a child (a nested supervisor) can make itself visible in its parent's snapshot.
 */
import { Context } from "effect"
import type { SupervisorSnapshot } from "../SupervisorEvent.ts"

export interface ChildSlot {
  nested: { readonly snapshotUnsafe: () => SupervisorSnapshot } | undefined
}

export const CurrentChildSlot = Context.Reference<ChildSlot | undefined>("@dspex/runtime/ChildSlot", {
  defaultValue: () => undefined
})
