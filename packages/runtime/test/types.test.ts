/**
 * Compile-time checks of the typed API (checked by `tsc`); the runtime part only keeps vitest happy. The
 * deliberate type errors below (`@ts-expect-error`) would also be reported by Effect's language service.
 */
// @effect-diagnostics missingEffectError:off
import { assert, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Actor from "../src/Actor.ts"
import type { ActorGone, ActorUnreachable, AskTimeout, MailboxFull, MessageRejected } from "../src/ActorError.ts"
import type { ActorRef } from "../src/ActorRef.ts"
import * as Protocol from "../src/Protocol.ts"
import * as Registry from "../src/Registry.ts"

class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

const P = Protocol.make({
  Get: { payload: Schema.Struct({ key: Schema.String }), success: Schema.Number },
  Put: { payload: Schema.Struct({ key: Schema.String, value: Schema.Number }) },
  Explode: { error: Boom }
})

// Never called: only type-checked.
export const typeChecks = (ref: ActorRef<typeof P>) => {
  const getReply: Effect.Effect<number, AskTimeout | MailboxFull | ActorGone | MessageRejected | ActorUnreachable> = ref
    .ask({ _tag: "Get", key: "x" })
  const putReply: Effect.Effect<void, AskTimeout | MailboxFull | ActorGone | MessageRejected | ActorUnreachable> = ref
    .ask({ _tag: "Put", key: "a", value: 1 })
  const explode: Effect.Effect<void, Boom | AskTimeout | MailboxFull | ActorGone | MessageRejected | ActorUnreachable> =
    ref.ask({ _tag: "Explode" })
  // @ts-expect-error Get has no typed error
  const noError: Effect.Effect<number, AskTimeout | MailboxFull | ActorGone | ActorUnreachable> = ref.ask({
    _tag: "Get",
    key: "x"
  })
  const told: Effect.Effect<void, MailboxFull | ActorGone | MessageRejected | ActorUnreachable> = ref.tell({
    _tag: "Put",
    key: "a",
    value: 1
  })
  // @ts-expect-error tell can fail with ActorUnreachable (over a transport)
  const toldLocalOnly: Effect.Effect<void, MailboxFull | ActorGone | MessageRejected> = ref.tell({
    _tag: "Put",
    key: "a",
    value: 1
  })
  // @ts-expect-error wrong payload type
  const badPayload = ref.tell({ _tag: "Get", key: 1 })
  // @ts-expect-error unknown tag
  const badTag = ref.tell({ _tag: "Nope" })
  return [getReply, putReply, explode, noError, told, toldLocalOnly, badPayload, badTag]
}

/** A ref type of one's own (a transport's, say) that extends ActorRef still goes wherever a ref goes. */
interface TracedRef<Q extends Protocol.Any> extends ActorRef<Q> {
  readonly traceId: string
}

// Never called: only type-checked.
export const refsOfAnyProtocol = (a: ActorRef<typeof P>, b: TracedRef<typeof P>, registry: Registry.RegistryShape) => [
  Actor.link(a, b),
  Actor.linked(b, Effect.void),
  Actor.awaitStopped(b),
  Actor.stats(b),
  registry.register("b", b),
  registry.join("g", b),
  Registry.register("a", a)
]

export const def = Actor.make({
  protocol: P,
  initialState: 0,
  handlers: {
    Get: ({ key }, s) => Effect.succeed([key.length + s, s] as const),
    Put: ({ value }, s) => Effect.succeed([undefined, s + value] as const),
    Explode: () => Effect.fail(new Boom())
  }
})

export const wrongReply = Actor.make({
  protocol: P,
  initialState: 0,
  handlers: {
    // @ts-expect-error Get must reply with a number
    Get: (_, s) => Effect.succeed(["nope", s] as const),
    Put: (_, s) => Effect.succeed([undefined, s] as const),
    Explode: (_, s) => Effect.succeed([undefined, s] as const)
  }
})

it("type-level checks compile", () => {
  assert.strictEqual(P.tags.length, 3)
})
