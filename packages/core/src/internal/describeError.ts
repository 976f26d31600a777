/**
 * One line for a failure, for logs and the messages of errors that carry another error: `Tag: message`
 * for DSPex's typed errors, the message for other errors, else the value as text.
 *
 * @example
 * describeError(new LMAuthError({ provider: "openai", model: "m", detail: "bad key" })) // "LMAuthError: Authentication failed ..."
 */
export const describeError = (error: unknown): string => {
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const tag = (error as { _tag?: unknown })._tag
    const message = String((error as { message: unknown }).message)
    return typeof tag === "string" ? `${tag}: ${message}` : message
  }
  return String(error)
}
