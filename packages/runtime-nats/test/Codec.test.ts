import { ActorError } from "@dspex/runtime"
import { describe, expect, it } from "@effect/vitest"
import { Cause } from "effect"
import * as Codec from "../src/Codec.ts"
import { RemoteReplyInvalid } from "../src/Errors.ts"
import { validName } from "../src/internal/subjects.ts"
import { Counter, Overdrawn } from "./support/protocol.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("Codec: requests", () => {
  it("a message survives encode → wire → decode", () => {
    const encoded = Codec.encodeRequest(Counter, "counter", { _tag: "Add", n: 2 })
    expect(encoded.ok && JSON.parse(encoded.value)).toEqual({ _tag: "Add", n: 2 })
    const decoded = encoded.ok ? Codec.decodeRequest(Counter, "counter", bytes(encoded.value)) : undefined
    expect(decoded).toEqual({ ok: true, value: { _tag: "Add", n: 2 } })
  })

  it("a request that does not fit the protocol is a MessageRejected naming the path", () => {
    const wrongType = Codec.decodeRequest(Counter, "counter", bytes(`{"_tag":"Add","n":"two"}`))
    expect(wrongType.ok).toBe(false)
    if (!wrongType.ok) {
      expect(wrongType.error).toBeInstanceOf(ActorError.MessageRejected)
      expect([wrongType.error.actor, wrongType.error.tag, wrongType.error.path]).toEqual(["counter", "Add", "n"])
    }
    const unknownTag = Codec.decodeRequest(Counter, "counter", bytes(`{"_tag":"Reset"}`))
    expect(!unknownTag.ok && [unknownTag.error.tag, unknownTag.error.path]).toEqual(["Reset", "_tag"])
    const notJson = Codec.decodeRequest(Counter, "counter", bytes("Add 2"))
    expect(!notJson.ok && notJson.error.issue).toBe("the request is not JSON")
  })

  it("the sender refuses an invalid message before it reaches the wire", () => {
    const encoded = Codec.encodeRequest(Counter, "counter", { _tag: "Add", n: "two" } as never)
    expect(!encoded.ok && [encoded.error._tag, encoded.error.path]).toEqual(["MessageRejected", "n"])
  })
})

describe("Codec: replies", () => {
  it("a reply decodes with the tag's reply Schema", () => {
    const wire = Codec.encodeSuccess(Counter, "Get", 42)
    expect(JSON.parse(wire)).toEqual({ t: "ok", v: 42 })
    expect(Codec.decodeReply(Counter, "counter", "Get", bytes(wire))).toEqual({ _tag: "ok", value: 42 })
  })

  it("a handler's typed error comes back as an instance of its class", () => {
    const wire = Codec.encodeFailure(
      Counter,
      "counter",
      "Take",
      Cause.fail(new Overdrawn({ balance: 1, requested: 5 }))
    )
    expect(JSON.parse(wire).t).toBe("error")
    const reply = Codec.decodeReply(Counter, "counter", "Take", bytes(wire))
    expect(reply._tag).toBe("error")
    expect(reply._tag === "error" && reply.error).toBeInstanceOf(Overdrawn)
    expect(reply._tag === "error" && (reply.error as Overdrawn).requested).toBe(5)
  })

  it("runtime errors cross the wire as themselves", () => {
    const wire = Codec.encodeFailure(
      Counter,
      "counter",
      "Get",
      Cause.fail(new ActorError.MailboxFull({ actor: "counter", capacity: 8 }))
    )
    const reply = Codec.decodeReply(Counter, "counter", "Get", bytes(wire))
    expect(reply._tag === "runtime" && reply.error).toBeInstanceOf(ActorError.MailboxFull)
    expect(reply._tag === "runtime" && (reply.error as ActorError.MailboxFull).capacity).toBe(8)
  })

  it("ActorUnreachable (a served ref that is itself remote) crosses the wire as itself, keeping retryable", () => {
    const error = new ActorError.ActorUnreachable({
      actor: "downstream",
      transport: "NoResponders",
      detail: "nobody",
      retryable: true
    })
    const reply = Codec.decodeReply(
      Counter,
      "counter",
      "Get",
      bytes(Codec.encodeFailure(Counter, "counter", "Get", Cause.fail(error)))
    )
    expect(reply._tag === "runtime" && reply.error).toBeInstanceOf(ActorError.ActorUnreachable)
    expect(reply._tag === "runtime" && { ...reply.error }).toEqual({ ...error })
  })

  it("a defect becomes ActorGone with a Failure reason; an interruption becomes Shutdown", () => {
    const died = Codec.decodeReply(
      Counter,
      "counter",
      "Get",
      bytes(Codec.encodeFailure(Counter, "counter", "Get", Cause.die(new Error("boom"))))
    )
    expect(died._tag === "runtime" && died.error).toBeInstanceOf(ActorError.ActorGone)
    expect(died._tag === "runtime" && (died.error as ActorError.ActorGone).reason._tag).toBe("Failure")
    const interrupted = Codec.decodeReply(
      Counter,
      "counter",
      "Get",
      bytes(Codec.encodeFailure(Counter, "counter", "Get", Cause.interrupt()))
    )
    expect(interrupted._tag === "runtime" && (interrupted.error as ActorError.ActorGone).reason._tag).toBe("Shutdown")
  })

  it("a reply that does not fit the reply Schema is RemoteReplyInvalid", () => {
    for (
      const wire of [
        `{"t":"ok","v":"forty-two"}`,
        "not json",
        `{"t":"maybe"}`,
        Codec.encodeSuccess(Counter, "Get", "forty-two")
      ]
    ) {
      const reply = Codec.decodeReply(Counter, "counter", "Get", bytes(wire))
      expect(reply._tag).toBe("invalid")
      expect(reply._tag === "invalid" && reply.error).toBeInstanceOf(RemoteReplyInvalid)
    }
  })
})

describe("Codec: announcements", () => {
  it("heartbeats and exits round-trip; garbage is ignored", () => {
    const a = { id: "n1", name: "worker", version: "0.1.0", actors: ["counter"], metadata: { zone: "a" }, startedAt: 1 }
    expect(Codec.decodeAnnouncement(bytes(Codec.encodeAnnouncement(a)))).toEqual(a)
    expect(Codec.decodeAnnouncement(bytes(`{"id":1}`))).toBeUndefined()
    const e = { actor: "counter", node: "n1", reason: { _tag: "Normal" as const } }
    expect(Codec.decodeExit(bytes(Codec.encodeExit(e)))).toEqual(e)
    expect(Codec.decodeExit(bytes("{"))).toBeUndefined()
  })

  it("cluster names must be usable as subject tokens", () => {
    expect(["counter", "lm.pool-1", "a_b"].every(validName)).toBe(true)
    expect(["", "a b", "a.*", "a.>", "a..b", ".a"].some(validName)).toBe(false)
  })
})
