/**
 * The remote asks in flight from one node, by the node serving each (`""` for an ask that went to the
 * queue group, where nobody knows which node took it). Membership fails a node's asks the moment it
 * declares that node down, and a lost connection fails them all: neither can be answered any more, and
 * waiting out each ask's timeout would only hide that. One registry per Node keeps the per-ask cost at a
 * Set insert and delete (no listener per ask).
 */
import type { NodeDown } from "../Errors.ts"
import type { Inflight, InflightAsk } from "../Node.ts"

export class InflightTable implements Inflight {
  /** Sets stay while their node lives (asks come and go all the time); a node's set goes with the node. */
  private readonly byNode = new Map<string, Set<InflightAsk>>()

  add(node: string, ask: InflightAsk): void {
    let asks = this.byNode.get(node)
    if (asks === undefined) this.byNode.set(node, asks = new Set())
    asks.add(ask)
  }

  remove(node: string, ask: InflightAsk): void {
    this.byNode.get(node)?.delete(ask)
  }

  /** Fails every ask `down.node` was serving. */
  failNode(down: NodeDown): void {
    const asks = this.byNode.get(down.node)
    if (asks === undefined) return
    this.byNode.delete(down.node)
    for (const ask of asks) ask.nodeDown(down)
  }

  /** Fails every ask (the connection is lost). */
  failAll(): void {
    const all = [...this.byNode.values()]
    this.byNode.clear()
    for (const asks of all) for (const ask of asks) ask.disconnected()
  }

  get size(): number {
    let n = 0
    for (const asks of this.byNode.values()) n += asks.size
    return n
  }
}
