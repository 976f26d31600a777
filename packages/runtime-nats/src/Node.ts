/**
 * Node membership and liveness. Each process that serves or calls remote actors runs one `Node`: it
 * registers with the NATS services API (`dspex-node`, so `$SRV.PING/INFO/STATS` and `nats micro ls` see
 * it, with its name and actors in the metadata), heartbeats on `dspex.node.<id>.hb` every
 * `heartbeatInterval`, and keeps a table of the other nodes from their heartbeats. A node that stops
 * heartbeating for `livenessTimeout` is down; a graceful leave (scope close) is seen at once. When a node
 * goes down, the remote asks it was serving fail at once (`ActorGone` with a `NodeDown` reason).
 *
 * While this node's own NATS connection is lost it hears nobody, so it declares nobody down: liveness is
 * suspended and every node gets a fresh grace period once the connection is back. A NATS outage alone
 * therefore never fires monitors (and never makes supervisors restart work needlessly).
 */
import { nuid } from "@nats-io/nats-core"
import type { ServiceInfo } from "@nats-io/services"
import { Config, Context, Duration, Effect, Layer, PubSub, type Scope, type Stream } from "effect"
import { hostname } from "node:os"
import type { NodeAnnouncement } from "./Codec.ts"
import type { NatsUnavailable, NodeDown } from "./Errors.ts"
import { NodeImpl } from "./internal/node.ts"
import * as Subjects from "./internal/subjects.ts"
import { NatsConnection } from "./NatsConnection.ts"

/** A live node as this node sees it. */
export interface NodeInfo extends NodeAnnouncement {
  /** When its last heartbeat arrived (epoch ms). */
  readonly lastSeenAt: number
  /** True for this node itself. */
  readonly self: boolean
}

export type MemberEvent =
  | { readonly _tag: "Joined"; readonly node: NodeInfo }
  | { readonly _tag: "Down"; readonly down: NodeDown }

/**
 * How a probe ended: NATS said nothing subscribes (`none`), at least one node answered (`answered`),
 * or something subscribes but nothing answered within the wait (`silent`).
 */
export type ProbeEnd = "none" | "answered" | "silent"

export interface ProbeHandlers {
  /** A node that serves the actor answered (once per node and probe). */
  readonly server: (nodeId: string) => void
  /** The probe is over (called once, unless it was cancelled first). */
  readonly end: (outcome: ProbeEnd) => void
}

/** An ask as the in-flight registry sees it: something to fail. Settling it must `remove` it. */
export interface InflightAsk {
  /** Its serving node went down (or left). */
  readonly nodeDown: (down: NodeDown) => void
  /** The connection to NATS was lost: no reply can arrive. */
  readonly disconnected: () => void
}

/**
 * The remote asks in flight from one node, by the node serving each (`""` for an ask that went to the
 * queue group). Membership fails a node's asks the moment it declares that node down, and a lost
 * connection fails them all.
 */
export interface Inflight {
  add(node: string, ask: InflightAsk): void
  remove(node: string, ask: InflightAsk): void
  /** Fails every ask `down.node` was serving. */
  failNode(down: NodeDown): void
  /** Fails every ask (the connection is lost). */
  failAll(): void
  /** Asks in flight. */
  readonly size: number
}

export interface NodeOptions {
  /** Human-readable name; default `DSPEX_NODE_NAME`, else `<hostname>-<pid>`. */
  readonly name?: string
  /** Unique id (one subject token: no "."); default a fresh NUID per process. */
  readonly id?: string
  /** Semver reported to the services API (default "0.1.0"). */
  readonly version?: string
  /** Extra metadata announced with the node. */
  readonly metadata?: Readonly<Record<string, string>>
  /** Default `DSPEX_NODE_HEARTBEAT_INTERVAL`, else 1 second. */
  readonly heartbeatInterval?: Duration.Input
  /** Silence after which a node is down; default `DSPEX_NODE_LIVENESS_TIMEOUT`, else 3 seconds. */
  readonly livenessTimeout?: Duration.Input
  /**
   * How many membership events `events` buffers for its slowest subscriber (default 1024). A subscriber
   * that falls this far behind loses its oldest unread events (subscribers that keep up lose nothing), and
   * the losses are counted (`stats().droppedEvents`): one that stops reading cannot grow memory without limit.
   */
  readonly eventBuffer?: number
}

/** Counters of a node, for tests and health checks. */
export interface NodeStats {
  /** Live nodes, this one included. */
  readonly members: number
  /** Registered node-down watches (remote monitors, `watch`, `onNodeDown`). */
  readonly watchers: number
  /** Remote asks from this node waiting for a reply. */
  readonly pendingAsks: number
  /** Probes (`probe`) waiting for answers. */
  readonly probes: number
  /** Membership events a subscriber of `events` lost because it fell `eventBuffer` events behind. */
  readonly droppedEvents: number
}

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
   * Ids of the live nodes that serve `actor`, sorted, as the membership table knows them (a node that just
   * started may not have heard them yet). The same array is returned until membership changes, so it is
   * cheap enough to call per remote ask.
   *
   * @example
   * ```ts
   * import { Node } from "@dspex/runtime-nats"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const node = yield* Node.Node
   *   return node.servers("counter") // ["NODEID1", "NODEID2"]: asks to "counter" alternate between them
   * })
   * ```
   */
  readonly servers: (actor: string) => ReadonlyArray<string>
  /**
   * Registers a watch on a node; the inner effect completes once, when the node goes down. A node not
   * seen within the liveness timeout counts as down (`unknown`).
   */
  readonly watch: (nodeId: string) => Effect.Effect<Effect.Effect<NodeDown>>
  /** `watch` as a callback (called at most once); returns a function that cancels the watch. */
  readonly onNodeDown: (nodeId: string, f: (down: NodeDown) => void) => () => void
  /**
   * Asks NATS which nodes serve `actor` right now (each answers `dspex.probe.<actor>` with its id); the
   * answers and the end arrive through `handlers`, synchronously with the connection's other messages.
   * Returns a function that cancels the probe. While NATS is down the probe waits for it to come back,
   * and for a liveness timeout after that "no responders" is re-checked rather than believed.
   *
   * @example
   * ```ts
   * import { Node } from "@dspex/runtime-nats"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const node = yield* Node.Node
   *   const cancel = node.probe("counter", {
   *     server: (nodeId) => console.log(`${nodeId} serves counter`),
   *     end: (outcome) => console.log(outcome) // "none": nothing subscribes; "answered"; "silent": nobody answered in time
   *   })
   * })
   * ```
   */
  readonly probe: (actor: string, handlers: ProbeHandlers) => () => void
  /** The remote asks in flight from this node, by serving node; failed when that node goes down. */
  readonly inflight: Inflight
  /** Joins and downs as they happen (bounded: see `NodeOptions.eventBuffer`). */
  readonly events: Stream.Stream<MemberEvent>
  /** Asks NATS's services API who is out there (`$SRV.INFO.dspex-node`), waiting `maxWait` for answers. */
  readonly discover: (maxWait?: Duration.Input) => Effect.Effect<ReadonlyArray<ServiceInfo>, NatsUnavailable>
  /** Announces that this node serves `actor` while the current scope is open. */
  readonly announceActor: (actor: string) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Live counters: members, watches, asks in flight, probes, dropped events.
   *
   * @example
   * ```ts
   * import { Node } from "@dspex/runtime-nats"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const node = yield* Node.Node
   *   const { pendingAsks, droppedEvents } = node.stats()
   * })
   * ```
   */
  readonly stats: () => NodeStats
}

export class Node extends Context.Service<Node, NodeShape>()("@dspex/runtime-nats/Node") {}

const configOf = (options: NodeOptions) =>
  Effect.gen(function*() {
    const name = options.name ??
      (yield* Config.String("DSPEX_NODE_NAME").pipe(Config.withDefault(`${hostname()}-${process.pid}`)))
    const heartbeat = options.heartbeatInterval ??
      (yield* Config.Duration("DSPEX_NODE_HEARTBEAT_INTERVAL").pipe(Config.withDefault(Duration.seconds(1))))
    const liveness = options.livenessTimeout ??
      (yield* Config.Duration("DSPEX_NODE_LIVENESS_TIMEOUT").pipe(Config.withDefault(Duration.seconds(3))))
    const id = options.id ?? nuid.next()
    Subjects.assertValidNodeId(id)
    return {
      id,
      name,
      version: options.version ?? "0.1.0",
      metadata: options.metadata ?? {},
      heartbeatIntervalMs: Duration.toMillis(heartbeat),
      livenessTimeoutMs: Duration.toMillis(liveness)
    }
  })

/**
 * Starts this node for the lifetime of the current scope: announces it, heartbeats, tracks the others,
 * and leaves gracefully when the scope closes.
 *
 * @example
 * ```ts
 * import { NatsConnection, Node } from "@dspex/runtime-nats"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const node = yield* Node.make({ name: "worker-1", heartbeatInterval: "1 second", livenessTimeout: "3 seconds" })
 *   const [peer] = node.servers("counter") // the id of a node that serves "counter"
 *   if (peer === undefined) return
 *   const down = yield* node.watch(peer)
 *   yield* down // completes when that node stops heartbeating or leaves
 * }).pipe(Effect.scoped, Effect.provide(NatsConnection.layer()))
 * ```
 */
export const make = Effect.fn("Node.make")(function*(options: NodeOptions = {}) {
  const nats = yield* NatsConnection
  const config = yield* configOf(options)
  const events = yield* Effect.acquireRelease(
    PubSub.sliding<MemberEvent>(Math.max(1, options.eventBuffer ?? 1024)),
    PubSub.shutdown
  )
  const node = new NodeImpl(nats, config, events)
  yield* Effect.promise(() => node.register())
  node.start()
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => node.close()).pipe(Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.void }))
  )

  yield* Effect.forkScoped(
    Effect.forever(Effect.andThen(
      Effect.sleep(Duration.millis(config.heartbeatIntervalMs)),
      Effect.sync(() => node.heartbeat())
    ))
  )
  // a node is declared down at most one sweep period after its liveness timeout
  const sweepEveryMs = Math.max(10, Math.min(100, Math.floor(config.livenessTimeoutMs / 20)))
  yield* Effect.forkScoped(
    Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(sweepEveryMs)), Effect.sync(() => node.sweep())))
  )
  node.hello()
  return node as NodeShape
})

/**
 * The Node layer (needs a NatsConnection).
 *
 * @example
 * ```ts
 * import { NatsConnection, Node } from "@dspex/runtime-nats"
 * import { Effect, Layer } from "effect"
 *
 * const Live = Node.layer({ name: "worker-1" }).pipe(Layer.provideMerge(NatsConnection.layer()))
 * const program = Effect.gen(function*() {
 *   const nodes = yield* Node.members() // [{ name: "worker-1", actors: [...], self: true, ... }, ...]
 * }).pipe(Effect.provide(Live))
 * ```
 */
export const layer = (options?: NodeOptions): Layer.Layer<Node, Config.ConfigError, NatsConnection> =>
  Layer.effect(Node, make(options))

/**
 * The live nodes, this one included.
 *
 * @example
 * ```ts
 * import { Node } from "@dspex/runtime-nats"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const nodes = yield* Node.members() // [{ name: "worker-1", actors: ["counter"], self: true, ... }, ...]
 *   return nodes.filter((n) => n.actors.includes("counter")).map((n) => n.name)
 * })
 * ```
 */
export const members = (): Effect.Effect<ReadonlyArray<NodeInfo>, never, Node> => Node.use((node) => node.members)

/**
 * Registers a watch on a node of the current `Node`; the inner effect completes once, when it goes down
 * (see `NodeShape.watch`).
 *
 * @example
 * ```ts
 * import { Node } from "@dspex/runtime-nats"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const other = (yield* Node.members()).find((n) => !n.self)
 *   if (other === undefined) return
 *   const down = yield* Node.watch(other.id)
 *   const why = yield* down // NodeDown { reason: "left" | "timeout" | "unknown", ... }
 * })
 * ```
 */
export const watch = (nodeId: string): Effect.Effect<Effect.Effect<NodeDown>, never, Node> =>
  Node.use((node) => node.watch(nodeId))
