import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { ActorGone, ActorUnreachable } from "../src/ActorError.ts"
import * as Runtime from "../src/index.ts"

describe("ActorUnreachable", () => {
  it("names the actor and the transport failure; retryable is per instance", () => {
    const down = new ActorUnreachable({
      actor: "counter",
      transport: "NatsUnavailable",
      detail: "connection refused",
      retryable: true
    })
    assert.strictEqual(down._tag, "ActorUnreachable")
    assert.include(down.message, "counter")
    assert.include(down.message, "NatsUnavailable")
    assert.include(down.message, "connection refused")
    assert.isTrue(down.retryable)
    assert.include(down.suggestion, "Retry")

    const mismatch = new ActorUnreachable({
      actor: "counter",
      transport: "RemoteReplyInvalid",
      detail: "bad reply",
      retryable: false
    })
    assert.isFalse(mismatch.retryable)
    assert.notStrictEqual(mismatch.suggestion, down.suggestion)
    // unlike ActorGone, which says the actor itself stopped and is never retryable
    assert.isFalse(new ActorGone({ actor: "counter", reason: { _tag: "Shutdown" } }).retryable)
  })

  it("is exported from the package entry point", () => {
    assert.strictEqual(Runtime.ActorError.ActorUnreachable, ActorUnreachable)
  })

  it("round-trips through its Schema (it can cross the wire) keeping retryable", () => {
    const error = new ActorUnreachable({ actor: "a", transport: "NoResponders", detail: "nobody", retryable: true })
    const encoded = Schema.encodeUnknownSync(ActorUnreachable)(error)
    assert.deepStrictEqual(encoded, {
      _tag: "ActorUnreachable",
      actor: "a",
      transport: "NoResponders",
      detail: "nobody",
      retryable: true
    })
    const decoded = Schema.decodeUnknownSync(ActorUnreachable)(encoded)
    assert.instanceOf(decoded, ActorUnreachable)
    assert.isTrue(decoded.retryable)
  })

  it.effect("can be caught by tag", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.fail(new ActorUnreachable({ actor: "a", transport: "NatsUnavailable", detail: "down", retryable: true }))
          .pipe(
            Effect.catchTag("ActorUnreachable", (e) => Effect.succeed(e.actor))
          )
      )
      assert.deepStrictEqual(exit, Exit.succeed("a"))
    }))
})
