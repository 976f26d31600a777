/**
 * Typed runtime errors, one class per failure a caller acts on differently, plus `ExitReason`: why an actor or
 * supervised child stopped. Every error says whether retrying can help (`retryable`) and what to do (`suggestion`).
 *
 * `ExitReason` is a Schema so it can cross the wire (runtime-nats): a failure keeps its `Cause` with typed errors
 * and defects encoded as JSON, plus a one-line `message` for logs.
 */
import { Cause, Schema } from "effect"

/** The process returned on its own (a normal exit). */
export const ExitNormal = Schema.TaggedStruct("Normal", {})
/** Stopped from outside: scope closed, supervisor shut it down, `terminateChild`, or interrupted. */
export const ExitShutdown = Schema.TaggedStruct("Shutdown", {})
/** Failed with a typed error or a defect. */
export const ExitFailure = Schema.TaggedStruct("Failure", {
  message: Schema.String,
  cause: Schema.Cause(Schema.Defect(), Schema.Defect())
})
/**
 * A supervisor gave up (its restart intensity was exceeded) and stopped its children. OTP exits such a
 * supervisor with `shutdown`, so a `transient` parent spec does not restart it; a `permanent` one does.
 */
export const ExitEscalated = Schema.TaggedStruct("Escalated", {
  supervisor: Schema.String,
  child: Schema.String,
  message: Schema.String
})
/** The node the actor ran on went down (stopped heartbeating); OTP's `noconnection`. */
export const ExitNodeDown = Schema.TaggedStruct("NodeDown", {
  node: Schema.String,
  nodeName: Schema.String,
  message: Schema.String
})
/** Nobody was there to watch: a monitor on a name no live process serves (OTP's `noproc`). */
export const ExitNoProc = Schema.TaggedStruct("NoProc", {
  actor: Schema.String,
  message: Schema.String
})

/** The exit reasons a link propagates (every one but `Normal`). `Linked` carries its root's kind. */
export const PeerExit = Schema.Literals(["Shutdown", "Failure", "Escalated", "NodeDown", "NoProc"])
export type PeerExit = typeof PeerExit.Type

/**
 * Terminated because a linked actor/fiber exited with anything but a normal exit (OTP `link`). `peerExit`
 * is the kind of the peer's exit: a propagated shutdown (`Shutdown`, `Escalated`) is itself a shutdown, so a
 * `transient` child stopped this way is not restarted, as in OTP.
 */
export const ExitLinked = Schema.TaggedStruct("Linked", {
  peer: Schema.String,
  peerExit: PeerExit,
  message: Schema.String
})

export const ExitReason = Schema.Union([
  ExitNormal,
  ExitShutdown,
  ExitFailure,
  ExitEscalated,
  ExitNodeDown,
  ExitNoProc,
  ExitLinked
])
export type ExitReason = typeof ExitReason.Type

const describeValue = (u: unknown): string => {
  if (u instanceof Error) return u.message === "" ? u.name : `${(u as { _tag?: unknown })._tag ?? u.name}: ${u.message}`
  if (typeof u === "object" && u !== null) {
    const tag = (u as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    try {
      return JSON.stringify(u)
    } catch {
      return String(u)
    }
  }
  return String(u)
}

/** A one-line description of a cause (cheap: it runs on every crash, unlike `Cause.pretty`). */
export const summarize = (cause: Cause.Cause<unknown>): string => {
  for (const r of cause.reasons) {
    if (r._tag === "Fail") return describeValue(r.error)
    if (r._tag === "Die") return `defect: ${describeValue(r.defect)}`
  }
  return "interrupted"
}

const tagOf = (
  u: unknown
): unknown => (typeof u === "object" && u !== null ? (u as { _tag?: unknown })._tag : undefined)

/** The kind of exit a link propagates for `reason` (a chain of links keeps the root's kind). */
const peerExitOf = (
  reason: ExitReason
): PeerExit => (reason._tag === "Linked" ? reason.peerExit : reason._tag === "Normal" ? "Shutdown" : reason._tag)

export const ExitReasons = {
  normal: { _tag: "Normal" } as ExitReason,
  shutdown: { _tag: "Shutdown" } as ExitReason,
  failure: (cause: Cause.Cause<unknown>): ExitReason => ({ _tag: "Failure", message: summarize(cause), cause }),
  linked: (peer: string, reason: ExitReason): ExitReason => ({
    _tag: "Linked",
    peer,
    peerExit: peerExitOf(reason),
    message: describeExit(reason)
  }),
  escalated: (supervisor: string, child: string, message: string): ExitReason => ({
    _tag: "Escalated",
    supervisor,
    child,
    message
  }),
  nodeDown: (node: string, nodeName: string, message: string): ExitReason => ({
    _tag: "NodeDown",
    node,
    nodeName,
    message
  }),
  noProc: (actor: string, message: string): ExitReason => ({ _tag: "NoProc", actor, message }),
  /** Maps a fiber's final `Cause` (or `undefined` for success) to an exit reason. */
  fromCause: (cause: Cause.Cause<unknown> | undefined): ExitReason => {
    if (cause === undefined) return ExitReasons.normal
    if (Cause.hasInterruptsOnly(cause)) return ExitReasons.shutdown
    for (const r of cause.reasons) {
      if (r._tag !== "Fail") continue
      const tag = tagOf(r.error)
      if (tag === "LinkedExit") {
        const e = r.error as { peer: string; reason: ExitReason }
        return ExitReasons.linked(e.peer, e.reason)
      }
      if (tag === "SupervisorEscalation") {
        const e = r.error as {
          supervisor: string
          child: string
          restarts: number
          withinMs: number
          lastCause: Cause.Cause<unknown>
        }
        return ExitReasons.escalated(
          e.supervisor,
          e.child,
          `child ${e.child} needed more than ${e.restarts} restarts within ${e.withinMs} ms; last failure: ${
            summarize(e.lastCause)
          }`
        )
      }
    }
    return ExitReasons.failure(cause)
  },
  /**
   * Whether OTP counts `reason` as a shutdown (`normal`, `shutdown` and a supervisor's escalation, also when it
   * arrives through a link): a `transient` child that exits this way is not restarted.
   */
  isShutdown: (reason: ExitReason): boolean => {
    switch (reason._tag) {
      case "Normal":
      case "Shutdown":
      case "Escalated":
        return true
      case "Linked":
        return reason.peerExit === "Shutdown" || reason.peerExit === "Escalated"
      default:
        return false
    }
  },
  /** Whether a link propagates `reason` (everything but a normal exit, as in OTP). */
  propagates: (reason: ExitReason): boolean => reason._tag !== "Normal"
} as const

export const describeExit = (r: ExitReason): string => {
  switch (r._tag) {
    case "Normal":
      return "exited normally"
    case "Shutdown":
      return "was shut down"
    case "Failure":
      return `failed: ${r.message}`
    case "Escalated":
      return `gave up (supervisor ${r.supervisor}: ${r.message})`
    case "NodeDown":
      return `was lost with its node ${r.nodeName} (${r.message})`
    case "NoProc":
      return `was not running (${r.message})`
    case "Linked":
      return `was terminated by linked ${r.peer} (${r.message})`
  }
}

/** `ask` got no reply within its timeout. The message may still be processed later. */
export class AskTimeout extends Schema.TaggedError<AskTimeout>()("AskTimeout", {
  actor: Schema.String,
  tag: Schema.String,
  timeoutMs: Schema.Number
}) {
  readonly retryable = true
  override get message() {
    return `ask "${this.tag}" to actor ${this.actor} timed out after ${this.timeoutMs} ms`
  }
  get suggestion() {
    return "Raise the ask timeout, or check whether the actor's handler is slow or its mailbox is backed up."
  }
}

/** The mailbox is full and the actor's overflow policy is "fail" (or "drop", for `ask`). */
export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  actor: Schema.String,
  capacity: Schema.Number
}) {
  readonly retryable = true
  override get message() {
    return `mailbox of actor ${this.actor} is full (capacity ${this.capacity})`
  }
  get suggestion() {
    return "Retry with backoff, raise the mailbox capacity, or use the \"backpressure\" overflow policy."
  }
}

/** The actor is not running (it exited and no supervisor restarted it, or it is between incarnations). */
export class ActorGone extends Schema.TaggedError<ActorGone>()("ActorGone", {
  actor: Schema.String,
  reason: ExitReason
}) {
  readonly retryable = false
  override get message() {
    return `actor ${this.actor} is gone: it ${describeExit(this.reason)}`
  }
  get suggestion() {
    return "Look the actor up again (Registry.whereis) or supervise it with a permanent restart policy."
  }
}

/**
 * The actor could not be reached: the transport between caller and actor failed (for a remote ref: NATS is
 * down, nobody serves the name, or the reply could not be decoded). Unlike `ActorGone` this says nothing
 * about the actor itself, which may well be running. `transport` names the underlying failure (e.g. its tag),
 * `detail` describes it; `retryable` varies with it (a lost connection heals, a protocol mismatch does not).
 * Local refs never fail with it.
 */
export class ActorUnreachable extends Schema.TaggedError<ActorUnreachable>()("ActorUnreachable", {
  actor: Schema.String,
  transport: Schema.String,
  detail: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `actor ${this.actor} could not be reached (${this.transport}): ${this.detail}`
  }
  get suggestion() {
    return this.retryable
      ? "Retry with backoff: the transport (e.g. NATS) or the node serving the actor may be coming back."
      : "Retrying will not help: check that every node runs the same protocol version and transport configuration."
  }
}

/** The message does not match the actor's protocol Schema; the actor never saw it. */
export class MessageRejected extends Schema.TaggedError<MessageRejected>()("MessageRejected", {
  actor: Schema.String,
  tag: Schema.String,
  path: Schema.String,
  issue: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `message "${this.tag}" to actor ${this.actor} rejected${
      this.path === "" ? "" : ` at ${this.path}`
    }: ${this.issue}`
  }
  get suggestion() {
    return "Fix the message to match the actor's protocol (see Protocol.make for the payload schema of this tag)."
  }
}

/** A supervisor exceeded its restart intensity; it stopped all its children and escalates to its parent. */
export class SupervisorEscalation extends Schema.TaggedError<SupervisorEscalation>()("SupervisorEscalation", {
  supervisor: Schema.String,
  child: Schema.String,
  restarts: Schema.Number,
  withinMs: Schema.Number,
  lastCause: Schema.Cause(Schema.Defect(), Schema.Defect())
}) {
  readonly retryable = false
  override get message() {
    return `supervisor ${this.supervisor} gave up: child ${this.child} needed more than ${this.restarts} restarts within ${this.withinMs} ms; last failure: ${
      summarize(this.lastCause)
    }`
  }
  get suggestion() {
    return "Fix the crashing child, or raise maxRestarts / lower within, or add a backoff schedule."
  }
}

/** A child could not be started (its start effect or layer failed). */
export class ChildStartFailed extends Schema.TaggedError<ChildStartFailed>()("ChildStartFailed", {
  supervisor: Schema.String,
  child: Schema.String,
  cause: Schema.Cause(Schema.Defect(), Schema.Defect())
}) {
  readonly retryable = true
  override get message() {
    return `supervisor ${this.supervisor} could not start child ${this.child}: ${summarize(this.cause)}`
  }
  get suggestion() {
    return "Check the child's start effect or layer; it failed before running."
  }
}

/** A dynamic-children operation named a child the supervisor does not have (or already has). */
export class ChildNotFound extends Schema.TaggedError<ChildNotFound>()("ChildNotFound", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `supervisor ${this.supervisor} has no child ${this.child}`
  }
  get suggestion() {
    return "Check the child id (see Supervisor.snapshot)."
  }
}

/**
 * `restartChild` / `deleteChild` named a child that is running (OTP's `{error, running}`): only a stopped child
 * can be restarted or deleted this way.
 */
export class ChildRunning extends Schema.TaggedError<ChildRunning>()("ChildRunning", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `child ${this.child} of supervisor ${this.supervisor} is running`
  }
  get suggestion() {
    return "Stop it first with terminateChild, then restartChild or deleteChild it."
  }
}

export class DuplicateChild extends Schema.TaggedError<DuplicateChild>()("DuplicateChild", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `supervisor ${this.supervisor} already has a child ${this.child}`
  }
  get suggestion() {
    return "Use a unique id, or deleteChild the old one first."
  }
}

/** `Registry.register` with a name already taken by a live actor. */
export class NameTaken extends Schema.TaggedError<NameTaken>()("NameTaken", {
  name: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `name ${this.name} is already registered`
  }
  get suggestion() {
    return "Pick another name or unregister the current holder first."
  }
}

/** The errors a send (`tell`) can fail with. `ActorUnreachable` only comes from refs over a transport. */
export type SendError = MailboxFull | ActorGone | MessageRejected | ActorUnreachable

/** A command was sent to a supervisor that has stopped (its scope closed or it escalated). */
export class SupervisorNotRunning extends Schema.TaggedError<SupervisorNotRunning>()("SupervisorNotRunning", {
  supervisor: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `supervisor ${this.supervisor} is not running`
  }
  get suggestion() {
    return "The supervisor stopped or escalated; start a new one or ask its parent."
  }
}

/** The failure a linked actor (or an effect run with `Actor.linked`) is terminated with when its peer exits abnormally. */
export class LinkedExit extends Schema.TaggedError<LinkedExit>()("LinkedExit", {
  peer: Schema.String,
  reason: ExitReason
}) {
  readonly retryable = false
  override get message() {
    return `linked ${this.peer} ${describeExit(this.reason)}`
  }
  get suggestion() {
    return "The peer this process was linked to crashed; supervise both so they restart together."
  }
}
