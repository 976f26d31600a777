/**
 * Chat messages in the OpenAI shape DSPy itself produces, so renderings compare byte for byte with
 * DSPy's and providers translate from one shape.
 */

export type ContentPart =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image_url"; readonly image_url: { readonly url: string } }

export interface ToolCall {
  readonly id: string
  readonly name: string
  /** JSON-encoded arguments, as the provider sent them. */
  readonly arguments: string
}

export interface Message {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly content: string | ReadonlyArray<ContentPart>
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly toolCallId?: string
}

/** The text of a message's content (text parts joined). */
export const textOf = (m: Message): string =>
  typeof m.content === "string" ? m.content : m.content.map((p) => (p.type === "text" ? p.text : "")).join("")
