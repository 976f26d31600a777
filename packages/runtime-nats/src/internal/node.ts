/**
 * A running Node's state and behaviour as one object (the way Effect's own *Impl classes are built):
 * `Node.make` acquires the resources (PubSub, fibers, finalizer) and this class owns everything else
 * (heartbeats, the membership table, probes, asks in flight, the services API registration).
 */
import type { Msg, Subscription } from "@nats-io/nats-core"
import { type Service, type ServiceInfo, Svcm } from "@nats-io/services"
import { Deferred, Duration, Effect, Exit, PubSub, type Scope, Stream } from "effect"
import { decodeAnnouncement, encodeAnnouncement, type NodeAnnouncement } from "../Codec.ts"
import { NatsUnavailable, type NodeDown } from "../Errors.ts"
import type { NatsConnectionShape } from "../NatsConnection.ts"
import type { MemberEvent, NodeInfo, NodeShape, NodeStats, ProbeHandlers } from "../Node.ts"
import { InflightTable } from "./inflight.ts"
import { Membership } from "./membership.ts"
import { Prober } from "./probe.ts"
import * as Subjects from "./subjects.ts"

export interface NodeConfig {
  readonly id: string
  readonly name: string
  readonly version: string
  readonly metadata: Readonly<Record<string, string>>
  readonly heartbeatIntervalMs: number
  readonly livenessTimeoutMs: number
}

export class NodeImpl implements NodeShape {
  readonly id: string
  readonly name: string
  readonly heartbeatIntervalMs: number
  readonly livenessTimeoutMs: number
  readonly inflight = new InflightTable()
  readonly members: Effect.Effect<ReadonlyArray<NodeInfo>>
  readonly events: Stream.Stream<MemberEvent>
  private readonly membership: Membership
  private readonly prober: Prober
  private readonly svcm: Svcm
  /** actor name → how many serve scopes announce it */
  private readonly actors = new Map<string, number>()
  private readonly startedAt = Date.now()
  private heartbeatPayload: string
  private droppedEvents = 0
  private service: Service | undefined
  private registering: Promise<void> = Promise.resolve()
  private subscriptions: Array<Subscription> = []
  private listeners: Array<() => void> = []
  private readonly nats: NatsConnectionShape
  private readonly config: NodeConfig
  private readonly pubsub: PubSub.PubSub<MemberEvent>

  constructor(nats: NatsConnectionShape, config: NodeConfig, pubsub: PubSub.PubSub<MemberEvent>) {
    this.nats = nats
    this.config = config
    this.pubsub = pubsub
    this.id = config.id
    this.name = config.name
    this.heartbeatIntervalMs = config.heartbeatIntervalMs
    this.livenessTimeoutMs = config.livenessTimeoutMs
    this.membership = new Membership(config.id, config.livenessTimeoutMs, {
      joined: (node) => this.emit({ _tag: "Joined", node }),
      down: (down) => this.down(down)
    })
    // a probe waits one liveness timeout for a first answer (a node that cannot answer in that time would
    // be declared down anyway), then a little for the other serving nodes
    this.prober = new Prober(nats, {
      maxWaitMs: config.livenessTimeoutMs,
      stallMs: Math.min(250, config.livenessTimeoutMs)
    })
    this.svcm = new Svcm(nats.client as unknown as ConstructorParameters<typeof Svcm>[0])
    this.heartbeatPayload = encodeAnnouncement(this.announcement())
    this.members = Effect.sync(() => this.membership.live())
    this.events = Stream.fromPubSub(pubsub)
    this.membership.seen(this.announcement(), Date.now())
  }

  // --- lifecycle (driven by Node.make) ---

  /** Registers with the services API (a failure leaves the node undiscoverable there, nothing more). */
  async register(): Promise<void> {
    this.service = await this.svcm.add(this.serviceConfig()).catch(() => undefined)
  }

  start(): void {
    const client = this.nats.client
    this.subscriptions = [
      client.subscribe(Subjects.heartbeatWildcard, {
        callback: (err, msg) => void (err === null && this.onHeartbeat(msg))
      }),
      client.subscribe(Subjects.leaveWildcard, { callback: (err, msg) => void (err === null && this.onLeave(msg)) }),
      client.subscribe(Subjects.helloSubject, { callback: (err) => void (err === null && this.heartbeat()) })
    ]
    this.prober.start()
    this.listeners = [
      this.nats.onReconnect(() => this.reconnected()),
      // no reply crosses a lost connection: fail every ask in flight now rather than at its timeout
      this.nats.onDisconnect(() => this.inflight.failAll())
    ]
    this.heartbeat()
  }

  /** Announces this node to everybody and asks them all to speak up. */
  hello(): void {
    if (this.nats.isConnected()) this.nats.client.publish(Subjects.helloSubject)
  }

  heartbeat(): void {
    if (this.nats.isConnected()) this.nats.client.publish(Subjects.heartbeatSubject(this.id), this.heartbeatPayload)
  }

  /** Liveness is only judged while connected: a node cut off from NATS hears nobody and must not conclude that everybody died. */
  sweep(): void {
    if (this.nats.isConnected()) this.membership.sweep(Date.now())
  }

  /** Leaves gracefully: says so, stops listening, and stops the services API registration. */
  async close(): Promise<void> {
    for (const off of this.listeners) off()
    const client = this.nats.client
    if (this.nats.isConnected()) client.publish(Subjects.leaveSubject(this.id))
    for (const sub of this.subscriptions) sub.unsubscribe()
    this.prober.close()
    await this.registering
    await this.service?.stop().catch(() => undefined)
    if (this.nats.isConnected()) await client.flush().catch(() => undefined)
  }

  // --- NodeShape (arrow properties: callers may take them off the object, as they could from the plain record it used to be) ---

  readonly whereis = (actor: string): Effect.Effect<ReadonlyArray<NodeInfo>> =>
    Effect.sync(() => this.membership.live().filter((n) => n.actors.includes(actor)))

  readonly servers = (actor: string): ReadonlyArray<string> => this.membership.servers(actor)

  readonly watch = (nodeId: string): Effect.Effect<Effect.Effect<NodeDown>> =>
    Effect.sync(() => {
      const deferred = Deferred.makeUnsafe<NodeDown>()
      this.onNodeDown(nodeId, (down) => Deferred.doneUnsafe(deferred, Exit.succeed(down)))
      return Deferred.await(deferred)
    })

  readonly onNodeDown = (nodeId: string, f: (down: NodeDown) => void): () => void =>
    this.membership.onNodeDown(nodeId, f, Date.now())

  readonly probe = (actor: string, handlers: ProbeHandlers): () => void => this.prober.probe(actor, handlers)

  readonly discover = (
    maxWait: Duration.Input = "500 millis"
  ): Effect.Effect<ReadonlyArray<ServiceInfo>, NatsUnavailable> =>
    Effect.andThen(
      this.nats.ensureConnected,
      Effect.tryPromise({
        try: async () => {
          const infos: Array<ServiceInfo> = []
          const it = await this.svcm.client({ maxWait: Duration.toMillis(maxWait), strategy: "timer" }).info(
            Subjects.serviceName
          )
          for await (const info of it) infos.push(info)
          return infos
        },
        catch: (e) =>
          new NatsUnavailable({
            url: this.nats.url,
            detail: `service discovery failed: ${e instanceof Error ? e.message : String(e)}`
          })
      })
    )

  readonly announceActor = (actor: string): Effect.Effect<void, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const n = (this.actors.get(actor) ?? 0) + 1
        this.actors.set(actor, n)
        if (n === 1) this.actorsChanged()
      }),
      () =>
        Effect.sync(() => {
          const n = (this.actors.get(actor) ?? 1) - 1
          if (n > 0) return void this.actors.set(actor, n)
          this.actors.delete(actor)
          this.actorsChanged()
        })
    )

  readonly stats = (): NodeStats => ({
    members: this.membership.size,
    watchers: this.membership.watcherCount,
    pendingAsks: this.inflight.size,
    probes: this.prober.size,
    droppedEvents: this.droppedEvents
  })

  // --- internals ---

  private announcement(): NodeAnnouncement {
    return {
      id: this.id,
      name: this.name,
      version: this.config.version,
      actors: [...this.actors.keys()].sort(),
      metadata: { ...this.config.metadata },
      startedAt: this.startedAt
    }
  }

  private onHeartbeat(msg: Msg): void {
    const info = decodeAnnouncement(msg.data)
    if (info !== undefined) this.membership.seen(info, Date.now())
  }

  private onLeave(msg: Msg): void {
    const nodeId = msg.subject.split(".")[2]
    if (nodeId !== undefined) this.membership.gone(nodeId, "left", Date.now())
  }

  /** Fresh grace period for everyone, then ask them all to speak up. */
  private reconnected(): void {
    this.membership.graceAll(Date.now())
    this.heartbeat()
    this.hello()
  }

  private down(down: NodeDown): void {
    this.emit({ _tag: "Down", down })
    if (down.reason === "left") {
      // a node leaving gracefully answered its asks before it said so, but those replies may still be on
      // their way through promise callbacks queued behind this one: let them land first
      setImmediate(() => this.inflight.failNode(down))
    } else {
      this.inflight.failNode(down)
    }
  }

  /**
   * Publishes to the bounded (sliding) events PubSub. When it is full its slowest subscriber is a whole
   * buffer behind: that subscriber loses its oldest unread event (the others have read it already), and
   * the loss is counted rather than letting a reader that stopped grow memory without limit.
   */
  private emit(event: MemberEvent): void {
    if (PubSub.publishUnsafe(this.pubsub, event) || PubSub.isShutdownUnsafe(this.pubsub)) return
    this.droppedEvents++
    // the sliding strategy applies on `publish` only (synchronous: it never waits)
    Effect.runSync(PubSub.publish(this.pubsub, event))
  }

  private actorsChanged(): void {
    this.heartbeatPayload = encodeAnnouncement(this.announcement())
    this.membership.seen(this.announcement(), Date.now())
    this.heartbeat()
    this.reregister()
  }

  private serviceConfig() {
    return {
      name: Subjects.serviceName,
      version: this.config.version,
      description: `DSPex node ${this.name}`,
      queue: "",
      metadata: {
        ...this.config.metadata,
        node_id: this.id,
        node_name: this.name,
        actors: [...this.actors.keys()].sort().join(","),
        heartbeat_subject: Subjects.heartbeatSubject(this.id)
      }
    }
  }

  /** The services API metadata is frozen, so a change of actors registers anew (new first, then the old one stops: the node never disappears from discovery). */
  private reregister(): void {
    this.registering = this.registering.then(async () => {
      const next = await this.svcm.add(this.serviceConfig()).catch(() => undefined)
      const previous = this.service
      this.service = next
      await previous?.stop().catch(() => undefined)
    })
  }
}
