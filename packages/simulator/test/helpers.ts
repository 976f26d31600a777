/** Shared fixtures for the simulator tests: DSPy 3.3.1 prompts as `Adapter.format` produced them. */
import { readFileSync } from "node:fs"

export interface AdapterCase {
  readonly id: string
  readonly adapter: "chat" | "json" | "xml"
  readonly input_fields: ReadonlyArray<string>
  readonly output_fields: ReadonlyArray<string>
  readonly inputs: Readonly<Record<string, unknown>>
  readonly messages: ReadonlyArray<{ readonly role: "system" | "user" | "assistant"; readonly content: string }>
}

export const adapterCases: ReadonlyArray<AdapterCase> = JSON.parse(
  readFileSync(new URL("./fixtures/dspy-3.3.1-adapters.json", import.meta.url), "utf8")
) as ReadonlyArray<AdapterCase>

/** A fixture's messages with placeholder input text replaced in the LAST user message only (demos untouched). */
export const dspyMessages = (
  id: string,
  replacements: Readonly<Record<string, string>>
): Array<{ role: "system" | "user" | "assistant"; content: string }> => {
  const c = adapterCases.find((x) => x.id === id)
  if (!c) throw new Error(`no fixture ${id}`)
  const lastUser = c.messages.map((m) => m.role).lastIndexOf("user")
  return c.messages.map((m, i) => {
    if (i !== lastUser) return { role: m.role, content: m.content }
    let content = m.content
    for (const [from, to] of Object.entries(replacements)) content = content.split(from).join(to)
    return { role: m.role, content }
  })
}
