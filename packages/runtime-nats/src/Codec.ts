/**
 * What DSPex puts on NATS, as JSON, so any client that speaks JSON can talk to a served actor:
 *
 * - a request (tell or ask) on `dspex.actor.<name>` is the protocol message encoded with its tag's
 *   Schema (`{"_tag":"Get","key":"x"}`); an ask carries a NATS reply subject, a tell does not;
 * - a reply is an envelope `{"t":"ok","v":<reply>}`, `{"t":"error","v":<handler error>}` (the tag's typed
 *   error Schema), `{"t":"runtime","v":<AskTimeout|MailboxFull|ActorGone|MessageRejected|ActorUnreachable>}` or
 *   `{"t":"invalid","v":{"path","issue"}}` (the server's reply did not fit the reply Schema);
 * - heartbeats and exit announcements are `NodeAnnouncement` and `ExitAnnouncement`.
 */
import { ActorError, type Protocol } from "@dspex/runtime"
import { Cause, Exit, Schema } from "effect"
import { RemoteReplyInvalid } from "./Errors.ts"

/**
 * The runtime errors a served ref can fail with; they cross the wire as themselves (`ActorUnreachable` when
 * the served ref is itself a remote ref whose transport failed).
 */
export const RuntimeError = Schema.Union([
  ActorError.AskTimeout,
  ActorError.MailboxFull,
  ActorError.ActorGone,
  ActorError.MessageRejected,
  ActorError.ActorUnreachable
])
export type RuntimeError = typeof RuntimeError.Type

const runtimeErrorJson = Schema.toCodecJson(RuntimeError)
const encodeRuntimeErrorJson = Schema.encodeUnknownExit(runtimeErrorJson)
const decodeRuntimeErrorJson = Schema.decodeUnknownExit(runtimeErrorJson)

/** A node's heartbeat (and its answer to a hello): who it is and which actors it serves. */
export const NodeAnnouncement = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  version: Schema.String,
  actors: Schema.Array(Schema.String),
  metadata: Schema.Record(Schema.String, Schema.String),
  startedAt: Schema.Number
})
export type NodeAnnouncement = typeof NodeAnnouncement.Type

/** Published on `dspex.exit.<name>` when a served actor's incarnation exits or its serve scope closes. */
export const ExitAnnouncement = Schema.Struct({
  actor: Schema.String,
  node: Schema.String,
  reason: ActorError.ExitReason
})
export type ExitAnnouncement = typeof ExitAnnouncement.Type

const announcementJson = Schema.toCodecJson(NodeAnnouncement)
const exitJson = Schema.toCodecJson(ExitAnnouncement)

export const encodeAnnouncement = (a: NodeAnnouncement): string =>
  JSON.stringify(Schema.encodeSync(announcementJson)(a))
export const decodeAnnouncement = (data: Uint8Array): NodeAnnouncement | undefined => {
  const exit = Schema.decodeUnknownExit(announcementJson)(parseJson(data))
  return Exit.isSuccess(exit) ? exit.value : undefined
}
export const encodeExit = (a: ExitAnnouncement): string => JSON.stringify(Schema.encodeSync(exitJson)(a))
export const decodeExit = (data: Uint8Array): ExitAnnouncement | undefined => {
  const exit = Schema.decodeUnknownExit(exitJson)(parseJson(data))
  return Exit.isSuccess(exit) ? exit.value : undefined
}

const decoder = new TextDecoder()
const notJson: unique symbol = Symbol("notJson")

const parseJson = (data: Uint8Array): unknown => {
  try {
    return JSON.parse(decoder.decode(data))
  } catch {
    return notJson
  }
}

const tagOf = (value: unknown): string => {
  const tag = typeof value === "object" && value !== null ? (value as { _tag?: unknown })._tag : undefined
  return typeof tag === "string" ? tag : "<none>"
}

const rejected = (actor: string, v: Protocol.Violation) =>
  new ActorError.MessageRejected({ actor, tag: v.tag, path: v.path, issue: v.issue })

/** A request as encoded or decoded: the value, or why it does not fit the protocol. */
export type Checked<A> = { readonly ok: true; readonly value: A } | {
  readonly ok: false
  readonly error: ActorError.MessageRejected
}

/** Encodes a message for the wire, or says why it does not fit the protocol. */
export const encodeRequest = <P extends Protocol.Any>(
  protocol: P,
  actor: string,
  message: Protocol.Message<P>
): Checked<string> => {
  const exit = protocol.encodeMessage(message)
  return Exit.isSuccess(exit)
    ? { ok: true, value: JSON.stringify(exit.value) }
    : { ok: false, error: rejected(actor, violationOf(exit, tagOf(message))) }
}

/** Decodes a request off the wire; anything that is not JSON or does not fit the protocol is a `MessageRejected`. */
export const decodeRequest = <P extends Protocol.Any>(
  protocol: P,
  actor: string,
  data: Uint8Array
): Checked<Protocol.Message<P>> => {
  const input = parseJson(data)
  if (input === notJson) {
    return {
      ok: false,
      error: new ActorError.MessageRejected({ actor, tag: "<none>", path: "", issue: "the request is not JSON" })
    }
  }
  const exit = protocol.decodeMessage(input)
  return Exit.isSuccess(exit)
    ? { ok: true, value: exit.value as Protocol.Message<P> }
    : { ok: false, error: rejected(actor, violationOf(exit, tagOf(input))) }
}

const violationOf = (exit: Exit.Failure<unknown, Protocol.Violation>, tag: string): Protocol.Violation => {
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? reason.error : { tag, path: "", issue: "invalid value" }
}

/** The reply envelope for a handler's reply (or `invalid` when the reply does not fit its Schema). */
export const encodeSuccess = (protocol: Protocol.Any, tag: string, value: unknown): string => {
  const exit = protocol.encodeReply(tag, value)
  return Exit.isSuccess(exit)
    ? JSON.stringify({ t: "ok", v: exit.value })
    : JSON.stringify({
      t: "invalid",
      v: {
        path: violationOf(exit, tag).path,
        issue: `the server's reply does not fit the reply Schema: ${violationOf(exit, tag).issue}`
      }
    })
}

/**
 * The reply envelope for a failed ask: a runtime error as itself, a handler's typed error with the tag's
 * error Schema; anything else (a defect) becomes `ActorGone` with the failure as its reason.
 */
export const encodeFailure = (
  protocol: Protocol.Any,
  actor: string,
  tag: string,
  cause: Cause.Cause<unknown>
): string => {
  const failure = cause.reasons.find((r) => r._tag === "Fail")
  if (failure?._tag === "Fail") {
    const error = failure.error
    if (Schema.is(RuntimeError)(error)) {
      const exit = encodeRuntimeErrorJson(error)
      if (Exit.isSuccess(exit)) return JSON.stringify({ t: "runtime", v: exit.value })
    }
    const exit = protocol.encodeError(tag, error)
    if (Exit.isSuccess(exit)) return JSON.stringify({ t: "error", v: exit.value })
  }
  const gone = new ActorError.ActorGone({ actor, reason: ActorError.ExitReasons.fromCause(cause) })
  const exit = encodeRuntimeErrorJson(gone)
  return Exit.isSuccess(exit)
    ? JSON.stringify({ t: "runtime", v: exit.value })
    : JSON.stringify({ t: "runtime", v: { _tag: "ActorGone", actor, reason: { _tag: "Shutdown" } } })
}

/** The reply envelope for a request that never reached the actor. */
export const encodeRejected = (error: ActorError.MessageRejected): string =>
  JSON.stringify({ t: "runtime", v: Schema.encodeSync(runtimeErrorJson)(error) })

/** What a reply decodes to: the reply, the handler's typed error, a runtime error, or an invalid reply. */
export type DecodedReply =
  | { readonly _tag: "ok"; readonly value: unknown }
  | { readonly _tag: "error"; readonly error: unknown }
  | { readonly _tag: "runtime"; readonly error: RuntimeError }
  | { readonly _tag: "invalid"; readonly error: RemoteReplyInvalid }

/** Decodes a reply envelope for a request with message tag `tag`. */
export const decodeReply = (protocol: Protocol.Any, actor: string, tag: string, data: Uint8Array): DecodedReply => {
  const invalid = (path: string, issue: string): DecodedReply => ({
    _tag: "invalid",
    error: new RemoteReplyInvalid({ actor, tag, path, issue })
  })
  const envelope = parseJson(data)
  if (typeof envelope !== "object" || envelope === null) return invalid("", "the reply is not a JSON envelope")
  const { t, v } = envelope as { t?: unknown; v?: unknown }
  switch (t) {
    case "ok": {
      const exit = protocol.decodeReply(tag, v)
      if (Exit.isSuccess(exit)) return { _tag: "ok", value: exit.value }
      const violation = violationOf(exit, tag)
      return invalid(violation.path, violation.issue)
    }
    case "error": {
      const exit = protocol.decodeError(tag, v)
      if (Exit.isSuccess(exit)) return { _tag: "error", error: exit.value }
      const violation = violationOf(exit, tag)
      return invalid(violation.path, `handler error: ${violation.issue}`)
    }
    case "runtime": {
      const exit = decodeRuntimeErrorJson(v)
      return Exit.isSuccess(exit) ? { _tag: "runtime", error: exit.value } : invalid("", "unknown runtime error")
    }
    case "invalid": {
      const detail = (typeof v === "object" && v !== null ? v : {}) as { path?: unknown; issue?: unknown }
      return invalid(
        typeof detail.path === "string" ? detail.path : "",
        typeof detail.issue === "string" ? detail.issue : "invalid reply"
      )
    }
    default:
      return invalid("t", `unknown reply kind ${JSON.stringify(t)}`)
  }
}
