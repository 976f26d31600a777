/** Helpers the runtime-nats tests share: this process as a client node, timing, typed failures, polling. */
import { Cause, Data, Effect, Exit, Layer } from "effect"
import * as NatsConnection from "../../src/NatsConnection.ts"
import * as Node from "../../src/Node.ts"

/** Nodes in the tests heartbeat every 200 ms and count as down after 1 s of silence. */
export const heartbeatMs = 200
export const livenessMs = 1000

/** This test process as a node of its own (it calls actors; it serves none). */
export const clientLayer = (url: string, options: Node.NodeOptions = {}) =>
  Node.layer({ name: "test-client", heartbeatInterval: heartbeatMs, livenessTimeout: livenessMs, ...options }).pipe(
    Layer.provideMerge(NatsConnection.layer({ servers: url, name: options.name ?? "test-client" }))
  )

export const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - t0 }
  })

export const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason?._tag !== "Fail") throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return reason.error
}

/** Retries `effect` every 100 ms until it succeeds or `withinMs` passes. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, withinMs: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + withinMs
    for (;;) {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit) || Date.now() > deadline) return yield* exit
      yield* Effect.sleep("100 millis")
    }
  })

/** `until` ran out of time: what did not happen. */
export class NotWithin extends Data.TaggedError("NotWithin")<{ readonly what: string; readonly withinMs: number }> {
  override get message() {
    return `not within ${this.withinMs} ms: ${this.what}`
  }
}

/** Succeeds once `predicate()` holds (polled every 20 ms), fails with `what` after `withinMs`. */
export const until = (predicate: () => boolean, withinMs: number, what: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + withinMs
    while (!predicate()) {
      if (Date.now() > deadline) return yield* new NotWithin({ what, withinMs })
      yield* Effect.sleep("20 millis")
    }
  })

/**
 * Whether anything subscribes to `subject`, asked of NATS itself: a request there gets "no responders" at
 * once when nothing does, and no answer at all when only silent subscribers (monitors) do.
 */
export const isSubscribed = (subject: string) =>
  Effect.gen(function*() {
    const nats = yield* NatsConnection.NatsConnection
    return yield* Effect.promise(() =>
      nats.client.request(subject, "", { timeout: 300 }).then(
        () => true,
        (e: { isNoResponders?: () => boolean }) => !(typeof e.isNoResponders === "function" && e.isNoResponders())
      )
    )
  })
