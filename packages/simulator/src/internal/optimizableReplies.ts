/**
 * Which optimizable behaviour a request gets, and its field values: proposal and description prompts
 * first (their inputs quote task questions), then ⊕ questions (judged by the instruction), then
 * secret-code questions (judged by the demos in earlier turns). Anything else falls through to the
 * ordinary solver.
 */
import { fieldType, type OutputFieldSpec } from "../FieldTypes.ts"
import { answerCode, answerOperator, type Item } from "../Optimizable.ts"
import type { ParsedPrompt, SimMessage } from "../PromptReader.ts"
import { solveTask } from "../Tasks.ts"
import { describeModule, describeProgram, hash, observe, propose, summarize } from "./proposals.ts"

/**
 * Counts repeats of identical proposal requests. A client's rollout id is part of its cache key but never
 * sent, so the k-th identical request at temperature > 0 stands for a new rollout and gets sample k.
 */
export class SampleCounter {
  readonly seed: number
  private readonly seen = new Map<number, number>()
  constructor(seed: number) {
    this.seed = seed
  }
  /** How many times `key` came before this one. */
  next(key: string): number {
    // A bound, so a long benchmark run cannot grow the map without limit.
    if (this.seen.size > 100_000) this.seen.clear()
    const k = hash(key)
    const n = this.seen.get(k) ?? 0
    this.seen.set(k, n + 1)
    return n
  }
}

export interface OptimizableRequest {
  readonly prompt: ParsedPrompt
  readonly messages: ReadonlyArray<SimMessage>
  readonly body: Readonly<Record<string, unknown>>
  readonly n: number
  readonly temperature: number
  readonly samples: SampleCounter
}

const REASONING = /reason|rationale|explanation|justification|thought|thinking|analysis|critique/i

/** The field that carries the task's answer: one named like an answer, else the first non-reasoning one. */
const answerField = (fields: ReadonlyArray<OutputFieldSpec>): string | undefined => {
  const candidates = fields.filter((f) => !REASONING.test(f.name))
  return (candidates.find((f) => /answer|result|code|output|response/i.test(f.name)) ?? candidates[0])?.name
}

/** A value in the field's type: numbers for numeric fields, an allowed option for literals, else text. */
const typed = (field: OutputFieldSpec, value: string | number): unknown => {
  const t = fieldType(field)
  const base = t.kind === "optional" ? t.inner : t
  switch (base.kind) {
    case "int":
    case "float": {
      const n = Number(value)
      return Number.isFinite(n) ? (base.kind === "int" ? Math.round(n) : n) : String(value)
    }
    case "literal":
      return base.options.find((o) => String(o) === String(value)) ?? base.options[0] ?? String(value)
    default:
      return String(value)
  }
}

/** The solver's values for every field, with `values` (and `reasoning` for reasoning fields) on top. */
const fill = (
  prompt: ParsedPrompt,
  values: Readonly<Record<string, string | number>>,
  reasoning?: string
): Record<string, unknown> => {
  const out = solveTask(prompt.inputs, prompt.outputFields, { instructions: prompt.instructions })
  for (const f of prompt.outputFields) {
    const v = values[f.name]
    if (v !== undefined) out[f.name] = typed(f, v)
    else if (reasoning !== undefined && REASONING.test(f.name)) out[f.name] = reasoning
  }
  return out
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A field's value in an assistant turn, whichever adapter wrote it (chat sections, XML tags or JSON). */
const fieldValue = (text: string, name: string): string | undefined => {
  const n = escapeRe(name)
  const found = new RegExp(`\\[\\[ ## ${n} ## \\]\\]\\s*\\n?([\\s\\S]*?)(?=\\n\\s*\\[\\[ ## |$)`).exec(text)?.[1] ??
    new RegExp(`<${n}>([\\s\\S]*?)</${n}>`).exec(text)?.[1]
  if (found !== undefined) return found.trim()
  try {
    const parsed: unknown = JSON.parse(text)
    const v = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)[name] : undefined
    return v === undefined || v === null ? undefined : String(v)
  } catch {
    return undefined
  }
}

/** Few-shot demos: each user turn before the last with the assistant turn after it, as question/answer. */
export const readDemos = (messages: ReadonlyArray<SimMessage>, answerName: string): Array<Item> => {
  const last = messages.map((m) => m.role).lastIndexOf("user")
  const demos: Array<Item> = []
  for (let i = 0; i < last; i++) {
    const next = messages[i + 1]
    if (messages[i]!.role !== "user" || next?.role !== "assistant") continue
    const answer = fieldValue(next.text, answerName)
    // DSPy marks a demo without this field "Not supplied for this particular example."
    if (answer === undefined || answer.startsWith("Not supplied")) continue
    demos.push({ question: messages[i]!.text, answer })
  }
  return demos
}

/** Description prompts, recognised by output field and the input that feeds it. */
const describe = (prompt: ParsedPrompt): Record<string, string> | undefined => {
  const names = new Set(prompt.outputFields.map((f) => f.name))
  const i = prompt.inputs
  if (names.has("observations") && i["examples"] !== undefined) {
    return { observations: observe(i["examples"], i["prior_observations"]) }
  }
  if (names.has("summary") && i["observations"] !== undefined) return { summary: summarize(i["observations"]) }
  if (names.has("program_description") && i["program_code"] !== undefined) {
    return { program_description: describeProgram(i["program_code"], i["program_example"] ?? "") }
  }
  if (names.has("module_description") && (i["module"] !== undefined || i["program_code"] !== undefined)) {
    return { module_description: describeModule(i["module"] ?? "", i["program_description"] ?? "") }
  }
  return undefined
}

/** The values of each of the `n` choices, or undefined when no optimizable behaviour applies. */
export const optimizableChoices = (req: OptimizableRequest): Array<Record<string, unknown>> | undefined => {
  const { prompt, n } = req
  const repeat = (values: Record<string, unknown>) => Array.from({ length: n }, () => values)
  if (prompt.outputFields.some((f) => f.name === "proposed_instruction")) {
    const sampled = req.temperature > 0
    const key = JSON.stringify([req.messages, n, req.temperature, req.body["seed"] ?? null])
    const round = sampled ? req.samples.next(key) : 0
    return Array.from({ length: n }, (_, i) => {
      const p = propose(prompt.inputs, sampled ? round * n + i : 0, req.samples.seed)
      return fill(prompt, { proposed_instruction: p.instruction, proposed_prefix_for_output_field: p.prefix })
    })
  }
  const described = describe(prompt)
  if (described !== undefined) return repeat(fill(prompt, described))
  const question = Object.values(prompt.inputs).join("\n")
  const target = answerField(prompt.outputFields)
  if (target === undefined) return undefined
  const op = answerOperator(question, prompt.instructions)
  if (op !== undefined) return repeat(fill(prompt, { [target]: op.value }, op.reasoning))
  const code = answerCode(question, readDemos(req.messages, target))
  if (code !== undefined) return repeat(fill(prompt, { [target]: code.value }, code.reasoning))
  return undefined
}
