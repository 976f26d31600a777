/**
 * An actor's typed protocol: for each message tag, the payload Schema (a Struct), the reply Schema (`success`,
 * default Void) and the handler's typed error Schema (`error`, default Never).
 *
 * Messages are plain tagged objects (`{ _tag: "Get", key: "x" }`). Local refs validate every message against its
 * tag's Schema before it reaches the mailbox; remote refs (runtime-nats) use the `encode*` / `decode*` helpers to
 * put messages, replies and handler errors on the wire as JSON.
 *
 * @example
 * ```ts
 * import { Protocol } from "@dspex/runtime"
 * import { Schema } from "effect"
 *
 * const Counter = Protocol.make({
 *   Get: { payload: Schema.Struct({ key: Schema.String }), success: Schema.Number },
 *   Put: { payload: Schema.Struct({ key: Schema.String, value: Schema.Number }) }
 * })
 * type Msg = Protocol.Message<typeof Counter> // { _tag: "Get"; key: string } | { _tag: "Put"; key: string; value: number }
 * ```
 */
import { Exit, Schema, SchemaIssue } from "effect"

export interface MessageDefinition {
  readonly payload?: Schema.Struct<Schema.Struct.Fields>
  readonly success?: Schema.Top
  readonly error?: Schema.Top
}

export type Definitions = { readonly [tag: string]: MessageDefinition }

/** Why a value failed its Schema: the first failing path (`key`, `items[2].name`, or "" for the root) and the reason. */
export interface Violation {
  readonly tag: string
  readonly path: string
  readonly issue: string
}

export interface Protocol<Defs extends Definitions> {
  readonly definitions: Defs
  readonly tags: ReadonlyArray<Tags<Protocol<Defs>>>
  /** Validates (and decodes) an incoming message; never throws. */
  readonly validate: (input: unknown) => Exit.Exit<Message<Protocol<Defs>>, Violation>
  /** Message → JSON-safe value (for the wire). */
  readonly encodeMessage: (message: Message<Protocol<Defs>>) => Exit.Exit<unknown, Violation>
  /** JSON-safe value → message (validates). */
  readonly decodeMessage: (input: unknown) => Exit.Exit<Message<Protocol<Defs>>, Violation>
  readonly encodeReply: (tag: string, reply: unknown) => Exit.Exit<unknown, Violation>
  readonly decodeReply: (tag: string, input: unknown) => Exit.Exit<unknown, Violation>
  readonly encodeError: (tag: string, error: unknown) => Exit.Exit<unknown, Violation>
  readonly decodeError: (tag: string, input: unknown) => Exit.Exit<unknown, Violation>
}

export type Any = Protocol<any>

export type Tags<P extends Any> = keyof P["definitions"] & string

type PayloadType<D> = D extends { readonly payload: infer S extends Schema.Top } ? S["Type"] : {}
type Simplify<A> = { [K in keyof A]: A[K] } & {}

/** The message union of a protocol, or one tag's message. */
export type Message<P extends Any, T extends Tags<P> = Tags<P>> = T extends unknown
  ? Simplify<{ readonly _tag: T } & PayloadType<P["definitions"][T]>>
  : never

/** The reply type of one tag. */
export type Reply<P extends Any, T extends Tags<P>> = P["definitions"][T] extends
  { readonly success: infer S extends Schema.Top } ? S["Type"]
  : void

/** The typed error a handler of one tag may fail with (never when the tag declares none). */
export type HandlerError<P extends Any, T extends Tags<P>> = P["definitions"][T] extends
  { readonly error: infer S extends Schema.Top } ? S["Type"]
  : never

/** The reply type for a concrete message value. */
export type ReplyOf<P extends Any, M extends Message<P>> = Reply<P, M["_tag"] & Tags<P>>
export type ErrorOf<P extends Any, M extends Message<P>> = HandlerError<P, M["_tag"] & Tags<P>>

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const renderPath = (path: ReadonlyArray<unknown>): string =>
  path
    .map((p) => {
      const k = typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p
      return typeof k === "number" ? `[${k}]` : String(k)
    })
    .reduce<string>((acc, k) => (acc === "" ? k : k.startsWith("[") ? acc + k : `${acc}.${k}`), "")

const toViolation = (tag: string, error: Schema.SchemaError): Violation => {
  const first = formatter(error.issue).issues[0]
  return { tag, path: first?.path === undefined ? "" : renderPath(first.path), issue: first?.message ?? error.message }
}

type AnyCodec = Schema.Codec<unknown, unknown, never, never>

/** A schema with its decoder and encoder built once (building them per call would dominate a local send). */
interface Compiled {
  readonly decode: (input: unknown) => Exit.Exit<unknown, Schema.SchemaError>
  readonly encode: (input: unknown) => Exit.Exit<unknown, Schema.SchemaError>
}

const compile = (schema: AnyCodec): Compiled => ({
  decode: Schema.decodeUnknownExit(schema),
  encode: Schema.encodeUnknownExit(schema)
})

/**
 * Builds a protocol from per-tag definitions.
 *
 * @example
 * ```ts
 * import { Protocol } from "@dspex/runtime"
 * import { Schema } from "effect"
 *
 * const Ping = Protocol.make({ Ping: { success: Schema.Literal("pong") } }) // no payload: the message is { _tag: "Ping" }
 * ```
 */
export const make = <const Defs extends Definitions>(definitions: Defs): Protocol<Defs> => {
  const tags = Object.keys(definitions) as Array<Tags<Protocol<Defs>>>
  const messageSchemas = new Map<string, Compiled>()
  const messageJson = new Map<string, Compiled>()
  const replyJson = new Map<string, Compiled>()
  const errorJson = new Map<string, Compiled>()
  for (const tag of tags) {
    const def = definitions[tag]!
    const struct = Schema.TaggedStruct(tag, def.payload?.fields ?? {}) as unknown as AnyCodec
    messageSchemas.set(tag, compile(struct))
    messageJson.set(tag, compile(Schema.toCodecJson(struct) as AnyCodec))
    const reply = (def.success ?? Schema.Void) as unknown as AnyCodec
    replyJson.set(tag, compile(Schema.toCodecJson(reply) as AnyCodec))
    errorJson.set(tag, compile(Schema.toCodecJson((def.error ?? Schema.Never) as unknown as AnyCodec) as AnyCodec))
  }

  const tagOf = (input: unknown): Exit.Exit<string, Violation> => {
    const tag = typeof input === "object" && input !== null ? (input as { _tag?: unknown })._tag : undefined
    if (typeof tag === "string" && messageSchemas.has(tag)) return Exit.succeed(tag)
    return Exit.fail({
      tag: typeof tag === "string" ? tag : "<none>",
      path: "_tag",
      issue: `expected one of ${tags.map((t) => JSON.stringify(t)).join(" | ")}, got ${
        typeof tag === "string" ? JSON.stringify(tag) : typeof tag
      }`
    })
  }

  const run = (
    table: Map<string, Compiled>,
    tag: string,
    input: unknown,
    op: "decode" | "encode"
  ): Exit.Exit<unknown, Violation> => {
    const compiled = table.get(tag)
    if (compiled === undefined) return Exit.fail({ tag, path: "_tag", issue: `unknown tag ${JSON.stringify(tag)}` })
    const exit = op === "decode" ? compiled.decode(input) : compiled.encode(input)
    if (Exit.isSuccess(exit)) return Exit.succeed(exit.value)
    const err = exit.cause.reasons.find((r) => r._tag === "Fail")
    return err !== undefined && Schema.isSchemaError(err.error)
      ? Exit.fail(toViolation(tag, err.error))
      : Exit.fail({ tag, path: "", issue: "invalid value" })
  }

  const withTag = (input: unknown, table: Map<string, Compiled>, op: "decode" | "encode") => {
    const tag = tagOf(input)
    return Exit.isFailure(tag) ? tag : run(table, tag.value, input, op)
  }

  return {
    definitions,
    tags,
    validate: (input) => withTag(input, messageSchemas, "decode") as Exit.Exit<any, Violation>,
    encodeMessage: (message) => withTag(message, messageJson, "encode"),
    decodeMessage: (input) => withTag(input, messageJson, "decode") as Exit.Exit<any, Violation>,
    encodeReply: (tag, reply) => run(replyJson, tag, reply, "encode"),
    decodeReply: (tag, input) => run(replyJson, tag, input, "decode"),
    encodeError: (tag, error) => run(errorJson, tag, error, "encode"),
    decodeError: (tag, input) => run(errorJson, tag, input, "decode")
  }
}
