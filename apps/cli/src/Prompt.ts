/**
 * `dspex prompt format|parse`: show exactly what an adapter sends for a signature, demos and inputs, and
 * what it makes of a completion. Thin front ends over the library's adapters.
 */
import { type Adapter, ChatAdapter, type Errors, JSONAdapter, type Message, Signature, XMLAdapter } from "@dspex/core"
import { Effect, Schema } from "effect"
import { type CliInputError, readObject, readObjects, readText } from "./Input.ts"

export type AdapterName = "chat" | "json" | "xml"

export const adapters: Record<AdapterName, Adapter.Adapter> = {
  chat: ChatAdapter.defaultAdapter,
  json: JSONAdapter.defaultAdapter,
  xml: XMLAdapter.defaultAdapter
}

export interface FormatArgs {
  readonly adapter: AdapterName
  readonly signature: string
  readonly instructions?: string | undefined
  readonly demos?: string | undefined
  readonly inputs: string
}

/** What `formatPrompt` prints. */
export interface FormattedPrompt {
  readonly adapter: string
  /** The signature in its typed string form. */
  readonly signature: string
  readonly messages: ReadonlyArray<Message.Message>
}

/**
 * The messages an adapter renders, as JSON-ready data.
 *
 * @example
 * formatPrompt({ adapter: "chat", signature: "question -> answer", inputs: "inputs.json" })
 */
export const formatPrompt = (
  args: FormatArgs
): Effect.Effect<FormattedPrompt, CliInputError | InputMismatch | Errors.SignatureParseError> =>
  Effect.gen(function*() {
    const signature = yield* Signature.parse(args.signature, args.instructions)
    const demos = args.demos === undefined ? [] : yield* readObjects("demos", args.demos)
    const inputs = yield* readObject("inputs", args.inputs)
    // Inputs are checked against the signature here too, so a typo in a field name is reported, not rendered.
    const known = new Set(signature.inputNames)
    const unknown = Object.keys(inputs).filter((k) => !known.has(k))
    const missing = signature.inputNames.filter((k) => !(k in inputs))
    if (unknown.length > 0 || missing.length > 0) {
      return yield* Effect.fail(
        new InputMismatch({ unknown, missing, expected: [...signature.inputNames] })
      )
    }
    const messages = adapters[args.adapter].format(signature, demos, inputs)
    return { adapter: adapters[args.adapter].name, signature: signature.toString(), messages }
  })

export interface ParseArgs {
  readonly adapter: AdapterName
  readonly signature: string
  readonly instructions?: string | undefined
  readonly completion: string
}

/** What `parsePrompt` prints. */
export interface ParsedCompletion {
  readonly adapter: string
  readonly outputs: Record<string, unknown>
}

/** The outputs an adapter parses out of a completion (or its typed AdapterParseError). */
export const parsePrompt = (
  args: ParseArgs
): Effect.Effect<ParsedCompletion, CliInputError | Errors.SignatureParseError | Errors.AdapterParseError> =>
  Effect.gen(function*() {
    const signature = yield* Signature.parse(args.signature, args.instructions)
    const completion = yield* readText("completion", args.completion)
    const outputs = yield* adapters[args.adapter].parse(signature, completion)
    return { adapter: adapters[args.adapter].name, outputs }
  })


/** Inputs given to `prompt format` that do not match the signature's input fields. */
export class InputMismatch extends Schema.TaggedError<InputMismatch>()("InputMismatch", {
  unknown: Schema.Array(Schema.String),
  missing: Schema.Array(Schema.String),
  expected: Schema.Array(Schema.String)
}) {
  readonly retryable = false
  override get message(): string {
    const parts: Array<string> = []
    if (this.missing.length > 0) parts.push(`missing input field(s) ${this.missing.map((f) => `"${f}"`).join(", ")}`)
    if (this.unknown.length > 0) parts.push(`unknown input field(s) ${this.unknown.map((f) => `"${f}"`).join(", ")}`)
    return `--inputs does not match the signature: ${parts.join("; ")} (expected: ${this.expected.join(", ")})`
  }
}
