import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import * as Protocol from "../src/Protocol.ts"

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { key: Schema.String }) {}

const P = Protocol.make({
  Get: { payload: Schema.Struct({ key: Schema.String }), success: Schema.Number, error: NotFound },
  Put: { payload: Schema.Struct({ key: Schema.String, items: Schema.Array(Schema.Struct({ n: Schema.Number })) }) },
  At: { payload: Schema.Struct({ when: Schema.Date }), success: Schema.Date }
})

const violation = (exit: Exit.Exit<unknown, Protocol.Violation>) => {
  assert.isTrue(Exit.isFailure(exit))
  const r = (exit as Exit.Failure<unknown, Protocol.Violation>).cause.reasons[0]!
  return r._tag === "Fail" ? r.error : undefined
}

describe("Protocol", () => {
  it("validates messages and reports the failing path", () => {
    assert.isTrue(Exit.isSuccess(P.validate({ _tag: "Get", key: "a" })))
    const v = violation(P.validate({ _tag: "Put", key: "a", items: [{ n: 1 }, { n: "2" }] }))!
    assert.strictEqual(v.tag, "Put")
    assert.strictEqual(v.path, "items[1].n")
    assert.match(v.issue, /number/)
    assert.deepStrictEqual(violation(P.validate({ _tag: "Nope" }))?.path, "_tag")
    assert.deepStrictEqual(violation(P.validate(42))?.tag, "<none>")
    assert.strictEqual(violation(P.validate({ _tag: "Get" }))?.issue, "Missing key")
  })

  it("encodes and decodes messages, replies and handler errors for the wire", () => {
    const when = new Date("2024-01-02T03:04:05.000Z")
    const encoded = P.encodeMessage({ _tag: "At", when })
    assert.isTrue(Exit.isSuccess(encoded))
    const json = JSON.parse(JSON.stringify((encoded as Exit.Success<unknown>).value))
    assert.deepStrictEqual(json, { _tag: "At", when: "2024-01-02T03:04:05.000Z" })
    const decoded = P.decodeMessage(json)
    assert.isTrue(Exit.isSuccess(decoded))
    assert.instanceOf(((decoded as Exit.Success<unknown>).value as { when: Date }).when, Date)

    const reply = P.encodeReply("Get", 3)
    assert.deepStrictEqual(reply, Exit.succeed(3))
    assert.isTrue(Exit.isFailure(P.decodeReply("Get", "three")))

    const err = P.encodeError("Get", new NotFound({ key: "k" }))
    assert.isTrue(Exit.isSuccess(err))
    const back = P.decodeError("Get", JSON.parse(JSON.stringify((err as Exit.Success<unknown>).value)))
    assert.isTrue(Exit.isSuccess(back))
    assert.instanceOf((back as Exit.Success<unknown>).value, NotFound)
    // A tag without a declared error has no encodable error.
    assert.isTrue(Exit.isFailure(P.encodeError("Put", "anything")))
  })
})
