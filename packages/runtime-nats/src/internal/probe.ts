/**
 * "Who serves this actor right now?", asked of NATS rather than of the membership table: a request on
 * `dspex.probe.<name>`, which every serving node answers with its node id. A table that has heard nobody
 * yet (a node that just started) cannot tell "nobody serves it" from "I have not heard them yet"; NATS
 * can, since it answers "no responders" at once when nothing subscribes to the subject.
 *
 * Replies come in on one wildcard inbox subscription per node and are handed over synchronously, in the
 * order NATS delivered them relative to every other subscription of the connection: a monitor that
 * learns a server from its probe reply never misses an exit announcement that server published after
 * replying (an async iterator would let that announcement overtake the reply).
 *
 * While NATS is unreachable a probe waits for it; within one liveness timeout of this node's reconnect,
 * "no responders" is checked again every 100 ms rather than believed (the serving nodes reconnect and
 * subscribe again at their own pace). In a cluster of NATS servers, interest propagates between servers
 * asynchronously: a node that subscribed on another server a moment ago may not be seen yet.
 */
import { createInbox, type Msg, type Subscription } from "@nats-io/nats-core"
import type { NatsConnectionShape } from "../NatsConnection.ts"
import type { ProbeEnd, ProbeHandlers } from "../Node.ts"
import * as Subjects from "./subjects.ts"

export interface ProbeTimings {
  /** How long to wait for a first answer; also how long after a reconnect "no responders" is re-checked. */
  readonly maxWaitMs: number
  /** After an answer, how long to wait for more before ending. */
  readonly stallMs: number
}

/** Spacing of the re-checks of "no responders" shortly after a reconnect. */
const recheckMs = 100

export class Prober {
  private readonly prefix = `${createInbox()}.`
  private readonly runs = new Map<string, ProbeRun>()
  private next = 0
  private sub: Subscription | undefined
  private stopListening: (() => void) | undefined
  private reconnectedAt = Number.NEGATIVE_INFINITY
  private readonly nats: NatsConnectionShape
  private readonly timings: ProbeTimings

  constructor(nats: NatsConnectionShape, timings: ProbeTimings) {
    this.nats = nats
    this.timings = timings
  }

  start(): void {
    this.sub = this.nats.client.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err === null) this.runs.get(msg.subject.slice(this.prefix.length))?.receive(msg)
      }
    })
    this.stopListening = this.nats.onReconnect(() => {
      this.reconnectedAt = Date.now()
    })
  }

  close(): void {
    this.stopListening?.()
    this.sub?.unsubscribe()
    for (const run of [...this.runs.values()]) run.cancel()
  }

  /**
   * Probes `actor`; returns a function that cancels the probe. While NATS is unreachable the probe waits
   * for the connection to come back (and starts over if it is lost mid-probe): only NATS can say "nobody".
   */
  probe(actor: string, handlers: ProbeHandlers): () => void {
    const token = `${++this.next}`
    const run = new ProbeRun(
      this.nats,
      this.timings,
      Subjects.probeSubject(actor),
      `${this.prefix}${token}`,
      handlers,
      {
        forget: () => this.runs.delete(token),
        settling: () => Date.now() - this.reconnectedAt < this.timings.maxWaitMs
      }
    )
    this.runs.set(token, run)
    run.send()
    return () => run.cancel()
  }

  /** Probes in progress. */
  get size(): number {
    return this.runs.size
  }
}

const isNoResponders = (msg: Msg): boolean => msg.data.length === 0 && msg.headers?.code === 503

/** What a probe needs from its Prober. */
interface ProbeOwner {
  /** Drops the probe from the Prober's table. */
  readonly forget: () => void
  /** True shortly after a reconnect, while other nodes may still be reconnecting. */
  readonly settling: () => boolean
}

class ProbeRun {
  private readonly answered = new Set<string>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopWaiting: (() => void) | undefined
  private done = false
  private readonly nats: NatsConnectionShape
  private readonly timings: ProbeTimings
  private readonly subject: string
  private readonly reply: string
  private readonly handlers: ProbeHandlers
  private readonly prober: ProbeOwner

  constructor(
    nats: NatsConnectionShape,
    timings: ProbeTimings,
    subject: string,
    reply: string,
    handlers: ProbeHandlers,
    prober: ProbeOwner
  ) {
    this.nats = nats
    this.timings = timings
    this.subject = subject
    this.reply = reply
    this.handlers = handlers
    this.prober = prober
  }

  send(): void {
    if (!this.nats.isConnected()) return this.waitForConnection()
    try {
      this.nats.client.publish(this.subject, "", { reply: this.reply })
    } catch {
      return this.waitForConnection()
    }
    this.arm(this.timings.maxWaitMs)
  }

  receive(msg: Msg): void {
    if (this.done) return
    if (isNoResponders(msg)) {
      // right after NATS came back the serving nodes may not have reconnected and subscribed again yet:
      // "nobody" is only believed once they had the time to
      if (this.prober.settling()) return this.arm(recheckMs, () => this.send())
      return this.finish("none")
    }
    const nodeId = msg.string()
    if (nodeId === "" || this.answered.has(nodeId)) return
    this.answered.add(nodeId)
    this.arm(this.timings.stallMs)
    this.handlers.server(nodeId)
  }

  cancel(): void {
    this.done = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.stopWaiting?.()
    this.stopWaiting = undefined
    this.prober.forget()
  }

  private arm(ms: number, then: () => void = () => this.expire()): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      then()
    }, ms)
  }

  private expire(): void {
    // a connection lost mid-probe says nothing about the actor: ask again once it is back
    if (this.answered.size === 0 && !this.nats.isConnected()) return this.waitForConnection()
    this.finish(this.answered.size > 0 ? "answered" : "silent")
  }

  private waitForConnection(): void {
    if (this.done || this.stopWaiting !== undefined) return
    this.stopWaiting = this.nats.onReconnect(() => {
      this.stopWaiting?.()
      this.stopWaiting = undefined
      if (!this.done) this.send()
    })
  }

  private finish(outcome: ProbeEnd): void {
    if (this.done) return
    this.cancel()
    this.handlers.end(outcome)
  }
}
