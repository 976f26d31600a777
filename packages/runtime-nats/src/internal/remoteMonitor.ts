/**
 * A monitor on an actor served under a cluster name: it watches every node that serves the name when it
 * is registered (those the membership table knows, plus those that answer a probe on NATS) and completes
 * once all of them have announced an exit of the actor or gone down. When NATS says nobody subscribes to
 * the name, it completes at once with `NoProc` (OTP's `noproc`). Everything it registers (node-down
 * watches, its share of the exit subscription, the probe) is released when it completes or when the
 * Scope it lives in closes, whichever comes first.
 */
import { ActorError } from "@dspex/runtime"
import type { Subscription } from "@nats-io/nats-core"
import { Deferred, Effect, Exit } from "effect"
import * as Codec from "../Codec.ts"
import type { NodeDown } from "../Errors.ts"
import type { NatsConnectionShape } from "../NatsConnection.ts"
import type { NodeShape, ProbeEnd } from "../Node.ts"
import * as Subjects from "./subjects.ts"

/** One subscription to `dspex.exit.<name>` shared by every monitor of one ref, held while any is registered. */
export class ExitWatch {
  private readonly watchers = new Set<(a: Codec.ExitAnnouncement) => void>()
  private sub: Subscription | undefined
  private readonly nats: NatsConnectionShape
  private readonly subject: string

  constructor(nats: NatsConnectionShape, actor: string) {
    this.nats = nats
    this.subject = Subjects.exitSubject(actor)
  }

  /** Calls `f` for each exit announcement until the returned function is called. */
  watch(f: (a: Codec.ExitAnnouncement) => void): () => void {
    this.watchers.add(f)
    this.sub ??= this.nats.client.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err !== null) return
        const announcement = Codec.decodeExit(msg.data)
        if (announcement !== undefined) { for (const w of [...this.watchers]) w(announcement) }
      }
    })
    return () => {
      this.watchers.delete(f)
      if (this.watchers.size === 0 && this.sub !== undefined) {
        this.sub.unsubscribe()
        this.sub = undefined
      }
    }
  }

  /** Monitors holding the subscription (0 when it is released). */
  get size(): number {
    return this.watchers.size
  }
}

/** The exit reason a monitor reports for its node going down: a graceful leave is a shutdown. */
export const nodeDownReason = (down: NodeDown): ActorError.ExitReason =>
  down.reason === "left"
    ? ActorError.ExitReasons.shutdown
    : ActorError.ExitReasons.nodeDown(down.node, down.name, down.message)

export class RemoteMonitor {
  private readonly deferred = Deferred.makeUnsafe<ActorError.ExitReason>()
  /** node id → cancels the node-down watch on it */
  private readonly serving = new Map<string, () => void>()
  private stopExits: (() => void) | undefined
  private stopProbe: (() => void) | undefined
  private released = false
  private readonly actor: string
  private readonly node: NodeShape
  private readonly exits: ExitWatch

  constructor(actor: string, node: NodeShape, exits: ExitWatch) {
    this.actor = actor
    this.node = node
    this.exits = exits
  }

  /** Registers the watches; the exit subscription comes first, so no exit published after a probe answer is missed. */
  start(): this {
    this.stopExits = this.exits.watch((a) => this.drop(a.node, a.reason))
    for (const id of this.node.servers(this.actor)) this.track(id)
    this.stopProbe = this.node.probe(this.actor, {
      server: (id) => this.track(id),
      end: (outcome) => this.probed(outcome)
    })
    return this
  }

  /** Completes once, with the exit reason. */
  get await(): Effect.Effect<ActorError.ExitReason> {
    return Deferred.await(this.deferred)
  }

  /** Releases every watch (idempotent): on completion, or when the monitor's Scope closes. */
  release(): void {
    if (this.released) return
    this.released = true
    this.stopExits?.()
    this.stopProbe?.()
    for (const cancel of this.serving.values()) cancel()
    this.serving.clear()
  }

  private track(nodeId: string): void {
    if (this.released || this.serving.has(nodeId)) return
    this.serving.set(nodeId, this.node.onNodeDown(nodeId, (down) => this.drop(nodeId, nodeDownReason(down))))
  }

  private drop(nodeId: string, reason: ActorError.ExitReason): void {
    const cancel = this.serving.get(nodeId)
    if (cancel === undefined) return
    cancel()
    this.serving.delete(nodeId)
    if (this.serving.size === 0) this.finish(reason)
  }

  /**
   * Nobody known to serve the name and NATS confirms it: `NoProc` at once. Nodes the table lists but NATS
   * does not (one that died a moment ago) stay watched, and report `NodeDown` when membership notices.
   */
  private probed(outcome: ProbeEnd): void {
    this.stopProbe = undefined
    if (this.serving.size > 0 || outcome === "answered") return
    const subject = Subjects.probeSubject(this.actor)
    this.finish(
      ActorError.ExitReasons.noProc(
        this.actor,
        outcome === "none"
          ? `no node serves ${this.actor} (nothing subscribes to ${subject})`
          : `no node serving ${this.actor} answered on ${subject} within ${this.node.livenessTimeoutMs} ms`
      )
    )
  }

  private finish(reason: ActorError.ExitReason): void {
    if (Deferred.doneUnsafe(this.deferred, Exit.succeed(reason))) this.release()
  }
}

/**
 * Registers a monitor in the current Scope.
 *
 * @example
 * const down = yield* monitorIn("counter", node, exits) // inside Effect.scoped
 * const reason = yield* down // NodeDown, NoProc, or the actor's own exit reason
 */
export const monitorIn = (actor: string, node: NodeShape, exits: ExitWatch) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new RemoteMonitor(actor, node, exits).start()),
      (monitor) => Effect.sync(() => monitor.release())
    ),
    (monitor) => monitor.await
  )
