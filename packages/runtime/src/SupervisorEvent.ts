/**
 * What a supervisor reports about itself: the events it publishes while it runs, and the snapshot of its tree.
 */
import type { Cause } from "effect"
import type { ExitReason, SupervisorEscalation } from "./ActorError.ts"
import type { RestartType } from "./ChildSpec.ts"

export type Strategy = "oneForOne" | "oneForAll" | "restForOne"

export type SupervisorEvent =
  | { readonly _tag: "ChildStarted"; readonly supervisor: string; readonly child: string; readonly incarnation: number }
  | { readonly _tag: "ChildExited"; readonly supervisor: string; readonly child: string; readonly reason: ExitReason }
  | { readonly _tag: "ChildRestarted"; readonly supervisor: string; readonly child: string; readonly restarts: number }
  | { readonly _tag: "Escalated"; readonly supervisor: string; readonly child: string; readonly error: SupervisorEscalation }
  | { readonly _tag: "SupervisorStopped"; readonly supervisor: string }

/** Counters an actor child exposes in its supervisor's snapshot. */
export interface ActorStats {
  readonly name: string
  readonly mailboxSize: number
  readonly capacity: number
  readonly overflow: "backpressure" | "drop" | "fail"
  /** Messages dropped because the mailbox was full (overflow "drop"). */
  readonly dropped: number
  /** Messages handled by all incarnations. */
  readonly processed: number
  /** Messages rejected by the protocol Schema. */
  readonly rejected: number
  readonly status: "running" | "restarting" | "stopped"
  readonly incarnation: number
}

export type ChildStatus = "starting" | "running" | "restarting" | "stopped"

export interface ChildSnapshot {
  readonly id: string
  readonly status: ChildStatus
  readonly restart: RestartType
  /** How many times this child was restarted by its supervisor. */
  readonly restarts: number
  readonly lastExit?: ExitReason | undefined
  readonly lastCause?: Cause.Cause<unknown> | undefined
  /** Present when the child is itself a supervisor. */
  readonly supervisor?: SupervisorSnapshot | undefined
  /** Present when the child is an actor. */
  readonly actor?: ActorStats | undefined
}

export interface SupervisorSnapshot {
  readonly name: string
  readonly strategy: Strategy
  readonly status: "running" | "stopped" | "escalated"
  /** Restarts performed by this supervisor (all children). */
  readonly restarts: number
  readonly children: ReadonlyArray<ChildSnapshot>
}
