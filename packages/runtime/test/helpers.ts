/**
 * Test helpers: controllable children that log their starts and stops, an event waiter, and a fiber tracker
 * built on Effect's `Metric.FiberRuntimeMetrics` hook (every fiber forked under it is counted).
 */
import { Deferred, Effect, Metric, PubSub } from "effect"
import type { Scope } from "effect"
import * as ChildSpec from "../src/ChildSpec.ts"
import type { SupervisorEvent } from "../src/SupervisorEvent.ts"

export interface Probe {
  readonly log: Array<string>
  /** Incarnation count per child id. */
  readonly starts: Map<string, number>
  readonly child: (
    id: string,
    options?: ChildSpec.Options & { readonly failStart?: (n: number) => boolean }
  ) => ChildSpec.ChildSpec
  /** Makes the child's current incarnation fail. */
  readonly crash: (id: string, error?: string) => Effect.Effect<void>
  /** Makes the child's current incarnation return normally. */
  readonly exit: (id: string) => Effect.Effect<void>
}

export const makeProbe = (): Probe => {
  const log: Array<string> = []
  const starts = new Map<string, number>()
  const triggers = new Map<string, Deferred.Deferred<void, string>>()
  return {
    log,
    starts,
    child: (id, options) =>
      ChildSpec.withInit(
        id,
        Effect.gen(function*() {
          const n = (starts.get(id) ?? 0) + 1
          starts.set(id, n)
          if (options?.failStart?.(n) === true) {
            log.push(`startfail:${id}`)
            return yield* Effect.fail(`start ${id} failed`)
          }
          const trigger = Deferred.makeUnsafe<void, string>()
          triggers.set(id, trigger)
          yield* Effect.addFinalizer(() => Effect.sync(() => log.push(`stop:${id}`)))
          log.push(`start:${id}`)
          return trigger
        }),
        (trigger) => Deferred.await(trigger),
        options
      ),
    crash: (id, error = "boom") => Effect.suspend(() => Deferred.fail(triggers.get(id)!, error)).pipe(Effect.asVoid),
    exit: (id) => Effect.suspend(() => Deferred.succeed(triggers.get(id)!, undefined)).pipe(Effect.asVoid)
  }
}

/** Takes events until one matches; returns all taken (the match last). */
export const waitFor = (
  sub: PubSub.Subscription<SupervisorEvent>,
  pred: (e: SupervisorEvent) => boolean
): Effect.Effect<Array<SupervisorEvent>> =>
  Effect.gen(function*() {
    const seen: Array<SupervisorEvent> = []
    for (;;) {
      const e = yield* PubSub.take(sub)
      seen.push(e)
      if (pred(e)) return seen
    }
  })

export const is = (tag: SupervisorEvent["_tag"], child?: string) => (e: SupervisorEvent) =>
  e._tag === tag && (child === undefined || ("child" in e && e.child === child))

export interface FiberTracker {
  readonly started: () => number
  readonly active: () => number
}

/** Runs `effect` (scoped: the scope closes before returning) counting every fiber forked inside it. */
export const tracked = <A, E, R>(
  effect: (tracker: FiberTracker) => Effect.Effect<A, E, R>
): Effect.Effect<
  { readonly result: A; readonly active: number; readonly started: number },
  E,
  Exclude<R, Scope.Scope>
> =>
  Effect.gen(function*() {
    let started = 0
    let active = 0
    const tracker: FiberTracker = { started: () => started, active: () => active }
    const service: Metric.FiberRuntimeMetricsService = {
      recordFiberStart: () => {
        started++
        active++
      },
      recordFiberEnd: () => {
        active--
      }
    }
    const result = yield* Effect.scoped(effect(tracker)).pipe(
      Effect.provideService(Metric.FiberRuntimeMetrics, service)
    )
    // Let fibers that were interrupted finish unwinding on the scheduler.
    for (let i = 0; i < 5 && active > 0; i++) yield* Effect.yieldNow
    return { result, active, started }
  }) as any
