/**
 * The small "skills" of the simulated model: arithmetic, fact lookup (table or context passages),
 * sentiment and keyword extraction. Each is deliberately simple and fully deterministic so tests can
 * predict the answer; each is also real enough that a wrong prompt (missing input, wrong field) gives a
 * visibly wrong answer.
 */
import { type Fact, facts } from "./Facts.ts"

/** Rough token count used for usage and context-window checks (about four characters per token). */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)

// ---------------------------------------------------------------------------------------------------------
// Arithmetic

export interface ArithmeticResult {
  readonly value: number
  /** The expression as evaluated, e.g. `12 + 30`. */
  readonly expression: string
  readonly operands: ReadonlyArray<number>
  readonly operators: ReadonlyArray<"+" | "-" | "*" | "/">
}

/** Formats a result the way a person writes it: integral values without a decimal point, no float noise. */
export const formatNumber = (n: number): string => {
  if (!Number.isFinite(n)) return String(n)
  const clean = Number(n.toPrecision(15))
  return String(Object.is(clean, -0) ? 0 : clean)
}

const NUMBER_WORDS: Record<string, number> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
  hundred: 100
}
const NUM = String.raw`-?\d+(?:\.\d+)?`

const toSymbols = (text: string): string => {
  let s = ` ${text.toLowerCase().replace(/(\d),(\d{3})\b/g, "$1$2")} `
  s = s.replace(
    /\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)\b(?=\s+(?:plus|minus|times|multiplied|divided|and|from|by|\+|-|\*|\/))|(?<=(?:plus|minus|times|by|and|from|of)\s+)\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)\b/g,
    (w) => String(NUMBER_WORDS[w] ?? w)
  )
  const pair = (re: string, f: (a: string, b: string) => string) => {
    s = s.replace(new RegExp(re, "g"), (_m, a: string, b: string) => f(a, b))
  }
  pair(String.raw`\bsum of (${NUM}) and (${NUM})`, (a, b) => `${a} + ${b}`)
  pair(String.raw`\bproduct of (${NUM}) and (${NUM})`, (a, b) => `${a} * ${b}`)
  pair(String.raw`\bdifference (?:between|of) (${NUM}) and (${NUM})`, (a, b) => `${a} - ${b}`)
  pair(String.raw`\bquotient of (${NUM}) and (${NUM})`, (a, b) => `${a} / ${b}`)
  pair(String.raw`\bsubtract (${NUM}) from (${NUM})`, (a, b) => `${b} - ${a}`)
  pair(String.raw`\badd (${NUM}) (?:and|to) (${NUM})`, (a, b) => `${a} + ${b}`)
  pair(String.raw`\bmultiply (${NUM}) (?:by|and) (${NUM})`, (a, b) => `${a} * ${b}`)
  pair(String.raw`\bdivide (${NUM}) by (${NUM})`, (a, b) => `${a} / ${b}`)
  pair(String.raw`(${NUM})\s*(?:%|percent) of (${NUM})`, (a, b) => `${a} / 100 * ${b}`)
  return s
    .replace(/\bmultiplied by\b/g, "*")
    .replace(/\bdivided by\b/g, "/")
    .replace(/\btimes\b/g, "*")
    .replace(/\bplus\b/g, "+")
    .replace(/\bminus\b/g, "-")
    .replace(/(\d)\s*[x×]\s*(?=[\d(])/g, "$1 * ")
    .replace(/÷/g, "/")
    .replace(/−/g, "-")
}

/** Recursive-descent evaluation of `+ - * /` with parentheses; undefined unless the whole string parses. */
const evaluate = (src: string): ArithmeticResult | undefined => {
  const toks = src.match(/\d+(?:\.\d+)?|[-+*/()]/g) ?? []
  let pos = 0
  const operands: Array<number> = []
  const operators: Array<"+" | "-" | "*" | "/"> = []
  const factor = (): number => {
    const t = toks[pos++]
    if (t === "-") return -factor()
    if (t === "(") {
      const v = expr()
      if (toks[pos++] !== ")") return NaN
      return v
    }
    if (t === undefined || !/^\d/.test(t)) return NaN
    const v = Number(t)
    operands.push(v)
    return v
  }
  const term = (): number => {
    let v = factor()
    while (toks[pos] === "*" || toks[pos] === "/") {
      const op = toks[pos++] as "*" | "/"
      operators.push(op)
      const r = factor()
      v = op === "*" ? v * r : r === 0 ? NaN : v / r
    }
    return v
  }
  const expr = (): number => {
    let v = term()
    while (toks[pos] === "+" || toks[pos] === "-") {
      const op = toks[pos++] as "+" | "-"
      operators.push(op)
      const r = term()
      v = op === "+" ? v + r : v - r
    }
    return v
  }
  const value = expr()
  if (pos !== toks.length || !Number.isFinite(value) || operators.length === 0) return undefined
  // Negative literals are folded into operands so tool arguments see -5, not 5.
  const expression = toks.join(" ").replace(/(^|[-+*/(] )- (\d)/g, "$1-$2")
  return { value, expression, operands: signedOperands(toks, operands), operators }
}

const signedOperands = (toks: ReadonlyArray<string>, plain: ReadonlyArray<number>): Array<number> => {
  const out: Array<number> = []
  let k = 0
  for (let i = 0; i < toks.length; i++) {
    if (!/^\d/.test(toks[i]!)) continue
    const prev = toks[i - 1]
    const prev2 = toks[i - 2]
    const negative = prev === "-" && (prev2 === undefined || /^[-+*/(]$/.test(prev2))
    out.push(negative ? -plain[k]! : plain[k]!)
    k++
  }
  return out
}

/** Finds and evaluates the first arithmetic expression in a question (`12 + 30`, `15 minus 4`, `20% of 150`). */
export const solveArithmetic = (text: string): ArithmeticResult | undefined => {
  const s = toSymbols(text)
  const runs = s.match(/-?[\d(][\d.\s+\-*/()]*[\d)]/g) ?? []
  for (const raw of runs) {
    let run = raw.trim()
    // Drop unbalanced parentheses at the edges ("(what is 2 + 3)" style wrapping).
    while (run.startsWith("(") && (run.match(/\(/g)?.length ?? 0) > (run.match(/\)/g)?.length ?? 0)) {
      run = run.slice(1).trim()
    }
    while (run.endsWith(")") && (run.match(/\)/g)?.length ?? 0) > (run.match(/\(/g)?.length ?? 0)) {
      run = run.slice(0, -1).trim()
    }
    if (!/\d\s*[-+*/]\s*[-(]*\s*\d/.test(run)) continue
    // Dates (2024-01-15, 1/15/2024) are not sums.
    if (/^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}\/\d{1,2}\/\d{2,4}$/.test(run)) continue
    const result = evaluate(run)
    if (result) return result
  }
  return undefined
}

/** All numbers mentioned in a text, in order. */
export const numbersIn = (text: string): Array<number> =>
  (text.replace(/(\d),(\d{3})\b/g, "$1$2").match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number)

/** A JSON array of numbers (DSPy renders `list[int]` inputs as one), or undefined. */
export const numberList = (text: string): Array<number> | undefined => {
  const t = text.trim()
  if (!t.startsWith("[")) return undefined
  try {
    const v: unknown = JSON.parse(t)
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number")) return v as Array<number>
  } catch {
    return undefined
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------
// Facts

/** Lowercased words with punctuation (except hyphens inside words) turned into spaces. */
export const normalize = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]+/gu, " ")
    .replace(/(^|\s)-+|-+(\s|$)/g, " ")
    .replace(/\s+/g, " ")
    .trim()

const hasPhrase = (haystack: string, phrase: string): boolean => ` ${haystack}`.includes(` ${phrase}`)

/** The best-matching table fact for a question: all its keys present, most specific match wins. */
export const lookupFact = (question: string): Fact | undefined => {
  const q = normalize(question)
  let best: Fact | undefined
  let bestScore = 0
  for (const fact of facts) {
    let score = 0
    for (const key of fact.keys) {
      const hit = key.split("|").find((alt) => hasPhrase(q, alt))
      if (hit === undefined) {
        score = -1
        break
      }
      score += hit.length
    }
    if (score > bestScore) {
      best = fact
      bestScore = score
    }
  }
  return best
}

/** Splits a `context` input into passages: a JSON list, DSPy's `[1] «...»` list, or one per line. */
export const parsePassages = (raw: string): Array<string> => {
  const t = raw.trim()
  if (t === "") return []
  if (t.startsWith("[") && t.endsWith("]")) {
    try {
      const v: unknown = JSON.parse(t)
      if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? x : JSON.stringify(x)))
    } catch {
      // fall through to the textual forms
    }
  }
  const parts = /^\[\d+\]/.test(t) ? t.split(/\s*\[\d+\]\s*/) : t.split(/\n+/)
  return parts.map((p) => p.replace(/^[«"']|[»"']$/g, "").trim()).filter((p) => p !== "")
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const PASSIVE: Record<string, string> = {
  wrote: "written",
  write: "written",
  painted: "painted",
  invented: "invented",
  discovered: "discovered",
  founded: "founded",
  created: "created",
  directed: "directed",
  composed: "composed"
}

interface QuestionShape {
  readonly subject: string
  readonly patterns: ReadonlyArray<RegExp>
}

/** Generic question shapes ("What is the R of S?", "Who wrote S?") and where their answer sits in prose. */
const questionShape = (question: string): QuestionShape | undefined => {
  const q = question.trim().replace(/\s+/g, " ")
  const rel = /\b(?:what|who|which)\s+(?:is|was|are|were)\s+the\s+(.+?)\s+(?:of|for|in)\s+(?:the\s+)?(.+?)\s*[?.!]*$/i
    .exec(q)
  if (rel) {
    const r = escapeRe(rel[1]!)
    const s = escapeRe(rel[2]!)
    return {
      subject: rel[2]!,
      patterns: [
        new RegExp(String.raw`the ${r} (?:of|for|in) (?:the )?${s} (?:is|was) (?:the )?([^.;,\n]+)`, "i"),
        new RegExp(String.raw`${s}'s ${r} (?:is|was) ([^.;,\n]+)`, "i"),
        new RegExp(String.raw`([^.;,\n]+?) (?:is|was) the ${r} (?:of|for|in) (?:the )?${s}`, "i")
      ]
    }
  }
  const verb =
    /\bwho\s+(wrote|painted|invented|discovered|founded|created|directed|composed)\s+(?:the\s+)?(.+?)\s*[?.!]*$/i.exec(
      q
    )
  if (verb) {
    const v = verb[1]!.toLowerCase()
    const s = escapeRe(verb[2]!)
    return {
      subject: verb[2]!,
      patterns: [
        new RegExp(String.raw`${s} (?:is|was) (?:${PASSIVE[v] ?? v}|written) by ([^.;,\n]+)`, "i"),
        new RegExp(String.raw`([^.;,\n]+?) ${v} (?:the )?${s}`, "i")
      ]
    }
  }
  return undefined
}

export interface FactAnswer {
  readonly answer: string
  readonly source: "context" | "table"
  readonly explanation: string
}

/**
 * Answers a factoid question, preferring a context passage that mentions the subject (so retrieval
 * pipelines are rewarded for retrieving), then the fact table.
 */
export const answerFact = (question: string, passages: ReadonlyArray<string>): FactAnswer | undefined => {
  const fact = lookupFact(question)
  const shape = questionShape(question)
  const subject = (fact?.subject ?? shape?.subject ?? "").toLowerCase()
  if (subject !== "" && passages.length > 0) {
    const relevant = passages.filter((p) => p.toLowerCase().includes(subject))
    for (const passage of relevant) {
      if (fact && normalize(passage).includes(normalize(fact.answer))) {
        return { answer: fact.answer, source: "context", explanation: `The context says: "${passage}"` }
      }
      for (const re of shape?.patterns ?? []) {
        const m = re.exec(passage)
        const found = m?.[1]?.trim().replace(/^(?:the|in fact|actually)\s+/i, "")
        if (found) return { answer: found, source: "context", explanation: `The context says: "${passage}"` }
      }
    }
  }
  if (fact) {
    return {
      answer: fact.answer,
      source: "table",
      explanation: `From what I know, the answer to "${fact.question}" is ${fact.answer}.`
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------
// Sentiment and keywords

const POSITIVE = new Set(
  "good great excellent amazing love loved loves lovely wonderful fantastic happy best enjoy enjoyed enjoyable awesome delightful brilliant perfect pleasant recommend recommended superb beautiful clean friendly nice impressive outstanding glad favorite fast helpful comfortable fun exciting"
    .split(" ")
)
const NEGATIVE = new Set(
  "bad terrible awful hate hated hates poor worst boring disappointing disappointed horrible sad angry broken waste useless annoying slow rude dirty buggy ugly painful cancelled late worse unhappy mediocre noisy expensive fail failed failure problem"
    .split(" ")
)
const NEGATORS = new Set(["not", "no", "never", "hardly", "without"])

export type Sentiment = "positive" | "negative" | "neutral"

export interface SentimentResult {
  readonly label: Sentiment
  /** The words that decided it, for the explanation. */
  readonly words: ReadonlyArray<string>
}

/** Lexicon sentiment with two-word negation ("not good" is negative, "not bad" positive). */
export const classifySentiment = (text: string): SentimentResult => {
  const toks = text.toLowerCase().match(/[a-z']+/g) ?? []
  let score = 0
  const words: Array<string> = []
  toks.forEach((tok, i) => {
    const polarity = POSITIVE.has(tok) ? 1 : NEGATIVE.has(tok) ? -1 : 0
    if (polarity === 0) return
    const negated = [toks[i - 1], toks[i - 2]].some((p) => p !== undefined && (NEGATORS.has(p) || p.endsWith("n't")))
    score += negated ? -polarity : polarity
    words.push(negated ? `not ${tok}` : tok)
  })
  return { label: score > 0 ? "positive" : score < 0 ? "negative" : "neutral", words }
}

const STOPWORDS = new Set(
  "a an the and or but if of to in on at by for with from as is are was were be been being it its this that these those there here i you he she we they me my your our their his her them us what which who whom when where why how do does did done have has had not no so than then too very can could should would will shall may might must about into over under again all any both each few more most other some such only own same just also"
    .split(" ")
)

/** Up to `max` content words, most frequent first (ties by first appearance). */
export const keywords = (text: string, max = 3): Array<string> => {
  const toks = text.toLowerCase().match(/[\p{L}][\p{L}\p{N}'-]*/gu) ?? []
  const counts = new Map<string, { n: number; first: number }>()
  toks.forEach((t, i) => {
    const w = t.replace(/'s$/, "")
    if (w.length < 3 || STOPWORDS.has(w)) return
    const c = counts.get(w)
    if (c) c.n++
    else counts.set(w, { n: 1, first: i })
  })
  return [...counts.entries()]
    .sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first)
    .slice(0, max)
    .map(([w]) => w)
}

/** Word counts of the keywords, for `dict[str, int]` outputs. */
export const keywordCounts = (text: string, max = 3): Record<string, number> => {
  const lower = text.toLowerCase()
  const out: Record<string, number> = {}
  for (const k of keywords(text, max)) {
    out[k] = lower.split(k).length - 1
  }
  return out
}

/** The first sentence, capped, as a one-line summary. */
export const firstSentence = (text: string): string => {
  const t = text.trim().replace(/\s+/g, " ")
  const m = /^.*?[.!?](?=\s|$)/.exec(t)
  const s = m ? m[0] : t
  return s.length > 200 ? `${s.slice(0, 197)}...` : s
}

/** An age stated in a text ("42 years old", "aged 42", "age: 42"), or undefined. */
export const statedAge = (text: string): number | undefined => {
  const m = /(\d{1,3})[- ](?:years?|yrs?)[- ]old/i.exec(text) ??
    /\baged?\s*(?:is|of|:)?\s*(\d{1,3})\b/i.exec(text) ??
    /\b(\d{1,3})-year-old\b/i.exec(text)
  return m ? Number(m[1]) : undefined
}

const TOPICS: Record<string, ReadonlyArray<string>> = {
  sport: ["game", "team", "match", "score", "won", "player", "ball", "league", "season", "coach"],
  politic: ["election", "government", "vote", "minister", "president", "law", "senate", "policy"],
  tech: ["software", "computer", "phone", "app", "internet", "chip", "ai", "startup", "code"],
  business: ["market", "stock", "company", "profit", "revenue", "bank", "shares", "economy"],
  financ: ["market", "stock", "profit", "revenue", "bank", "shares", "interest", "loan"],
  science: ["research", "study", "scientists", "planet", "experiment", "physics", "biology"],
  health: ["doctor", "disease", "hospital", "vaccine", "patients", "health", "medicine"],
  entertain: ["movie", "film", "music", "actor", "show", "album", "concert", "series"]
}

/** How strongly a free-form label (a topic like "sports") is supported by a text. */
export const labelScore = (label: string, text: string): number => {
  const l = normalize(label)
  const words = ` ${normalize(text)} `
  let score = l !== "" && words.includes(` ${l}`) ? 3 : 0
  for (const [stem, cues] of Object.entries(TOPICS)) {
    if (!l.startsWith(stem)) continue
    for (const cue of cues) if (words.includes(` ${cue} `)) score++
  }
  return score
}
