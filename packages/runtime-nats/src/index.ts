/**
 * @dspex/runtime-nats: DSPex actors reachable across nodes over NATS. A `NatsConnection` per process, a
 * `Node` for membership and liveness (NATS services API + heartbeats), and `RemoteActor.serve` / `ref`
 * so the same `ActorRef` code reaches an actor here or on another node.
 */
export * as Codec from "./Codec.ts"
export * as Errors from "./Errors.ts"
export * as NatsConnection from "./NatsConnection.ts"
export * as Node from "./Node.ts"
export * as RemoteActor from "./RemoteActor.ts"
