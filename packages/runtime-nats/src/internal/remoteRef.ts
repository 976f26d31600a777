/**
 * The machinery behind `RemoteActor.ref`: where an ask goes, what happens to it when its node goes down,
 * and the ref's monitors.
 *
 * An ask targets one node: membership's list of the live nodes serving the name, round-robin, on that
 * node's direct subject (`dspex.direct.<node>.<name>`), and it is registered in the Node's in-flight table
 * under that node, so the moment membership declares the node down the ask fails with `ActorGone`
 * (reason `NodeDown`) instead of waiting out its timeout. When membership knows no server yet (a node
 * that just started), the ask goes to the queue group (`dspex.actor.<name>`), where NATS picks the node:
 * such an ask is bounded only by its timeout (and a lost connection). When the chosen node answers "no
 * responders" (the table is stale: it stopped serving, or died a moment ago), the ask is sent once more to
 * another listed node, else (or if that one is stale too) to the queue group.
 */
import { ActorError, type ActorRef, type Protocol } from "@dspex/runtime"
import type { Msg } from "@nats-io/nats-core"
import { Duration, Effect, type Scope } from "effect"
import * as Codec from "../Codec.ts"
import { NatsUnavailable, type NodeDown, NoResponders, RemoteReplyInvalid } from "../Errors.ts"
import type { NatsConnectionShape } from "../NatsConnection.ts"
import type { InflightAsk, NodeShape } from "../Node.ts"
import type { RemoteError } from "../RemoteActor.ts"
import { ExitWatch, monitorIn, nodeDownReason } from "./remoteMonitor.ts"
import * as Subjects from "./subjects.ts"

export const isRemoteError = (e: unknown): e is RemoteError =>
  e instanceof NatsUnavailable || e instanceof NoResponders || e instanceof RemoteReplyInvalid

const isNoResponders = (error: unknown): boolean => {
  const e = error as { isNoResponders?: () => boolean }
  return typeof e.isNoResponders === "function" && e.isNoResponders()
}

const classify = (
  error: unknown,
  actor: string,
  subject: string,
  timeoutMs: number,
  tag: string,
  url: string
): RemoteError | ActorRef.AskError => {
  if (isNoResponders(error)) return new NoResponders({ actor, subject })
  const e = error as { name?: string; message?: string }
  if (e.name === "TimeoutError") return new ActorError.AskTimeout({ actor, tag, timeoutMs })
  return new NatsUnavailable({ url, detail: e.message ?? String(error) })
}

const none: ReadonlyArray<string> = []

export class RemoteRefCore<P extends Protocol.Any> {
  readonly actor: string
  readonly protocol: P
  readonly nats: NatsConnectionShape
  readonly node: NodeShape
  readonly queueSubject: string
  readonly defaultTimeoutMs: number
  readonly exits: ExitWatch
  /** The servers array membership returned last, and its direct subjects (rebuilt only when it changes). */
  private servers: ReadonlyArray<string> = none
  private subjects: ReadonlyArray<string> = none
  private turn = 0

  constructor(actor: string, protocol: P, nats: NatsConnectionShape, node: NodeShape, defaultTimeoutMs: number) {
    this.actor = actor
    this.protocol = protocol
    this.nats = nats
    this.node = node
    this.queueSubject = Subjects.actorSubject(actor)
    this.defaultTimeoutMs = defaultTimeoutMs
    this.exits = new ExitWatch(nats, actor)
  }

  /**
   * One ask as a single callback (encode, fail-fast check, request, decode): the hot path has no
   * intermediate effects. `transport` decides how a transport failure surfaces.
   */
  ask(
    message: Protocol.Message<P>,
    options: ActorRef.AskOptions | undefined,
    transport: (e: RemoteError) => unknown
  ): Effect.Effect<unknown, unknown> {
    return Effect.callback<unknown, unknown>((resume) => {
      const encoded = Codec.encodeRequest(this.protocol, this.actor, message)
      if (!encoded.ok) return resume(Effect.fail(encoded.error))
      if (!this.nats.isConnected()) return resume(Effect.fail(transport(this.nats.unavailable())))
      const timeoutMs = options?.timeout === undefined ? this.defaultTimeoutMs : Duration.toMillis(options.timeout)
      const ask = new PendingAsk(
        this,
        resume,
        transport,
        (message as { readonly _tag: string })._tag,
        encoded.value,
        timeoutMs
      )
      const i = this.target()
      if (i < 0) ask.send("", this.queueSubject, timeoutMs)
      else ask.send(this.servers[i]!, this.subjects[i]!, timeoutMs)
      return Effect.sync(() => ask.cancel())
    })
  }

  tell(message: Protocol.Message<P>): Effect.Effect<void, ActorError.MessageRejected | RemoteError> {
    return Effect.suspend((): Effect.Effect<void, ActorError.MessageRejected | RemoteError> => {
      const encoded = Codec.encodeRequest(this.protocol, this.actor, message)
      if (!encoded.ok) return Effect.fail(encoded.error)
      // NATS would buffer a publish while reconnecting and send it later; a tell fails now instead
      if (!this.nats.isConnected()) return Effect.fail(this.nats.unavailable())
      try {
        this.nats.client.publish(this.queueSubject, encoded.value)
        return Effect.void
      } catch (e) {
        return Effect.fail(
          new NatsUnavailable({ url: this.nats.url, detail: e instanceof Error ? e.message : String(e) })
        )
      }
    })
  }

  monitor(): Effect.Effect<Effect.Effect<ActorError.ExitReason>, never, Scope.Scope> {
    return monitorIn(this.actor, this.node, this.exits)
  }

  /** The index of the next serving node (round-robin), or -1 when membership knows none. */
  private target(): number {
    const servers = this.node.servers(this.actor)
    if (servers !== this.servers) {
      this.servers = servers
      this.subjects = servers.map((id) => Subjects.directSubject(id, this.actor))
    }
    const n = servers.length
    return n === 0 ? -1 : n === 1 ? 0 : this.turn++ % n
  }

  /** A listed serving node other than `nodeId`, for a retry after "no responders". */
  otherServer(nodeId: string): string | undefined {
    const servers = this.node.servers(this.actor)
    const n = servers.length
    for (let k = 0; k < n; k++) {
      const id = servers[(this.turn + k) % n]!
      if (id !== nodeId) return id
    }
    return undefined
  }
}

/** One ask on the wire. Its settling is idempotent: a reply, a timeout, its node going down, a lost connection or an interruption, whichever comes first. */
class PendingAsk implements InflightAsk {
  /** The node it went to ("" for the queue group). */
  private node = ""
  private settled = false
  private retried = false
  private readonly startedAt = Date.now()
  private readonly core: RemoteRefCore<Protocol.Any>
  private readonly resume: (effect: Effect.Effect<unknown, unknown>) => void
  private readonly transport: (e: RemoteError) => unknown
  private readonly tag: string
  private readonly payload: string
  private readonly timeoutMs: number

  constructor(
    core: RemoteRefCore<Protocol.Any>,
    resume: (effect: Effect.Effect<unknown, unknown>) => void,
    transport: (e: RemoteError) => unknown,
    tag: string,
    payload: string,
    timeoutMs: number
  ) {
    this.core = core
    this.resume = resume
    this.transport = transport
    this.tag = tag
    this.payload = payload
    this.timeoutMs = timeoutMs
  }

  send(node: string, subject: string, timeoutMs: number): void {
    this.node = node
    this.core.node.inflight.add(node, this)
    this.core.nats.client.request(subject, this.payload, { timeout: timeoutMs }).then(
      (msg) => this.replied(msg),
      (e) => this.failed(e, subject)
    )
  }

  nodeDown(down: NodeDown): void {
    this.settle(Effect.fail(new ActorError.ActorGone({ actor: this.core.actor, reason: nodeDownReason(down) })))
  }

  disconnected(): void {
    this.settle(Effect.fail(this.transport(this.core.nats.unavailable())))
  }

  /** The caller gave up (interrupted): forget the ask; a late reply is dropped. */
  cancel(): void {
    if (this.settled) return
    this.settled = true
    this.core.node.inflight.remove(this.node, this)
  }

  private replied(msg: Msg): void {
    if (this.settled) return
    const reply = Codec.decodeReply(this.core.protocol, this.core.actor, this.tag, msg.data)
    this.settle(
      reply._tag === "ok"
        ? Effect.succeed(reply.value)
        : Effect.fail(reply._tag === "invalid" ? this.transport(reply.error) : reply.error)
    )
  }

  private failed(error: unknown, subject: string): void {
    if (this.settled) return
    if (this.node !== "" && isNoResponders(error)) {
      // the membership table is stale: that node does not serve the name (any more)
      this.core.node.inflight.remove(this.node, this)
      const remainingMs = this.timeoutMs - (Date.now() - this.startedAt)
      if (remainingMs >= 1) {
        const other = this.retried ? undefined : this.core.otherServer(this.node)
        this.retried = true
        if (other === undefined) return this.send("", this.core.queueSubject, remainingMs)
        return this.send(other, Subjects.directSubject(other, this.core.actor), remainingMs)
      }
    }
    const e = classify(error, this.core.actor, subject, this.timeoutMs, this.tag, this.core.nats.url)
    this.settle(Effect.fail(isRemoteError(e) ? this.transport(e) : e))
  }

  private settle(effect: Effect.Effect<unknown, unknown>): void {
    if (this.settled) return
    this.settled = true
    this.core.node.inflight.remove(this.node, this)
    this.resume(effect)
  }
}
