/**
 * The simulated model's "mind": given a DSPy task's input values and the output fields it asks for,
 * produce a typed value per field. Pure and deterministic, and exported, so tests elsewhere compute the
 * expected answer with the same function the server uses.
 */
import { fieldType, type LiteralOption, type OutputFieldSpec, type TypeSpec } from "./FieldTypes.ts"
import {
  answerFact,
  type ArithmeticResult,
  classifySentiment,
  type FactAnswer,
  firstSentence,
  formatNumber,
  keywordCounts,
  keywords,
  labelScore,
  lookupFact,
  normalize,
  numberList,
  numbersIn,
  parsePassages,
  type SentimentResult,
  solveArithmetic,
  statedAge
} from "./TextTools.ts"

/** The answer for questions the simulator cannot solve; fixed so tests can assert on it. */
export const UNKNOWN_ANSWER = "I don't know"

export interface SolveOptions {
  /** The task instructions (DSPy's objective); lets ReAct-style tasks see their tool list. */
  readonly instructions?: string | undefined
  /** Which of several sampled completions this is; only free-text explanations vary with it. */
  readonly variant?: number | undefined
}

/** Everything the simulated model "understood" about a request, shared by all its output fields. */
export interface Analysis {
  readonly question: string
  readonly allText: string
  readonly inputs: Readonly<Record<string, string>>
  readonly arithmetic: ArithmeticResult | undefined
  readonly fact: FactAnswer | undefined
  readonly numbers: ReadonlyArray<number> | undefined
  readonly sentiment: SentimentResult
  readonly sentimentText: string
  /** The plain-text answer to the task. */
  readonly answer: string
  readonly explanation: string
  readonly instructions: string
  readonly variant: number
}

const QUESTION_NAMES = ["question", "query", "problem", "prompt", "task", "input", "claim", "statement", "request"]
const TEXT_NAMES = ["text", "sentence", "review", "document", "passage", "content", "message", "tweet", "comment"]
const CONTEXT_NAMES = ["context", "passages", "documents", "docs", "evidence", "knowledge", "snippets", "retrieved"]
const ANSWER_NAMES = ["answer", "response", "prediction", "predicted_answer", "candidate", "candidate_answer", "output"]

const pick = (inputs: Readonly<Record<string, string>>, names: ReadonlyArray<string>): string | undefined => {
  for (const n of names) if (inputs[n] !== undefined) return inputs[n]
  // Loose match ("user_question"), but never let "context" pass for "text".
  const loose = (k: string) => names === CONTEXT_NAMES || !CONTEXT_NAMES.includes(k.toLowerCase())
  const key = Object.keys(inputs).find((k) => loose(k) && names.some((n) => k.toLowerCase().includes(n)))
  return key === undefined ? undefined : inputs[key]
}

/** Reads the inputs once: which skill applies and what the plain answer is. */
export const analyze = (inputs: Readonly<Record<string, string>>, options: SolveOptions = {}): Analysis => {
  const names = Object.keys(inputs)
  const contextRaw = pick(inputs, CONTEXT_NAMES)
  const questionLike = pick(inputs, QUESTION_NAMES)
  const textLike = pick(inputs, TEXT_NAMES)
  const firstOther = names.filter((n) => !CONTEXT_NAMES.includes(n)).map((n) => inputs[n]!)[0]
  const question = (questionLike ?? textLike ?? firstOther ?? "").trim()
  const allText = names.map((n) => inputs[n]).join("\n")
  const passages = contextRaw === undefined ? [] : parsePassages(contextRaw)
  const arithmetic = solveArithmetic(question)
  const fact = arithmetic ? undefined : answerFact(question, passages)
  let numbers: Array<number> | undefined
  for (const n of names) numbers ??= numberList(inputs[n]!)
  // "What is the sentiment of: I love it" → classify only the quoted part.
  const sentimentText = (textLike ?? question).replace(/^.*\bsentiment\b[^:]*:\s*/is, "")
  const sentiment = classifySentiment(sentimentText)
  const asksSentiment = /\bsentiment\b/i.test(question) && textLike === undefined
  let answer = UNKNOWN_ANSWER
  let explanation = "The question does not match any calculation or fact I know."
  if (arithmetic) {
    answer = formatNumber(arithmetic.value)
    explanation = `Computing ${arithmetic.expression} gives ${answer}.`
  } else if (fact) {
    answer = fact.answer
    explanation = fact.explanation
  } else if (numbers) {
    answer = formatNumber(numbers.reduce((a, b) => a + b, 0))
    explanation = `Adding up ${numbers.join(", ")} gives ${answer}.`
  } else if (asksSentiment) {
    answer = sentiment.label
    explanation = sentimentExplanation(sentiment)
  }
  return {
    question,
    allText,
    inputs,
    arithmetic,
    fact,
    numbers,
    sentiment,
    sentimentText,
    answer,
    explanation,
    instructions: options.instructions ?? "",
    variant: options.variant ?? 0
  }
}

const sentimentExplanation = (s: SentimentResult): string =>
  s.words.length === 0
    ? "The text states facts without positive or negative words, so it is neutral."
    : `The text uses ${s.label} wording (${s.words.slice(0, 3).join(", ")}), so it is ${s.label}.`

const VARIANT_OPENERS = ["", "Let me think step by step. ", "Checking carefully: ", "Reasoning it through: "]

const explain = (a: Analysis, base: string): string => {
  const v = a.variant
  if (v <= 0) return base
  const opener = VARIANT_OPENERS[v % VARIANT_OPENERS.length]!
  return v < VARIANT_OPENERS.length ? `${opener}${base}` : `${opener}${base} (sample ${v + 1})`
}

// ---------------------------------------------------------------------------------------------------------
// Values per type

const isSentimentLike = (name: string, options: ReadonlyArray<string>): boolean =>
  /sentiment|polarity|emotion|tone/i.test(name) ||
  options.some((o) => ["positive", "negative", "neutral", "pos", "neg", "mixed"].includes(o.toLowerCase()))

const SENTIMENT_SYNONYMS: Record<string, ReadonlyArray<string>> = {
  positive: ["positive", "pos", "good", "favorable", "happy", "yes", "1"],
  negative: ["negative", "neg", "bad", "unfavorable", "unhappy", "no", "0"],
  neutral: ["neutral", "neu", "mixed", "none", "neither", "other"]
}

const YES = ["yes", "true", "correct", "y"]
const NO = ["no", "false", "incorrect", "n"]

/** Picks one allowed value of a Literal field. */
const chooseOption = (name: string, options: ReadonlyArray<LiteralOption>, a: Analysis): LiteralOption => {
  if (options.length === 0) return a.answer
  const strs = options.map((o) => String(o))
  const lower = strs.map((o) => o.toLowerCase())
  if (options.some((o) => typeof o === "boolean")) return options.find((o) => o === decideBool(name, a)) ?? options[0]!
  if (lower.includes("finish") && /tool|action/i.test(name)) return chooseReactTool(strs, a) ?? "finish"
  const exact = lower.indexOf(a.answer.toLowerCase())
  if (exact >= 0 && a.answer !== "") return options[exact]!
  if (isSentimentLike(name, strs)) {
    for (const syn of SENTIMENT_SYNONYMS[a.sentiment.label]!) {
      const i = lower.indexOf(syn)
      if (i >= 0) return options[i]!
    }
    const prefix = lower.findIndex((o) => o.startsWith(a.sentiment.label.slice(0, 3)))
    if (prefix >= 0) return options[prefix]!
  }
  const yes = lower.findIndex((o) => YES.includes(o))
  const no = lower.findIndex((o) => NO.includes(o))
  if (yes >= 0 && no >= 0) return options[decideBool(name, a) ? yes : no]!
  const normAnswer = normalize(a.answer)
  const inAnswer = lower.findIndex((o) => normAnswer !== "" && normalize(o) === normAnswer)
  if (inAnswer >= 0) return options[inAnswer]!
  let best = 0
  let bestScore = 0
  strs.forEach((o, i) => {
    const s = labelScore(o, a.allText)
    if (s > bestScore) {
      best = i
      bestScore = s
    }
  })
  return options[best]!
}

/** True/false questions: sentiment flags, "is A op B = C" claims, judged answers, fact claims. */
const decideBool = (name: string, a: Analysis): boolean => {
  if (/positive/i.test(name)) return a.sentiment.label === "positive"
  if (/negative/i.test(name)) return a.sentiment.label === "negative"
  const given = pick(a.inputs, ANSWER_NAMES)
  if (given !== undefined && a.answer !== UNKNOWN_ANSWER) {
    return normalize(given) === normalize(a.answer) || numericEqual(given, a.answer)
  }
  if (a.arithmetic) {
    // "Is 12 + 30 = 42?": the claimed result is the number stated after the expression's operands.
    const claimed = numbersIn(a.question).slice(a.arithmetic.operands.length).at(-1)
    return claimed !== undefined && Math.abs(claimed - a.arithmetic.value) < 1e-9
  }
  const fact = lookupFact(a.question)
  if (fact) return normalize(a.question).includes(normalize(fact.answer))
  return false
}

const numericEqual = (x: string, y: string): boolean => {
  const nx = Number(x.trim())
  const ny = Number(y.trim())
  return x.trim() !== "" && Number.isFinite(nx) && Number.isFinite(ny) && Math.abs(nx - ny) < 1e-9
}

/** A number for a numeric field, or undefined when the inputs state none (Optional fields become None). */
const numberFor = (name: string, a: Analysis): number | undefined => {
  if (a.arithmetic) return a.arithmetic.value
  if (a.numbers) {
    const ns = a.numbers
    if (/count|number_of|num_|length|size|how_many/i.test(name)) return ns.length
    if (/max|largest|highest|biggest/i.test(name)) return Math.max(...ns)
    if (/min|smallest|lowest/i.test(name)) return Math.min(...ns)
    if (/mean|average|avg/i.test(name)) return ns.reduce((x, y) => x + y, 0) / ns.length
    if (/product/i.test(name)) return ns.reduce((x, y) => x * y, 1)
    return ns.reduce((x, y) => x + y, 0)
  }
  if (/\bage\b|^age|_age$/i.test(name)) return statedAge(a.allText)
  if (/confidence|probability|certainty/i.test(name)) return a.answer === UNKNOWN_ANSWER ? 0.1 : 0.9
  if (/rating|stars|score/i.test(name)) {
    return a.sentiment.label === "positive" ? 5 : a.sentiment.label === "negative" ? 1 : 3
  }
  if (a.fact && a.fact.answer.trim() !== "" && Number.isFinite(Number(a.fact.answer))) return Number(a.fact.answer)
  return numbersIn(a.question)[0]
}

const strFor = (name: string, a: Analysis): string => {
  if (/reason|rationale|explanation|justification|thought|thinking|analysis|critique/i.test(name)) {
    return explain(a, reactThought(a) ?? a.explanation)
  }
  if (/summary|summari|abstract|tldr/i.test(name)) return firstSentence(a.question)
  if (/keyword|tags|topics/i.test(name)) return keywords(a.question).join(", ")
  if (/^(?:search_)?quer(?:y|ies)$|search/i.test(name)) return a.question
  if (/sentiment|polarity|emotion|tone|^label$|category|class/i.test(name)) return a.sentiment.label
  return a.answer
}

const valueFor = (name: string, type: TypeSpec, a: Analysis): unknown => {
  switch (type.kind) {
    case "optional": {
      const inner = type.inner
      if (inner.kind === "int" || inner.kind === "float") {
        const n = numberFor(name, a)
        return n === undefined ? null : inner.kind === "int" ? Math.round(n) : n
      }
      if (inner.kind === "str" && a.answer === UNKNOWN_ANSWER && !/reason|rationale/i.test(name)) return null
      return valueFor(name, inner, a)
    }
    case "literal":
      return chooseOption(name, type.options, a)
    case "bool":
      return decideBool(name, a)
    case "int":
      return Math.round(numberFor(name, a) ?? 0)
    case "float":
      return numberFor(name, a) ?? 0
    case "list":
      return listFor(name, type.item, a)
    case "tuple":
      // Each position gets a value of its own type (`tuple[int, str]` for "What is 12 + 30?": [42, "42"]).
      return type.items.map((item) => valueFor(name, item, a))
    case "dict":
      if (/tool_args|args|arguments/i.test(name)) return reactArgs(a)
      if (type.value.kind === "int" || type.value.kind === "float") return keywordCounts(a.question)
      return { answer: a.answer }
    case "object": {
      const out: Record<string, unknown> = {}
      for (const p of type.properties) out[p.name] = valueFor(p.name, p.type, a)
      return out
    }
    case "none":
      return null
    case "str":
    case "any":
      if (/tool_args|args|arguments/i.test(name)) return reactArgs(a)
      return strFor(name, a)
  }
}

const listFor = (name: string, item: TypeSpec, a: Analysis): Array<unknown> => {
  const base = item.kind === "optional" ? item.inner : item
  switch (base.kind) {
    case "int":
    case "float": {
      const ns = a.numbers ?? numbersIn(a.question)
      return ns.map((n) => (base.kind === "int" ? Math.round(n) : n))
    }
    case "literal":
      return [chooseOption(name, base.options, a)]
    case "object":
    case "dict":
    case "tuple":
    case "bool":
      return [valueFor(name, base, a)]
    default:
      if (/quer(?:y|ies)|search/i.test(name)) return [a.question]
      if (/answer/i.test(name)) return [a.answer]
      return keywords(a.question)
  }
}

/** The explanation matching what is asked: the solved question, else the kind of output requested. */
const taskExplanation = (a: Analysis, fields: ReadonlyArray<OutputFieldSpec>): string => {
  if (a.answer !== UNKNOWN_ANSWER) return a.explanation
  const names = fields.map((f) => f.name).join(" ")
  const types = fields.map((f) => fieldType(f))
  const sentimentField = fields.some((f, i) => {
    const t = types[i]!
    return /sentiment|polarity|emotion|tone|label/i.test(f.name) ||
      (t.kind === "literal" && isSentimentLike(f.name, t.options.map(String)))
  })
  if (sentimentField) return sentimentExplanation(a.sentiment)
  if (/summary|keyword|tags|topics/i.test(names)) {
    const kw = keywords(a.question)
    return kw.length > 0
      ? `The text is mainly about ${kw.join(", ")}.`
      : "The text is too short to say more than it does."
  }
  if (/\bage\b|^age|_age\b/i.test(names)) {
    const age = statedAge(a.allText)
    return age === undefined ? "The text does not state an age." : `The text states an age of ${age}.`
  }
  return a.explanation
}

/**
 * Solves a task: `inputs` are the input field values as rendered in the prompt (strings), `fields` the
 * requested outputs. Returns one JS value per field, typed as the field asks (number, boolean, array, ...).
 *
 * @example
 * ```ts
 * import { Tasks } from "@dspex/simulator"
 *
 * Tasks.solveTask({ question: "What is 12 + 30?" }, [{ name: "reasoning" }, { name: "answer", type: "float" }])
 * // { reasoning: "Computing 12 + 30 gives 42.", answer: 42 }
 * ```
 */
export const solveTask = (
  inputs: Readonly<Record<string, string>>,
  fields: ReadonlyArray<OutputFieldSpec>,
  options: SolveOptions = {}
): Record<string, unknown> => {
  const base = analyze(inputs, options)
  const a: Analysis = { ...base, explanation: taskExplanation(base, fields) }
  const out: Record<string, unknown> = {}
  for (const f of fields) out[f.name] = valueFor(f.name, fieldType(f), a)
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Tools (native tool calls and DSPy ReAct's next_tool_name / next_tool_args)

/** A tool the request offers, reduced to what the simulator needs to pick and call it. */
export interface ToolSpec {
  readonly name: string
  readonly description: string
  /** JSON schema of the arguments object. */
  readonly parameters: unknown
}

const ARITH_TOOL = /calc|math|arith|evaluat|compute|add|sum|plus|multipl|times|product|subtract|minus|divid/i
const SEARCH_TOOL = /search|lookup|look_up|retriev|wiki|fact|knowledge|find|query|web/i
const OP_NAMES: Record<string, ReadonlyArray<string>> = {
  "+": ["add", "addition", "plus", "sum", "+"],
  "-": ["subtract", "subtraction", "minus", "sub", "difference", "-"],
  "*": ["multiply", "multiplication", "times", "mul", "product", "*", "x"],
  "/": ["divide", "division", "div", "quotient", "/"]
}

/** How well a tool fits the task; 0 means a model would not call it unprompted. */
const toolScore = (tool: { readonly name: string; readonly description: string }, a: Analysis): number => {
  const label = `${tool.name} ${tool.description}`
  if (a.arithmetic) {
    if (!ARITH_TOOL.test(label)) return 0
    const op = a.arithmetic.operators[0]!
    return OP_NAMES[op]!.some((n) => /^[a-z]/.test(n) && tool.name.toLowerCase().includes(n)) ? 3 : 2
  }
  if (a.question !== "" && SEARCH_TOOL.test(label)) return 2
  const words = new Set(normalize(a.question).split(" "))
  return tool.name.split(/[_\W]+|(?=[A-Z])/).some((w) => w.length > 2 && words.has(w.toLowerCase())) ? 1 : 0
}

const subjectOf = (a: Analysis): string => lookupFact(a.question)?.subject ?? a.question

/** Arguments for a call to a tool whose argument schema is known. */
export const toolArguments = (parameters: unknown, a: Analysis): Record<string, unknown> => {
  const schema = typeof parameters === "object" && parameters !== null ? (parameters as Record<string, unknown>) : {}
  const props = (schema["properties"] ?? {}) as Record<string, Record<string, unknown>>
  const operands = [...(a.arithmetic?.operands ?? a.numbers ?? numbersIn(a.question))]
  const out: Record<string, unknown> = {}
  for (const [name, prop] of Object.entries(props)) {
    const type = prop?.["type"]
    const enumValues = Array.isArray(prop?.["enum"]) ? (prop["enum"] as Array<unknown>).map(String) : undefined
    if (type === "number" || type === "integer") {
      out[name] = operands.shift() ?? 0
    } else if (type === "array") {
      out[name] = a.arithmetic || a.numbers ? [...(a.arithmetic?.operands ?? a.numbers ?? [])] : [a.question]
    } else if (type === "boolean") {
      out[name] = false
    } else if (/^op$|operation|operator/i.test(name) || enumValues) {
      const names = OP_NAMES[a.arithmetic?.operators[0] ?? "+"]!
      out[name] = enumValues ? (enumValues.find((e) => names.includes(e.toLowerCase())) ?? enumValues[0]) : names[0]
    } else if (
      /expr|formula|equation|calculation/i.test(name) || (a.arithmetic && !/query|question|search/i.test(name))
    ) {
      out[name] = a.arithmetic?.expression ?? a.question
    } else if (/country|city|subject|entity|title|location|element|planet|topic|name/i.test(name)) {
      out[name] = subjectOf(a)
    } else {
      out[name] = a.question
    }
  }
  return out
}

/**
 * Decides whether the simulated model calls a native tool (OpenAI `tools`, Anthropic `tools`), and with
 * what arguments. `mode` mirrors tool_choice: "auto" calls only a fitting tool, "required" always calls one,
 * a tool name forces that tool.
 */
export const planToolCall = (
  inputs: Readonly<Record<string, string>>,
  tools: ReadonlyArray<ToolSpec>,
  mode: "auto" | "required" | { readonly name: string }
): { readonly name: string; readonly arguments: Record<string, unknown> } | undefined => {
  if (tools.length === 0) return undefined
  const a = analyze(inputs)
  let tool: ToolSpec | undefined
  if (typeof mode === "object") {
    tool = tools.find((t) => t.name === mode.name)
  } else {
    const scored = tools.map((t) => ({ t, s: toolScore(t, a) })).sort((x, y) => y.s - x.s)
    tool = scored[0]!.s > 0 || mode === "required" ? scored[0]!.t : undefined
  }
  return tool ? { name: tool.name, arguments: toolArguments(tool.parameters, a) } : undefined
}

interface ReactTool {
  readonly name: string
  readonly description: string
  readonly args: Record<string, { type: string }>
}

/** Tools as DSPy ReAct lists them in its instructions: `(1) name, whose description is <desc>..</desc>. It takes arguments {...}.` */
const reactTools = (instructions: string): Array<ReactTool> => {
  const out: Array<ReactTool> = []
  const re = /\(\d+\)\s+([\w-]+), whose description is <desc>([\s\S]*?)<\/desc>\.?\s*It takes arguments (\{[^\n]*\})/g
  for (const m of instructions.matchAll(re)) {
    const args: Record<string, { type: string }> = {}
    let depth = 0
    const src = m[3]!
    for (let i = 0; i < src.length; i++) {
      const c = src[i]
      if (c === "{") depth++
      else if (c === "}") depth--
      else if (depth === 1 && (c === "'" || c === "\"")) {
        const end = src.indexOf(c, i + 1)
        const key = src.slice(i + 1, end)
        const rest = src.slice(end + 1)
        const type = /^\s*:\s*\{[^{}]*?['"]type['"]\s*:\s*['"](\w+)['"]/.exec(rest)?.[1]
        if (/^\s*:/.test(rest)) args[key] = { type: type ?? "string" }
        i = end
      }
    }
    out.push({ name: m[1]!, description: m[2]!, args })
  }
  return out
}

const hasObservation = (a: Analysis): boolean => /observation_\d+|\bobservation\b/i.test(a.inputs["trajectory"] ?? "")

const chooseReactTool = (options: ReadonlyArray<string>, a: Analysis): string | undefined => {
  if (hasObservation(a)) return "finish"
  const described = reactTools(a.instructions)
  let best: string | undefined
  let bestScore = 0
  for (const o of options) {
    if (o === "finish") continue
    const s = toolScore({ name: o, description: described.find((t) => t.name === o)?.description ?? "" }, a)
    if (s > bestScore) {
      best = o
      bestScore = s
    }
  }
  return best
}

const reactArgs = (a: Analysis): Record<string, unknown> => {
  const tools = reactTools(a.instructions)
  const names = tools.map((t) => t.name)
  const chosen = chooseReactTool(names.length > 0 ? names : ["finish"], a) ?? "finish"
  if (chosen === "finish") return {}
  const tool = tools.find((t) => t.name === chosen)!
  const properties: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(tool.args)) properties[k] = { type: v.type }
  return toolArguments({ properties }, a)
}

const reactThought = (a: Analysis): string | undefined => {
  if (!("trajectory" in a.inputs)) return undefined
  const tool = chooseReactTool(reactTools(a.instructions).map((t) => t.name), a)
  return tool === undefined || tool === "finish"
    ? `I have enough information to answer: ${a.answer}.`
    : `I should call ${tool} to answer the question.`
}
