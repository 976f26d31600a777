/**
 * `dspex prompt format|parse`: show exactly what an adapter sends for a signature, demos and inputs, and
 * what it makes of a completion. Thin front ends over the library's adapters.
 */
import {
  type Adapter,
  ChatAdapter,
  type Errors,
  JSONAdapter,
  type Message,
  Predict,
  Signature,
  XMLAdapter
} from "@dspex/core"
import { Effect } from "effect"
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
 * For example (the command's own internals, not a library API):
 * formatPrompt({ adapter: "chat", signature: "question -> answer", inputs: "inputs.json" })
 */
export const formatPrompt = (
  args: FormatArgs
): Effect.Effect<FormattedPrompt, CliInputError | Errors.InputValidationError | Errors.SignatureParseError> =>
  Effect.gen(function*() {
    const signature = yield* Signature.parse(args.signature, args.instructions)
    const demos = args.demos === undefined ? [] : yield* readObjects("demos", args.demos)
    const inputs = yield* readObject("inputs", args.inputs)
    // Checked as a Predict call checks them, so what is shown is what a call would send, never a prompt a
    // call would refuse (a typo in a field name, a number for a list[str]).
    yield* Predict.validateInputs(signature, inputs)
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
