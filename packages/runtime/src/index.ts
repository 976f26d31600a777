/**
 * @dspex/runtime: OTP-style supervision trees and typed local actors on Effect.
 *
 * - `Supervisor` / `ChildSpec`: supervised processes with restart strategies, intensity and escalation.
 * - `Actor` / `Protocol` / `ActorRef`: typed actors with bounded mailboxes, monitors and links.
 * - `Registry`: actors by name, and process groups.
 * - `ActorError`: the typed errors and exit reasons; `SupervisorEvent`: events and snapshots of a tree.
 */
export * as Actor from "./Actor.ts"
export * as ActorError from "./ActorError.ts"
export * as ActorRef from "./ActorRef.ts"
export * as ChildSpec from "./ChildSpec.ts"
export * as Mailbox from "./Mailbox.ts"
export * as Protocol from "./Protocol.ts"
export * as Registry from "./Registry.ts"
export * as Supervisor from "./Supervisor.ts"
export * as SupervisorEvent from "./SupervisorEvent.ts"
