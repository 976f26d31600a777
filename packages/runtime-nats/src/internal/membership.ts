/**
 * One node's membership table: who is alive (from heartbeats), which actors each serves, and who watches
 * whom. Plain synchronous state driven by Node's NATS callbacks and its sweep, so a heartbeat costs a Map
 * lookup and the per-ask lookup of an actor's servers (`servers`) a cached array.
 */
import type { NodeAnnouncement } from "../Codec.ts"
import { NodeDown } from "../Errors.ts"
import type { NodeInfo } from "../Node.ts"

/** What the table tells its owner: a node joined, a node went down. */
export interface MembershipHooks {
  readonly joined: (node: NodeInfo) => void
  readonly down: (down: NodeDown) => void
}

interface Entry {
  info: NodeAnnouncement
  lastSeenAt: number
}

interface Watcher {
  readonly notify: (down: NodeDown) => void
  /** When the watch started (or the connection came back): a node never seen counts as down a liveness timeout later. */
  since: number
}

const none: ReadonlyArray<string> = []

const sameActors = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export class Membership {
  private readonly table = new Map<string, Entry>()
  private readonly watchers = new Map<string, Set<Watcher>>()
  /**
   * actor → ids of the live nodes serving it. Built on first use and dropped whenever a node joins, goes
   * down or changes its actors, so remote asks read a ready array instead of filtering the table each time.
   */
  private serversByActor = new Map<string, ReadonlyArray<string>>()

  readonly selfId: string
  readonly livenessTimeoutMs: number
  private readonly hooks: MembershipHooks

  constructor(selfId: string, livenessTimeoutMs: number, hooks: MembershipHooks) {
    this.selfId = selfId
    this.livenessTimeoutMs = livenessTimeoutMs
    this.hooks = hooks
  }

  /** A heartbeat (or this node's own announcement) arrived. */
  seen(info: NodeAnnouncement, now: number): void {
    const existing = this.table.get(info.id)
    if (existing !== undefined) {
      if (!sameActors(existing.info.actors, info.actors)) this.serversByActor = new Map()
      existing.info = info
      existing.lastSeenAt = now
      return
    }
    const entry: Entry = { info, lastSeenAt: now }
    this.table.set(info.id, entry)
    this.serversByActor = new Map()
    this.hooks.joined(this.toInfo(entry))
  }

  /** The node left (`left`) or stopped heartbeating (`timeout`); this node itself never goes. */
  gone(nodeId: string, reason: "left" | "timeout", now: number): void {
    const entry = this.table.get(nodeId)
    if (entry === undefined || nodeId === this.selfId) return
    this.table.delete(nodeId)
    this.serversByActor = new Map()
    this.fire(new NodeDown({ node: nodeId, name: entry.info.name, reason, silentMs: now - entry.lastSeenAt }))
  }

  /** Declares down every node silent for longer than the liveness timeout, and every watched node never seen. */
  sweep(now: number): void {
    for (const [nodeId, entry] of this.table) {
      if (nodeId !== this.selfId && now - entry.lastSeenAt > this.livenessTimeoutMs) this.gone(nodeId, "timeout", now)
    }
    for (const [nodeId, ws] of this.watchers) {
      if (this.table.has(nodeId)) continue
      for (const w of ws) {
        if (now - w.since <= this.livenessTimeoutMs) continue
        ws.delete(w)
        w.notify(new NodeDown({ node: nodeId, name: nodeId, reason: "unknown", silentMs: now - w.since }))
      }
      if (ws.size === 0) this.watchers.delete(nodeId)
    }
  }

  /** A fresh grace period for every node and watch (after this node's own connection came back). */
  graceAll(now: number): void {
    for (const entry of this.table.values()) entry.lastSeenAt = now
    for (const ws of this.watchers.values()) for (const w of ws) w.since = now
  }

  /** Calls `notify` once when `nodeId` goes down; returns a function that cancels the watch. */
  onNodeDown(nodeId: string, notify: (down: NodeDown) => void, now: number): () => void {
    let ws = this.watchers.get(nodeId)
    if (ws === undefined) this.watchers.set(nodeId, ws = new Set())
    const w: Watcher = { notify, since: now }
    ws.add(w)
    return () => {
      const current = this.watchers.get(nodeId)
      if (current === undefined) return
      current.delete(w)
      if (current.size === 0) this.watchers.delete(nodeId)
    }
  }

  /** Ids of the live nodes serving `actor`, sorted (the same array until membership changes). */
  servers(actor: string): ReadonlyArray<string> {
    let ids = this.serversByActor.get(actor)
    if (ids === undefined) {
      const found: Array<string> = []
      for (const [id, entry] of this.table) if (entry.info.actors.includes(actor)) found.push(id)
      ids = found.length === 0 ? none : found.sort()
      this.serversByActor.set(actor, ids)
    }
    return ids
  }

  /** The live nodes (this one included), by name. */
  live(): ReadonlyArray<NodeInfo> {
    return [...this.table.values()].map((e) => this.toInfo(e)).sort((a, b) =>
      a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
    )
  }

  get size(): number {
    return this.table.size
  }

  get watcherCount(): number {
    let n = 0
    for (const ws of this.watchers.values()) n += ws.size
    return n
  }

  private fire(down: NodeDown): void {
    const ws = this.watchers.get(down.node)
    this.watchers.delete(down.node)
    if (ws !== undefined) { for (const w of ws) w.notify(down) }
    this.hooks.down(down)
  }

  private toInfo(e: Entry): NodeInfo {
    return { ...e.info, lastSeenAt: e.lastSeenAt, self: e.info.id === this.selfId }
  }
}
