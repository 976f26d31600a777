/**
 * @dspex/runtime-nats: DSPex actors reachable across nodes over NATS. A `NatsConnection` per process, a
 * `Node` for membership and liveness (NATS services API + heartbeats), and `RemoteActor.serve` / `ref`
 * so the same `ActorRef` code reaches an actor here or on another node.
 */
export { NatsConnection, type ConnectionState, type NatsConnectionOptions, type NatsConnectionShape } from "./NatsConnection.ts"
export { Node, type MemberEvent, type NodeInfo, type NodeOptions, type NodeShape, type NodeStats } from "./Node.ts"
export * as RemoteActor from "./RemoteActor.ts"
export type { RefOptions, RemoteActorApi, RemoteActorRef, RemoteError, ServeOptions } from "./RemoteActor.ts"
export * as Codec from "./Codec.ts"
export * from "./Errors.ts"
