/**
 * Node membership and liveness. Each process that serves or calls remote actors runs one `Node`: it
 * registers with the NATS services API (`dspex-node`, so `$SRV.PING/INFO/STATS` and `nats micro ls` see
 * it, with its name and actors in the metadata), heartbeats on `dspex.node.<id>.hb` every
 * `heartbeatInterval`, and keeps a table of the other nodes from their heartbeats. A node that stops
 * heartbeating for `livenessTimeout` is down; a graceful leave (scope close) is seen at once.
 *
 * While this node's own NATS connection is lost it hears nobody, so it declares nobody down: liveness is
 * suspended and every node gets a fresh grace period once the connection is back. A NATS outage alone
 * therefore never fires monitors (and never makes supervisors restart work needlessly).
 */
import { Svcm, type Service, type ServiceInfo } from "@nats-io/services"
import { nuid } from "@nats-io/nats-core"
import { Config, Context, Deferred, Duration, Effect, Exit, Layer, PubSub, Schema, type Scope, Stream } from "effect"
import { hostname } from "node:os"
import { decodeAnnouncement, encodeAnnouncement, type NodeAnnouncement } from "./Codec.ts"
import { NatsUnavailable } from "./Errors.ts"
import { NatsConnection } from "./NatsConnection.ts"
import * as Subjects from "./internal/subjects.ts"

export interface NodeOptions {
  /** Human-readable name; default `DSPEX_NODE_NAME`, else `<hostname>-<pid>`. */
  readonly name?: string
  /** Unique id (a subject token); default a fresh NUID per process. */
  readonly id?: string
  /** Semver reported to the services API (default "0.1.0"). */
  readonly version?: string
  /** Extra metadata announced with the node. */
  readonly metadata?: Readonly<Record<string, string>>
  /** Default `DSPEX_NODE_HEARTBEAT_INTERVAL`, else 1 second. */
  readonly heartbeatInterval?: Duration.Input
  /** Silence after which a node is down; default `DSPEX_NODE_LIVENESS_TIMEOUT`, else 3 seconds. */
  readonly livenessTimeout?: Duration.Input
}

/** A live node as this node sees it. */
export interface NodeInfo extends NodeAnnouncement {
  /** When its last heartbeat arrived (epoch ms). */
  readonly lastSeenAt: number
  /** True for this node itself. */
  readonly self: boolean
}

/** A node stopped: it left gracefully, stopped heartbeating, or was never seen (`unknown`). */
export class NodeDown extends Schema.TaggedError<NodeDown>()("NodeDown", {
  node: Schema.String,
  name: Schema.String,
  reason: Schema.Literals(["left", "timeout", "unknown"]),
  silentMs: Schema.Number
}) {
  readonly retryable = true
  override get message() {
    switch (this.reason) {
      case "left":
        return `node ${this.name} (${this.node}) left the cluster`
      case "timeout":
        return `node ${this.name} (${this.node}) stopped heartbeating (silent for ${this.silentMs} ms)`
      case "unknown":
        return `node ${this.node} was not seen within ${this.silentMs} ms`
    }
  }
  get suggestion() {
    return "Restart the node (or let a supervisor start its work elsewhere); check its process and its NATS connection."
  }
}

export type MemberEvent =
  | { readonly _tag: "Joined"; readonly node: NodeInfo }
  | { readonly _tag: "Down"; readonly down: NodeDown }

export interface NodeShape {
  readonly id: string
  readonly name: string
  readonly heartbeatIntervalMs: number
  readonly livenessTimeoutMs: number
  /** The live nodes (this one included), by name. */
  readonly members: Effect.Effect<ReadonlyArray<NodeInfo>>
  /** The live nodes that serve `actor`. */
  readonly whereis: (actor: string) => Effect.Effect<ReadonlyArray<NodeInfo>>
  /**
   * Registers a watch on a node; the inner effect completes once, when the node goes down. A node not
   * seen within the liveness timeout counts as down (`unknown`).
   */
  readonly watch: (nodeId: string) => Effect.Effect<Effect.Effect<NodeDown>>
  /** `watch` as a callback (called at most once); returns a function that cancels the watch. */
  readonly onNodeDown: (nodeId: string, f: (down: NodeDown) => void) => () => void
  /** Joins and downs as they happen. */
  readonly events: Stream.Stream<MemberEvent>
  /** Asks NATS's services API who is out there (`$SRV.INFO.dspex-node`), waiting `maxWait` for answers. */
  readonly discover: (maxWait?: Duration.Input) => Effect.Effect<ReadonlyArray<ServiceInfo>, NatsUnavailable>
  /** Announces that this node serves `actor` while the current scope is open. */
  readonly announceActor: (actor: string) => Effect.Effect<void, never, Scope.Scope>
}

export class Node extends Context.Service<Node, NodeShape>()("dspex/Node") {
  /** @see make */
  static make(options?: NodeOptions): Effect.Effect<NodeShape, Config.ConfigError, NatsConnection | Scope.Scope> {
    return make(options)
  }
  /** @see layer */
  static layer(options?: NodeOptions): Layer.Layer<Node, Config.ConfigError, NatsConnection> {
    return layer(options)
  }
  /** The live nodes, this one included. */
  static members(): Effect.Effect<ReadonlyArray<NodeInfo>, never, Node> {
    return Node.use((node) => node.members)
  }
  /** @see NodeShape.watch */
  static watch(nodeId: string): Effect.Effect<Effect.Effect<NodeDown>, never, Node> {
    return Node.use((node) => node.watch(nodeId))
  }
}

interface Entry {
  info: NodeAnnouncement
  lastSeenAt: number
}

const defaults = (options: NodeOptions) =>
  Effect.gen(function*() {
    const name = options.name ?? (yield* Config.String("DSPEX_NODE_NAME").pipe(Config.withDefault(`${hostname()}-${process.pid}`)))
    const heartbeat = options.heartbeatInterval ?? (yield* Config.Duration("DSPEX_NODE_HEARTBEAT_INTERVAL").pipe(Config.withDefault(Duration.seconds(1))))
    const liveness = options.livenessTimeout ?? (yield* Config.Duration("DSPEX_NODE_LIVENESS_TIMEOUT").pipe(Config.withDefault(Duration.seconds(3))))
    return { name, heartbeatIntervalMs: Duration.toMillis(heartbeat), livenessTimeoutMs: Duration.toMillis(liveness) }
  })

/**
 * Starts this node for the lifetime of the current scope: announces it, heartbeats, tracks the others,
 * and leaves gracefully when the scope closes.
 *
 * @example
 * const node = yield* Node.make({ name: "worker-1", heartbeatInterval: "1 second", livenessTimeout: "3 seconds" })
 * const down = yield* node.watch(otherNodeId)
 * yield* down // completes when that node stops heartbeating or leaves
 */
export const make = Effect.fn("Node.make")(function*(options: NodeOptions = {}) {
  const nats = yield* NatsConnection
  const { name, heartbeatIntervalMs, livenessTimeoutMs } = yield* defaults(options)
  const id = options.id ?? nuid.next()
  Subjects.assertValidName("node id", id)
  const version = options.version ?? "0.1.0"
  const startedAt = Date.now()
  const client = nats.client
  const events = yield* Effect.acquireRelease(PubSub.unbounded<MemberEvent>(), PubSub.shutdown)

  const actors = new Map<string, number>() // actor name → how many serve scopes announce it
  const table = new Map<string, Entry>()
  const watchers = new Map<string, Set<{ readonly notify: (down: NodeDown) => void; since: number }>>()

  const announcement = (): NodeAnnouncement => ({
    id,
    name,
    version,
    actors: [...actors.keys()].sort(),
    metadata: { ...options.metadata },
    startedAt
  })
  let heartbeatPayload = encodeAnnouncement(announcement())
  const heartbeat = () => {
    if (nats.isConnected()) client.publish(Subjects.heartbeatSubject(id), heartbeatPayload)
  }

  const toInfo = (e: Entry): NodeInfo => ({ ...e.info, lastSeenAt: e.lastSeenAt, self: e.info.id === id })

  const fire = (down: NodeDown) => {
    const ws = watchers.get(down.node)
    watchers.delete(down.node)
    if (ws !== undefined) for (const w of ws) w.notify(down)
    PubSub.publishUnsafe(events, { _tag: "Down", down })
  }

  const seen = (info: NodeAnnouncement) => {
    const existing = table.get(info.id)
    table.set(info.id, { info, lastSeenAt: Date.now() })
    if (existing === undefined) PubSub.publishUnsafe(events, { _tag: "Joined", node: toInfo(table.get(info.id)!) })
  }

  const gone = (nodeId: string, reason: "left" | "timeout", now: number) => {
    const entry = table.get(nodeId)
    if (entry === undefined || nodeId === id) return
    table.delete(nodeId)
    fire(new NodeDown({ node: nodeId, name: entry.info.name, reason, silentMs: now - entry.lastSeenAt }))
  }

  // liveness is only judged while connected: a node cut off from NATS hears nobody and must not conclude
  // that everybody died
  const sweep = () => {
    if (!nats.isConnected()) return
    const now = Date.now()
    for (const [nodeId, entry] of table) {
      if (nodeId !== id && now - entry.lastSeenAt > livenessTimeoutMs) gone(nodeId, "timeout", now)
    }
    for (const [nodeId, ws] of watchers) {
      if (table.has(nodeId)) continue
      for (const w of ws) {
        if (now - w.since <= livenessTimeoutMs) continue
        ws.delete(w)
        w.notify(new NodeDown({ node: nodeId, name: nodeId, reason: "unknown", silentMs: now - w.since }))
      }
      if (ws.size === 0) watchers.delete(nodeId)
    }
  }

  seen(announcement())
  const subscriptions = [
    client.subscribe(Subjects.heartbeatWildcard, {
      callback: (err, msg) => {
        if (err !== null) return
        const info = decodeAnnouncement(msg.data)
        if (info !== undefined) seen(info)
      }
    }),
    client.subscribe(Subjects.leaveWildcard, {
      callback: (err, msg) => {
        if (err !== null) return
        const nodeId = msg.subject.split(".")[2]
        if (nodeId !== undefined) gone(nodeId, "left", Date.now())
      }
    }),
    client.subscribe(Subjects.helloSubject, {
      callback: (err) => {
        if (err === null) heartbeat()
      }
    })
  ]
  const stopReconnect = nats.onReconnect(() => {
    // fresh grace period for everyone, then ask them all to speak up
    const now = Date.now()
    for (const entry of table.values()) entry.lastSeenAt = now
    for (const ws of watchers.values()) for (const w of ws) w.since = now
    heartbeat()
    client.publish(Subjects.helloSubject)
  })

  // the services API registration; its metadata is frozen, so a change of actors re-registers (new first,
  // then the old one stops, so the node never disappears from discovery)
  const svcm = new Svcm(client as unknown as ConstructorParameters<typeof Svcm>[0])
  const serviceConfig = () => ({
    name: Subjects.serviceName,
    version,
    description: `DSPex node ${name}`,
    queue: "",
    metadata: { ...options.metadata, node_id: id, node_name: name, actors: [...actors.keys()].sort().join(","), heartbeat_subject: Subjects.heartbeatSubject(id) }
  })
  let service: Service | undefined = yield* Effect.promise(() => svcm.add(serviceConfig()).catch(() => undefined))
  let registering: Promise<void> = Promise.resolve()
  const reregister = () => {
    registering = registering.then(async () => {
      const next = await svcm.add(serviceConfig()).catch(() => undefined)
      const previous = service
      service = next
      await previous?.stop().catch(() => undefined)
    })
  }

  const actorsChanged = () => {
    heartbeatPayload = encodeAnnouncement(announcement())
    table.set(id, { info: announcement(), lastSeenAt: Date.now() })
    heartbeat()
    reregister()
  }

  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      stopReconnect()
      if (nats.isConnected()) client.publish(Subjects.leaveSubject(id))
      for (const sub of subscriptions) sub.unsubscribe()
      await registering
      await service?.stop().catch(() => undefined)
      if (nats.isConnected()) await client.flush().catch(() => undefined)
    }).pipe(Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.void }))
  )

  yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(heartbeatIntervalMs)), Effect.sync(heartbeat))))
  const sweepEveryMs = Math.max(20, Math.min(100, Math.floor(livenessTimeoutMs / 10)))
  yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(sweepEveryMs)), Effect.sync(sweep))))
  heartbeat()
  client.publish(Subjects.helloSubject)

  const onNodeDown = (nodeId: string, notify: (down: NodeDown) => void): (() => void) => {
    let ws = watchers.get(nodeId)
    if (ws === undefined) watchers.set(nodeId, (ws = new Set()))
    const w = { notify, since: Date.now() }
    ws.add(w)
    return () => {
      const current = watchers.get(nodeId)
      current?.delete(w)
      if (current?.size === 0) watchers.delete(nodeId)
    }
  }

  const live = (): ReadonlyArray<NodeInfo> => [...table.values()].map(toInfo).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))

  return {
    id,
    name,
    heartbeatIntervalMs,
    livenessTimeoutMs,
    members: Effect.sync(live),
    whereis: (actor) => Effect.sync(() => live().filter((n) => n.actors.includes(actor))),
    watch: (nodeId) =>
      Effect.sync(() => {
        const deferred = Deferred.makeUnsafe<NodeDown>()
        onNodeDown(nodeId, (down) => Deferred.doneUnsafe(deferred, Exit.succeed(down)))
        return Deferred.await(deferred)
      }),
    onNodeDown,
    events: Stream.fromPubSub(events),
    discover: (maxWait = "500 millis") =>
      Effect.gen(function*() {
        yield* nats.ensureConnected
        return yield* Effect.tryPromise({
          try: async () => {
            const infos: Array<ServiceInfo> = []
            const it = await svcm.client({ maxWait: Duration.toMillis(maxWait), strategy: "timer" }).info(Subjects.serviceName)
            for await (const info of it) infos.push(info)
            return infos
          },
          catch: (e) => new NatsUnavailable({ url: nats.url, detail: `service discovery failed: ${e instanceof Error ? e.message : String(e)}` })
        })
      }),
    announceActor: (actor) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          actors.set(actor, (actors.get(actor) ?? 0) + 1)
          if (actors.get(actor) === 1) actorsChanged()
        }),
        () =>
          Effect.sync(() => {
            const n = (actors.get(actor) ?? 1) - 1
            if (n > 0) return actors.set(actor, n)
            actors.delete(actor)
            actorsChanged()
          })
      ).pipe(Effect.asVoid)
  } satisfies NodeShape
})

/**
 * The Node layer (needs a NatsConnection).
 *
 * @example
 * const Live = Node.layer({ name: "worker-1" }).pipe(Layer.provideMerge(NatsConnection.layer()))
 * const nodes = yield* Node.members() // [{ name: "worker-1", actors: [...], ... }, ...]
 */
export const layer = (options?: NodeOptions): Layer.Layer<Node, Config.ConfigError, NatsConnection> => Layer.effect(Node, make(options))
