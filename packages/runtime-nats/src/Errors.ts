/**
 * Typed errors of the NATS transport. Actor-level failures reuse @dspex/runtime's errors (`AskTimeout`,
 * `ActorGone`, `MessageRejected`, `MailboxFull`); these are the failures only a network adds. Each says
 * whether a retry can help (`retryable`) and what to do (`suggestion`). A remote ref's `ask`/`tell` reports
 * them as the runtime's `ActorUnreachable` (see `RemoteActor.toActorUnreachable`); `askRemote`/`tellRemote`
 * return them as themselves.
 */
import { Schema } from "effect"

/**
 * NATS cannot be reached: at start (the server is down or the URL is wrong), or right now (the
 * connection was lost and the client is reconnecting; requests fail fast instead of waiting out their
 * timeout).
 */
export class NatsUnavailable extends Schema.TaggedError<NatsUnavailable>()("NatsUnavailable", {
  url: Schema.String,
  detail: Schema.String
}) {
  readonly retryable = true
  override get message() {
    return `NATS at ${this.url} is unavailable: ${this.detail}`
  }
  get suggestion() {
    return "Start nats-server (e.g. `nats-server -p 4222`) or point DSPEX_NATS_URL at a reachable server; a lost connection heals by itself once NATS is back."
  }
}

/**
 * Nobody serves the actor's cluster name right now: NATS answered "no responders" at once. The actor
 * may be starting or restarting elsewhere.
 */
export class NoResponders extends Schema.TaggedError<NoResponders>()("NoResponders", {
  actor: Schema.String,
  subject: Schema.String
}) {
  readonly retryable = true
  override get message() {
    return `no node serves actor ${this.actor} (nothing subscribed to ${this.subject})`
  }
  get suggestion() {
    return "Check that a node runs RemoteActor.serve for this name (see Node.members()), or retry once its supervisor has restarted it."
  }
}

/**
 * A node stopped: it left gracefully (`left`), stopped heartbeating for the liveness timeout (`timeout`), or
 * was watched but never seen within it (`unknown`). Membership reports it (`Node.watch`, `Node.events`);
 * monitors and pending asks turn it into the `NodeDown` exit reason (a graceful leave into `Shutdown`).
 */
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

/**
 * A reply from a remote actor did not fit the protocol (a different protocol version on the other node,
 * or a reply that is not JSON). The request may have been processed.
 */
export class RemoteReplyInvalid extends Schema.TaggedError<RemoteReplyInvalid>()("RemoteReplyInvalid", {
  actor: Schema.String,
  tag: Schema.String,
  path: Schema.String,
  issue: Schema.String
}) {
  readonly retryable = false
  override get message() {
    return `reply to "${this.tag}" from remote actor ${this.actor} does not fit the protocol${
      this.path === "" ? "" : ` at ${this.path}`
    }: ${this.issue}`
  }
  get suggestion() {
    return "Run the same protocol version on every node that serves or calls this actor."
  }
}
