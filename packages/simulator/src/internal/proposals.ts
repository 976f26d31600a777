/**
 * The optimizable mode's answers to the prompts optimizers send a prompt model: instruction proposals
 * (COPRO's BasicGenerateInstruction / GenerateInstructionGivenAttempts, MIPROv2's
 * GenerateSingleModuleInstruction) and the dataset and program descriptions MIPROv2 grounds them in
 * (DatasetDescriptor, ObservationSummarizer, DescribeProgram, DescribeModule).
 *
 * Proposals carry the ⊕ rule only as far as the prompt gives it away: examples or demos whose answers
 * follow the rule, a summary that states it, or scored attempts where an instruction naming part of it
 * beat the others (the model then "climbs": it keeps that part and adds the next). With nothing to go on
 * a proposal adds one of a few generic guesses, two of which name one part of the rule by luck — so a
 * search that keeps its best candidate and feeds scores back converges, and one that does not, stalls.
 */
import {
  CODE_KINDS,
  CODE_PATTERNS,
  type CodeKind,
  type Concept,
  CONCEPTS,
  conceptsIn,
  defaultValue,
  parseCode,
  parseOperator,
  PATTERN_DESCRIPTIONS,
  patternOf,
  RULE,
  ruleValue
} from "../Optimizable.ts"
import { firstSentence, keywords } from "../TextTools.ts"

/** FNV-1a: a stable 32-bit hash, so the same prompt always starts its samples at the same place. */
export const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export interface Attempt {
  readonly instruction: string
  readonly score: number
}

/** Strips what list renderings wrap entries in: DSPy's `[n] «…»`, JSON array quotes and commas. */
const cleanEntry = (s: string): string =>
  s.replace(/\[\d+\]\s*«*\s*$/, "").replace(/^[\s«»"',[\]]+|[\s«»"',[\]]+$/g, "")

/** COPRO's attempts: `Instruction #k: …`, `Prefix #k: …`, `Resulting Score #k: …`, in any list rendering. */
export const parseCoproAttempts = (text: string): Array<Attempt> => {
  const markers = [...text.matchAll(/(Instruction|Prefix|Resulting Score) #(\d+):/g)]
  const byId = new Map<string, { instruction?: string; score?: number }>()
  markers.forEach((m, i) => {
    const value = cleanEntry(text.slice(m.index + m[0].length, markers[i + 1]?.index ?? text.length))
    const entry = byId.get(m[2]!) ?? {}
    if (m[1] === "Instruction") entry.instruction = value
    if (m[1] === "Resulting Score") entry.score = Number(/-?\d+(?:\.\d+)?/.exec(value)?.[0])
    byId.set(m[2]!, entry)
  })
  return [...byId.values()].flatMap((e) =>
    e.instruction !== undefined && e.instruction !== "" && Number.isFinite(e.score)
      ? [{ instruction: e.instruction, score: e.score! }]
      : []
  )
}

/** MIPROv2's instruction history: entries `INSTRUCTION | Score: S` separated by blank lines. */
export const parseScoredHistory = (text: string): Array<Attempt> => {
  const out: Array<Attempt> = []
  let last = 0
  for (const m of text.matchAll(/\|\s*Score:\s*(-?\d+(?:\.\d+)?)/g)) {
    const instruction = cleanEntry(text.slice(last, m.index))
    last = m.index + m[0].length
    if (instruction !== "") out.push({ instruction, score: Number(m[1]) })
  }
  return out
}

const inOrder = (found: ReadonlySet<Concept>): Array<Concept> => CONCEPTS.map((c) => c.name).filter((n) => found.has(n))

/**
 * The rule's concepts a text gives away: stated in words, or shown by `a ⊕ b` questions whose answers
 * follow the rule (or one part of it).
 */
export const revealedConcepts = (text: string): Array<Concept> => {
  const found = new Set(conceptsIn(text))
  const pairs = /(-?\d+)\s*⊕\s*(-?\d+)(?:(?!⊕|Example\()[\s\S]){0,400}?\banswer\b["']?\s*[:=]\s*["']?\s*(-?\d+)/gi
  for (const m of text.matchAll(pairs)) {
    const a = Number(m[1])
    const b = Number(m[2])
    const v = Number(m[3])
    if (v === defaultValue(a, b)) continue
    if (v === ruleValue(a, b)) { for (const c of CONCEPTS) found.add(c.name) }
    else if (v === a * b) found.add("multiply")
    else if (v === a + b + 1) found.add("add-one")
  }
  return inOrder(found)
}

/** The sentence proposals use for a set of concepts ("" for none). */
const ruleText = (concepts: ReadonlyArray<Concept>): string =>
  concepts.length === 0
    ? ""
    : concepts.length === CONCEPTS.length
    ? RULE
    : CONCEPTS.filter((c) => concepts.includes(c.name)).map((c) => c.phrase).join(" ")

/** Code patterns the examples show per kind (a pair whose answer fits the kind's code). */
const revealedCodes = (text: string): Array<CodeKind> => {
  const kinds = new Set<CodeKind>()
  const pairs =
    /secret code for (?:the |an? )?(fruit|animal|color|tool|metal)\s+["'“‘]?([A-Za-z]+)(?:(?!secret code|Example\()[\s\S]){0,400}?\banswer\b["']?\s*[:=]\s*["']?\s*([A-Za-z]+)/gi
  for (const m of text.matchAll(pairs)) {
    const kind = m[1]!.toLowerCase() as CodeKind
    if (patternOf(m[2]!, m[3]!) === CODE_PATTERNS[kind]) kinds.add(kind)
  }
  return CODE_KINDS.filter((k) => kinds.has(k))
}

type Family = "operator" | "code" | "other"

const familyOf = (text: string): Family =>
  parseOperator(text) !== undefined || revealedConcepts(text).length > 0
    ? "operator"
    : parseCode(text) !== undefined
    ? "code"
    : "other"

// ---------------------------------------------------------------------------------------------------------
// Instruction proposals

/** Wordings of the base instruction; none states a concept. */
const STYLES: ReadonlyArray<(b: string) => string> = [
  (b) => b,
  (b) => `${b} Be precise.`,
  (b) => `You are an expert problem solver. ${b}`,
  (b) => `Task: ${b}`,
  (b) => `${b} Answer concisely.`,
  (b) => `Work carefully. ${b}`,
  (b) => `${b} Give only what is asked.`
]

/** What a proposal adds when the prompt reveals nothing: #1 and #3 name one part of the rule by luck. */
const GUESSES: ReadonlyArray<string> = [
  "Read the question carefully and answer with the final result only.",
  "Where an unfamiliar operator appears, try multiplying the two numbers.",
  "Double-check each calculation before you answer.",
  "If a symbol looks like a variant of +, add 1 to the usual result.",
  "Think step by step, then state the answer plainly."
]

const CODE_GUESSES: ReadonlyArray<string> = [
  "Look at the examples of the same kind and copy how they encode words.",
  "Each kind of word has its own code; apply the code of the word's kind.",
  "Answer with the encoded word only.",
  "Check the code letter by letter before answering.",
  "Follow the pattern the closest example shows."
]

const PREFIXES: ReadonlyArray<string> = ["Answer:", "Final Answer:", "Result:", "Solution:", "The answer is:"]

const PERSONAS: Readonly<Record<Family, string>> = {
  operator: "You are a meticulous mathematician.",
  code: "You are a careful code breaker.",
  other: "You are a careful expert."
}

/** Inputs that are the optimizer's own bookkeeping, not evidence about the task. */
const NOT_EVIDENCE = new Set(["basic_instruction", "attempted_instructions", "previous_instructions", "tip"])

const sentence = (s: string): string => (s === "" || /[.!?]$/.test(s) ? s : `${s}.`)

/**
 * One proposed instruction (and COPRO output-field prefix) for a proposal prompt's inputs. `sample` is
 * which sample this is (choice index, or repeats of the same request); `seed` the simulator's seed.
 */
export const propose = (
  inputs: Readonly<Record<string, string>>,
  sample: number,
  seed: number
): { readonly instruction: string; readonly prefix: string } => {
  const all = Object.values(inputs).join("\n")
  const h = hash(`${seed}\n${all}`)
  const evidence = Object.entries(inputs).filter(([k]) => !NOT_EVIDENCE.has(k)).map(([, v]) => v).join("\n")
  const attempts = [
    ...parseCoproAttempts(inputs["attempted_instructions"] ?? ""),
    ...parseScoredHistory(inputs["previous_instructions"] ?? "")
  ]
  const family = familyOf(`${all}\n${attempts.map((a) => a.instruction).join("\n")}`)
  const given = cleanEntry(inputs["basic_instruction"] ?? "")
  const shortest = [...attempts].sort((x, y) => x.instruction.length - y.instruction.length)[0]?.instruction
  const basic = sentence(given !== "" ? given : shortest ?? "Answer the question.")

  // Hill-climbing: when one attempt beat another, the concepts of the best one look promising.
  let best: Attempt | undefined
  for (const a of attempts) if (best === undefined || a.score >= best.score) best = a
  const improved = best !== undefined && attempts.some((a) => a.score < best.score)
  const known = new Set([...revealedConcepts(evidence), ...(improved ? conceptsIn(best!.instruction) : [])])
  const knownList = inOrder(known)
  const missing = CONCEPTS.map((c) => c.name).filter((n) => !known.has(n))

  const pattern = (h + sample) % 4
  const guesses = family === "code" ? CODE_GUESSES : GUESSES
  const guess = guesses[((h >>> 7) + sample) % guesses.length]!
  let addition: string
  if (knownList.length === 0) addition = guess
  else if (missing.length === 0) addition = pattern < 2 ? RULE : pattern === 2 ? ruleText(knownList.slice(0, 1)) : ""
  else addition = pattern < 2 ? ruleText([...knownList, missing[0]!]) : pattern === 2 ? ruleText(knownList) : guess

  const tip = inputs["tip"] ?? ""
  const parts = [
    /persona|you are a/i.test(tip) ? PERSONAS[family] : "",
    STYLES[((h >>> 3) + sample) % STYLES.length]!(basic),
    addition,
    /high stakes/i.test(tip) ? "Much depends on getting this exactly right." : "",
    /informative|descriptive/i.test(tip) ? "State plainly what the answer must contain and in what form." : "",
    /creative/i.test(tip) ? "Look at the task with fresh eyes." : ""
  ]
  // The tuple (style, pattern, guess) repeats only every 140 samples; past that, a counter keeps them apart.
  const round = Math.floor(sample / 140)
  const instruction = parts.filter((p) => p !== "").join(" ") + (round > 0 ? ` (Variant ${round + 1}.)` : "")
  return { instruction, prefix: PREFIXES[sample % PREFIXES.length]! }
}

// ---------------------------------------------------------------------------------------------------------
// Dataset and program descriptions

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/** What a text shows about the task: the family, and any part of its rule or codes it reveals. */
const taskSentences = (text: string): Array<string> => {
  const family = familyOf(text)
  if (family === "operator") {
    const out = [
      "The examples ask for the value of an expression joining two whole numbers with the symbol ⊕, and each answer is a whole number."
    ]
    const concepts = revealedConcepts(text)
    if (concepts.length > 0) out.push(`In the answers, ${ruleText(concepts).replace(/^The/, "the")}`)
    return out
  }
  if (family === "code") {
    const kinds = CODE_KINDS.filter((k) => new RegExp(`secret code for (?:the |an? )?${k}\\b`, "i").test(text))
    return [
      `The examples ask for the secret code of a word of a given kind (${
        kinds.join(", ")
      }); each kind seems to have its own code.`,
      ...revealedCodes(text).map((k) => `The ${k} code ${PATTERN_DESCRIPTIONS[CODE_PATTERNS[k]]}.`)
    ]
  }
  const kw = keywords(text, 3)
  return kw.length > 0 ? [`The examples are mostly about ${kw.join(", ")}.`] : []
}

/** DatasetDescriptor(WithPriorObservations): observations about examples, or COMPLETE when none are new. */
export const observe = (examples: string, prior: string | undefined): string => {
  const fields = [...new Set([...examples.matchAll(/['"](\w+)['"]\s*:/g)].map((m) => m[1]!))]
    .filter((f) => f !== "input_keys")
  const sentences = [
    ...taskSentences(examples),
    ...(fields.length > 0 ? [`Each example has the fields ${fields.join(", ")}.`] : [])
  ]
  if (prior === undefined) return sentences.join(" ") || "The examples are too short to show a trend."
  const fresh = sentences.filter((s) => !prior.includes(s))
  return fresh.length > 0 ? fresh.join(" ") : "COMPLETE"
}

/** ObservationSummarizer: the first observation and those about the rule or the codes, three at most. */
export const summarize = (observations: string): string => {
  const sentences = observations.replace(/COMPLETE/g, "").split(/(?<=[.!?])\s+/).map((s) => s.trim())
    .filter((s) => s !== "")
  if (sentences.length === 0) return "The observations say nothing about the dataset yet."
  const key = sentences.slice(1).filter((s) => conceptsIn(s).length > 0 || /\bcodes?\b/i.test(s))
  return [sentences[0]!, ...key].slice(0, 3).join(" ")
}

const MODULE_NAMES = /\b(Predict|ChainOfThought|ReAct|ProgramOfThought|MultiChainComparison)\b/g

/** DescribeProgram: the task (from the example) and the steps (from the code). */
export const describeProgram = (code: string, example: string): string => {
  const modules = [...new Set([...code.matchAll(MODULE_NAMES)].map((m) => m[1]!))]
  const signatures = [...new Set([...code.matchAll(/["'`]([^"'`\n]*->[^"'`\n]*)["'`]/g)].map((m) => m[1]!.trim()))]
  const family = familyOf(`${example}\n${code}`)
  const task = family === "operator"
    ? "arithmetic questions written with the symbol ⊕"
    : family === "code"
    ? "secret-code questions about words of several kinds"
    : "questions"
  const steps = modules.length === 0
    ? "language-model calls"
    : `${modules.length} kind${modules.length === 1 ? "" : "s"} of language-model step (${modules.join(", ")})`
  const out = [`The program answers ${task} with ${steps}.`]
  if (signatures.length > 0) out.push(`It maps ${signatures.join(", then ")}.`)
  out.push(...taskSentences(example).slice(1))
  return out.join(" ")
}

/** DescribeModule: what the named module reads and writes, in the program's terms. */
export const describeModule = (module: string, programDescription: string): string => {
  // "Predict(question) -> answer" (MIPROv2's module string) or a quoted "question -> answer" signature.
  const sig = /\(([^()]*)\)\s*->\s*([\w, ]+)/.exec(module) ?? /(\w[\w, ]*?)\s*->\s*([\w, ]+)/.exec(module)
  const role = sig && sig[1]!.trim() !== ""
    ? `turns ${sig[1]!.trim()} into ${sig[2]!.trim()}`
    : "produces the program's answer"
  const task = programDescription.trim() === "" ? "" : ` ${firstSentence(programDescription)}`
  return `This module ${role}.${task}`
}
