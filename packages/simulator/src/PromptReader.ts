/**
 * Reads prompts the way DSPy's ChatAdapter, JSONAdapter and XMLAdapter render them (input sections,
 * the "Your output fields are:" list, type notes and the final "Respond with ..." reminder), and writes
 * replies in the format the prompt asked for. Knowing the format is what lets an end-to-end test catch an
 * adapter that renders or parses wrongly: a malformed prompt gets an answer the real parser rejects.
 */
import type { OutputFieldSpec } from "./FieldTypes.ts"
import { formatNumber } from "./TextTools.ts"

/** One chat turn reduced to plain text (content parts and blocks joined). */
export interface SimMessage {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly text: string
}

export type PromptFormat = "chat" | "json" | "xml" | "plain"

export interface ParsedPrompt {
  readonly format: PromptFormat
  /** Input field values from the last user message (few-shot demos in earlier turns are ignored). */
  readonly inputs: Record<string, string>
  readonly outputFields: ReadonlyArray<OutputFieldSpec>
  /** The task objective ("In adhering to this structure, your objective is: ..."), or "". */
  readonly instructions: string
  readonly lastUserText: string
}

interface ListedField {
  readonly name: string
  readonly type: string
  readonly description: string
}

const OUTPUTS_HEADER = "Your output fields are:"
const INPUTS_HEADER = "Your input fields are:"
const STRUCTURE_HEADER = "All interactions will be structured in the following way"
const OBJECTIVE = "In adhering to this structure, your objective is:"

/** Parses DSPy's numbered field list: "1. `answer` (float): description" (types may nest brackets). */
const parseFieldList = (text: string, header: string): Array<ListedField> => {
  const start = text.indexOf(header)
  if (start < 0) return []
  let body = text.slice(start + header.length)
  const ends = [OUTPUTS_HEADER, STRUCTURE_HEADER].map((h) => body.indexOf(`\n${h}`)).filter((i) => i >= 0)
  if (ends.length > 0) body = body.slice(0, Math.min(...ends))
  const out: Array<{ name: string; type: string; description: string }> = []
  for (const line of body.split("\n")) {
    const m = /^\d+\.\s+`([^`]+)`\s*\(/.exec(line)
    if (!m) {
      const last = out.at(-1)
      if (last && line.trim() !== "") last.description += `\n${line}`
      continue
    }
    let depth = 1
    let i = m[0].length
    let quote: string | undefined
    for (; i < line.length && depth > 0; i++) {
      const c = line[i]
      if (quote) {
        if (c === quote) quote = undefined
      } else if (c === "'" || c === "\"") quote = c
      else if (c === "(" || c === "[") depth++
      else if (c === ")" || c === "]") depth--
    }
    const type = line.slice(m[0].length, i - 1)
    const description = line.slice(i).replace(/^:\s?/, "").trim()
    out.push({ name: m[1]!, type, description })
  }
  return out
}

/** Type notes DSPy appends to field placeholders; in JSONAdapter prompts they sit inside JSON strings. */
const fieldNote = (system: string, name: string): string | undefined => {
  for (const line of system.split("\n")) {
    if (!line.includes(`{${name}}`) || !line.includes("# note:")) continue
    let text = line
    if (/^\s*"[^"]+":\s*"/.test(line)) {
      try {
        const parsed = JSON.parse(`{${line.trim().replace(/,$/, "")}}`) as Record<string, string>
        text = Object.values(parsed)[0] ?? line
      } catch {
        text = line
      }
    }
    return text.slice(text.indexOf("# note:") + "# note:".length).trim()
  }
  return undefined
}

const noteDetails = (note: string | undefined): Pick<OutputFieldSpec, "schema" | "options"> => {
  if (note === undefined) return {}
  const schema = /must adhere to the JSON schema:\s*(.*)$/s.exec(note)?.[1]
  if (schema !== undefined) {
    try {
      return { schema: JSON.parse(schema) as unknown }
    } catch {
      return {}
    }
  }
  const options = /one of:\s*(.*)$/s.exec(note)?.[1]
  return options === undefined ? {} : { options: options.split(";").map((o) => o.trim()) }
}

const REMINDERS: ReadonlyArray<{ readonly format: PromptFormat; readonly marker: string }> = [
  { format: "chat", marker: "Respond with the corresponding output fields, starting with the field" },
  { format: "json", marker: "Respond with a JSON object in the following order of fields:" },
  { format: "xml", marker: "Respond with the corresponding output fields wrapped in XML tags" }
]

/** Output field names, in order, from the reminder that ends DSPy's last user message. */
const reminderFields = (format: PromptFormat, reminder: string): Array<string> => {
  switch (format) {
    case "chat":
      return [...reminder.matchAll(/`\[\[ ## (.+?) ## \]\]`/g)].map((m) => m[1]!).filter((n) => n !== "completed")
    case "json":
      return [...reminder.split("\n")[0]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
    case "xml":
      return [...reminder.split(/\.\s+Use this nested XML structure/)[0]!.matchAll(/`<([^`>]+)>`/g)].map((m) => m[1]!)
    default:
      return []
  }
}

const sectionInputs = (text: string, names: ReadonlyArray<string>, end: number): Record<string, string> => {
  const headers: Array<{ name: string; start: number; bodyStart: number }> = []
  for (const m of text.matchAll(/\[\[ ## (.+?) ## \]\]/g)) {
    if (names.length > 0 && !names.includes(m[1]!)) continue
    if (m.index >= end) continue
    headers.push({ name: m[1]!, start: m.index, bodyStart: m.index + m[0].length })
  }
  const out: Record<string, string> = {}
  headers.forEach((h, i) => {
    const stop = headers[i + 1]?.start ?? end
    if (out[h.name] === undefined) out[h.name] = text.slice(h.bodyStart, stop).trim()
  })
  return out
}

const xmlInputs = (text: string, names: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  const re = names.length > 0 ? undefined : /<([A-Za-z_][\w.-]*)>\n?([\s\S]*?)\n?<\/\1>/g
  if (re) {
    for (const m of text.matchAll(re)) out[m[1]!] ??= m[2]!.trim()
    return out
  }
  for (const name of names) {
    const open = text.indexOf(`<${name}>`)
    if (open < 0) continue
    const close = text.indexOf(`</${name}>`, open)
    if (close < 0) continue
    out[name] = text.slice(open + name.length + 2, close).trim()
  }
  return out
}

type Json = Record<string, unknown>
const isObj = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x)

/** Output fields from an OpenAI `response_format` json_schema (the schema's properties, in order). */
const schemaFields = (responseFormat: unknown): Array<OutputFieldSpec> | undefined => {
  if (!isObj(responseFormat) || responseFormat["type"] !== "json_schema") return undefined
  const wrapper = responseFormat["json_schema"]
  const schema = isObj(wrapper) ? wrapper["schema"] : undefined
  if (!isObj(schema) || !isObj(schema["properties"])) return undefined
  const defs = schema["$defs"] ?? schema["definitions"]
  return Object.entries(schema["properties"]).map(([name, prop]) => ({
    name,
    schema: isObj(prop) && defs !== undefined ? { ...prop, $defs: defs, definitions: defs } : prop
  }))
}

/**
 * Reads a chat request. `responseFormat` is OpenAI's `response_format`: a json_schema fixes the output
 * fields and format; json_object forces JSON.
 */
export const readPrompt = (messages: ReadonlyArray<SimMessage>, responseFormat?: unknown): ParsedPrompt => {
  const lastUser = [...messages].reverse().find((m) => m.role === "user")
  const lastUserText = lastUser?.text ?? ""
  let header = messages.filter((m) => m.role === "system").map((m) => m.text).join("\n\n")
  if (!header.includes(OUTPUTS_HEADER)) header = messages.find((m) => m.role === "user")?.text ?? header
  const objectiveAt = header.indexOf(OBJECTIVE)
  const instructions = objectiveAt >= 0 ? header.slice(objectiveAt + OBJECTIVE.length).trim() : ""
  const listedOutputs = parseFieldList(header, OUTPUTS_HEADER)
  const listedInputs = parseFieldList(header, INPUTS_HEADER).map((f) => f.name)

  let format: PromptFormat = "plain"
  let names: Array<string> = []
  let reminderAt = lastUserText.length
  for (const r of REMINDERS) {
    const at = lastUserText.lastIndexOf(r.marker)
    if (at < 0) continue
    format = r.format
    reminderAt = at
    names = reminderFields(r.format, lastUserText.slice(at))
    break
  }
  if (format === "plain" && listedOutputs.length > 0) {
    format = header.includes("Outputs will be a JSON object") ? "json" : header.includes("[[ ## ") ? "chat" : "xml"
  }
  if (names.length === 0) names = listedOutputs.map((f) => f.name)

  let inputs: Record<string, string>
  if (format === "plain") inputs = { question: lastUserText.trim() }
  else if (format === "xml") inputs = xmlInputs(lastUserText.slice(0, reminderAt), listedInputs)
  else inputs = sectionInputs(lastUserText, listedInputs, reminderAt)
  if (format !== "plain" && Object.keys(inputs).length === 0) {
    inputs = { question: lastUserText.slice(0, reminderAt).trim() }
  }

  let outputFields: Array<OutputFieldSpec> = names.map((name) => {
    const listed = listedOutputs.find((f) => f.name === name)
    return { name, type: listed?.type, description: listed?.description, ...noteDetails(fieldNote(header, name)) }
  })
  if (format === "plain") outputFields = [{ name: "answer" }]

  const fromSchema = schemaFields(responseFormat)
  if (fromSchema) {
    outputFields = fromSchema.map((f) => ({ ...f, type: listedOutputs.find((l) => l.name === f.name)?.type }))
    format = "json"
  } else if (isObj(responseFormat) && responseFormat["type"] === "json_object") {
    format = "json"
  }
  return { format, inputs, outputFields, instructions, lastUserText }
}

/** A value as DSPy's ChatAdapter/XMLAdapter expects it in text: Python-style booleans and None, JSON for collections. */
export const valueText = (v: unknown): string => {
  if (v === null || v === undefined) return "None"
  if (typeof v === "string") return v
  if (typeof v === "number") return formatNumber(v)
  if (typeof v === "boolean") return v ? "True" : "False"
  return JSON.stringify(v)
}

const PLAIN_VARIANTS: ReadonlyArray<(a: string) => string> = [
  (a) => a,
  (a) => `The answer is ${a}.`,
  (a) => `Answer: ${a}`
]

/** Writes field values in the prompt's format. `variant` changes only surface wording (for n > 1 samples). */
export const renderOutputs = (
  format: PromptFormat,
  fields: ReadonlyArray<OutputFieldSpec>,
  values: Readonly<Record<string, unknown>>,
  variant = 0
): string => {
  switch (format) {
    case "chat":
      return [...fields.map((f) => `[[ ## ${f.name} ## ]]\n${valueText(values[f.name])}`), "[[ ## completed ## ]]"]
        .join("\n\n")
    case "json": {
      const obj: Record<string, unknown> = {}
      for (const f of fields) obj[f.name] = values[f.name] === undefined ? null : values[f.name]
      return JSON.stringify(obj, null, [2, 0, 4][variant % 3])
    }
    case "xml":
      return fields.map((f) => `<${f.name}>\n${valueText(values[f.name])}\n</${f.name}>`).join("\n\n")
    case "plain": {
      const text = fields.length === 1
        ? valueText(values[fields[0]!.name])
        : fields.map((f) => `${f.name}: ${valueText(values[f.name])}`).join("\n")
      return PLAIN_VARIANTS[variant % PLAIN_VARIANTS.length]!(text)
    }
  }
}
