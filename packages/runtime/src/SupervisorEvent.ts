/**
 * What a supervisor reports about itself: the events it publishes while it runs, and the snapshot of its tree.
 */
import type { Cause } from "effect"
import type { ExitReason, SupervisorEscalation } from "./ActorError.ts"
import type { RestartType } from "./ChildSpec.ts"
import type { Strategy } from "./Supervisor.ts"

export type SupervisorEvent =
  | { readonly _tag: "ChildStarted"; readonly supervisor: string; readonly child: string; readonly incarnation: number }
  | { readonly _tag: "ChildExited"; readonly supervisor: string; readonly child: string; readonly reason: ExitReason }
  | { readonly _tag: "ChildRestarted"; readonly supervisor: string; readonly child: string; readonly restarts: number }
  | {
    readonly _tag: "Escalated"
    readonly supervisor: string
    readonly child: string
    readonly error: SupervisorEscalation
  }
  /**
   * An incarnation did not stop within its shutdown (grace period, or at once for "brutal"): the supervisor
   * stopped waiting and went on with its strategy; the incarnation lingers until its stop completes.
   */
  | {
    readonly _tag: "ChildWouldNotStop"
    readonly supervisor: string
    readonly child: string
    readonly incarnation: number
    readonly graceMs: number
  }
  /** A lingering incarnation finally stopped, `afterMs` after it was told to; `reason` is how it ended. */
  | {
    readonly _tag: "ChildReleased"
    readonly supervisor: string
    readonly child: string
    readonly incarnation: number
    readonly afterMs: number
    readonly reason: ExitReason
  }
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

/** An earlier incarnation of a child that did not stop within its shutdown and is still releasing. */
export interface LingeringIncarnation {
  readonly incarnation: number
  /** When the supervisor told it to stop (epoch ms, the supervisor's Clock). */
  readonly since: number
}

export interface ChildSnapshot {
  readonly id: string
  readonly status: ChildStatus
  readonly restart: RestartType
  /** How many times this child was restarted by its supervisor. */
  readonly restarts: number
  readonly lastExit?: ExitReason | undefined
  readonly lastCause?: Cause.Cause<unknown> | undefined
  /** Earlier incarnations still releasing after their shutdown ran out (empty when all stopped on time). */
  readonly lingering: ReadonlyArray<LingeringIncarnation>
  /** Present when the child is itself a supervisor. */
  readonly supervisor?: SupervisorSnapshot | undefined
  /** Present when the child is an actor. */
  readonly actor?: ActorStats | undefined
}

export interface SupervisorSnapshot {
  readonly name: string
  readonly strategy: Strategy
  readonly status: "running" | "stopped" | "escalated"
  /**
   * Restarts this supervisor decided, counted as its intensity counts them: a group restart (oneForAll,
   * restForOne) is one, however many children it restarts. Manual `restartChild` calls are not counted here.
   */
  readonly restarts: number
  /** Incarnations (of all children) told to stop that did not stop within their shutdown, so far. */
  readonly shutdownTimeouts: number
  /** Events dropped because a subscriber fell more than the event buffer behind (it lost the oldest). */
  readonly eventsDropped: number
  readonly children: ReadonlyArray<ChildSnapshot>
}
