/**
 * A local registry of actors by name, and named process groups (OTP's `register`/`whereis` and `pg`).
 *
 * A name (or a group membership) lasts until it is removed or the actor stops for good: the registry watches each
 * registered ref and drops it when the actor stops (a restart keeps the name, since a ref spans restarts). Remote
 * refs are dropped at their first exit notification.
 */
import { Context, Effect, FiberSet, Layer, Option } from "effect"
import type { Scope } from "effect"
import * as Actor from "./Actor.ts"
import { NameTaken } from "./ActorError.ts"
import type { ActorRef } from "./ActorRef.ts"
import type * as Protocol from "./Protocol.ts"

export interface RegistryShape {
  /** Registers `ref` under `name`; fails with `NameTaken` if another live ref holds it (same ref: no-op). */
  readonly register: <P extends Protocol.Any>(name: string, ref: ActorRef<P>) => Effect.Effect<void, NameTaken>
  /** The ref registered under `name`; pass the protocol to get a typed ref (a ref of another protocol: None). */
  readonly whereis: <P extends Protocol.Any = Protocol.Any>(
    name: string,
    protocol?: P
  ) => Effect.Effect<Option.Option<ActorRef<P>>>
  readonly unregister: (name: string) => Effect.Effect<void>
  readonly join: <P extends Protocol.Any>(group: string, ref: ActorRef<P>) => Effect.Effect<void>
  readonly leave: <P extends Protocol.Any>(group: string, ref: ActorRef<P>) => Effect.Effect<void>
  /** The group's members; pass the protocol to get typed refs (members of another protocol are left out). */
  readonly members: <P extends Protocol.Any = Protocol.Any>(
    group: string,
    protocol?: P
  ) => Effect.Effect<ReadonlyArray<ActorRef<P>>>
  readonly names: Effect.Effect<ReadonlyArray<string>>
}

export class Registry extends Context.Service<Registry, RegistryShape>()("@dspex/runtime/Registry") {}

/**
 * A fresh in-memory registry whose watchers live in the given scope.
 *
 * @example
 * ```ts
 * import { Registry } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const registry = yield* Registry.make // its watchers live in this scope
 *   return yield* registry.names // []
 * }))
 * ```
 */
export const make: Effect.Effect<RegistryShape, never, Scope.Scope> = Effect.gen(function*() {
  const names = new Map<string, ActorRef<Protocol.Any>>()
  const groups = new Map<string, Set<ActorRef<Protocol.Any>>>()
  const watched = new Set<ActorRef<Protocol.Any>>()
  const watchers = yield* FiberSet.make()

  const forget = (ref: ActorRef<Protocol.Any>) => {
    watched.delete(ref)
    for (const [name, r] of names) if (r === ref) names.delete(name)
    for (const [group, set] of groups) {
      set.delete(ref)
      if (set.size === 0) groups.delete(group)
    }
  }

  const watch = (ref: ActorRef<Protocol.Any>) =>
    Effect.suspend(() => {
      if (watched.has(ref)) return Effect.void
      watched.add(ref)
      return FiberSet.run(watchers, Effect.flatMap(Actor.awaitStopped(ref), () => Effect.sync(() => forget(ref)))).pipe(
        Effect.asVoid
      )
    })

  const stopped = (ref: ActorRef<Protocol.Any>) => Actor.stats(ref)?.status === "stopped"

  return {
    register: (name, ref) =>
      Effect.suspend(() => {
        const held = names.get(name)
        if (held === ref) return Effect.void
        if (held !== undefined && !stopped(held)) return Effect.fail(new NameTaken({ name }))
        if (stopped(ref)) return Effect.void
        names.set(name, ref)
        return watch(ref)
      }),
    whereis: <P extends Protocol.Any>(name: string, protocol?: P) =>
      Effect.sync(() => {
        const ref = names.get(name)
        if (ref === undefined || stopped(ref) || (protocol !== undefined && ref.protocol !== protocol)) {
          return Option.none()
        }
        return Option.some(ref as ActorRef<P>)
      }),
    unregister: (name) => Effect.sync(() => void names.delete(name)),
    join: (group, ref) =>
      Effect.suspend(() => {
        if (stopped(ref)) return Effect.void
        let set = groups.get(group)
        if (set === undefined) groups.set(group, set = new Set())
        set.add(ref)
        return watch(ref)
      }),
    leave: (group, ref) =>
      Effect.sync(() => {
        const set = groups.get(group)
        set?.delete(ref)
        if (set?.size === 0) groups.delete(group)
      }),
    members: <P extends Protocol.Any>(group: string, protocol?: P) =>
      Effect.sync(() =>
        Array.from(groups.get(group) ?? []).filter((ref) =>
          protocol === undefined || ref.protocol === protocol
        ) as unknown as ReadonlyArray<ActorRef<P>>
      ),
    names: Effect.sync(() => Array.from(names.keys()))
  }
})

/** The registry as a service (one per layer build). */
export const layer: Layer.Layer<Registry> = Layer.effect(Registry, make)

/**
 * Registers `ref` under `name` in the `Registry` service.
 *
 * @example
 * ```ts
 * import { Actor, Protocol, Registry } from "@dspex/runtime"
 * import { Effect, Schema } from "effect"
 *
 * const Cache = Actor.make({
 *   protocol: Protocol.make({ Size: { success: Schema.Number } }),
 *   initialState: new Map<string, string>(),
 *   handlers: { Size: (_, s) => Effect.succeed([s.size, s] as const) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const ref = yield* Actor.start(Cache)
 *   yield* Registry.register("cache", ref) // fails with NameTaken if another live actor holds the name
 * }).pipe(Effect.scoped, Effect.provide(Registry.layer))
 * ```
 */
export const register = <P extends Protocol.Any>(name: string, ref: ActorRef<P>) =>
  Effect.flatMap(Effect.service(Registry), (r) => r.register(name, ref))
/**
 * The ref registered under `name` in the `Registry` service; pass the protocol to get a typed ref.
 *
 * @example
 * ```ts
 * import { Protocol, Registry } from "@dspex/runtime"
 * import { Effect, Option, Schema } from "effect"
 *
 * const CacheProtocol = Protocol.make({ Size: { success: Schema.Number } })
 *
 * const program = Effect.gen(function*() {
 *   const ref = yield* Registry.whereis("cache", CacheProtocol) // Option<ActorRef<typeof CacheProtocol>>
 *   if (Option.isNone(ref)) return 0
 *   return yield* ref.value.ask({ _tag: "Size" }) // number
 * }).pipe(Effect.provide(Registry.layer))
 * ```
 */
export const whereis = <P extends Protocol.Any = Protocol.Any>(name: string, protocol?: P) =>
  Effect.flatMap(Effect.service(Registry), (r) => r.whereis(name, protocol))
export const unregister = (name: string) => Effect.flatMap(Effect.service(Registry), (r) => r.unregister(name))
export const join = <P extends Protocol.Any>(group: string, ref: ActorRef<P>) =>
  Effect.flatMap(Effect.service(Registry), (r) => r.join(group, ref))
export const leave = <P extends Protocol.Any>(group: string, ref: ActorRef<P>) =>
  Effect.flatMap(Effect.service(Registry), (r) => r.leave(group, ref))
export const members = <P extends Protocol.Any = Protocol.Any>(group: string, protocol?: P) =>
  Effect.flatMap(Effect.service(Registry), (r) => r.members<P>(group, protocol))
