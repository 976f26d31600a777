/**
 * The simulator's "optimizable" mode: task families whose answers depend on the prompt in documented,
 * deterministic ways, so an optimizer test can show that a search finds what raises the score.
 *
 * - Rule in the instruction (the `⊕` operator): "What is 7 ⊕ 5?" is right only as far as the
 *   instruction states the rule `a ⊕ b = a × b + 1` (two keyword concepts, each worth part of the items).
 * - Demos that match (secret codes): "What is the secret code for the fruit mango?" is right only when a
 *   demo of the same kind (fruit) shows that kind's code.
 * - Proposal and dataset-summary prompts (COPRO, MIPROv2) get varied candidate instructions built from
 *   what the prompt reveals (see the README).
 *
 * A request is in the mode when its model name ends in `:optimizable`, when its `x-sim-optimizable`
 * header says so, or when the simulator was started with `optimizable: true`. The dataset generators here
 * produce train/dev sets whose gold answers are exactly what the mode accepts.
 */
import { Schema } from "effect"
import { createPrng } from "./Faults.ts"

/** Model-name suffix that puts one request in the mode: `gpt-4o-mini:optimizable` (answered as `gpt-4o-mini`). */
export const MODEL_SUFFIX = ":optimizable"

/** Request header that turns the mode on (`1`, `true`, `on`) or off (`0`, `false`, `off`) for one request. */
export const HEADER = "x-sim-optimizable"

/** A bad argument to a generator, or a header value that is neither on nor off. */
export class OptimizableError extends Schema.TaggedError<OptimizableError>()("OptimizableError", {
  what: Schema.String,
  reason: Schema.String,
  hint: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `${this.what}: ${this.reason}`
  }
  get suggestion(): string {
    return this.hint
  }
}

/**
 * Splits the mode suffix off a model name (it may sit before or after a `:fault=` suffix).
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.splitModel("gpt-4o-mini:optimizable") // { model: "gpt-4o-mini", optimizable: true }
 * Optimizable.splitModel("gpt-4o-mini:optimizable:fault=429").model // "gpt-4o-mini:fault=429"
 * ```
 */
export const splitModel = (model: string): { readonly model: string; readonly optimizable: boolean } => {
  const stripped = model.replace(/:optimizable(?=$|:)/, "")
  return { model: stripped, optimizable: stripped !== model }
}

/**
 * Reads the `x-sim-optimizable` header: true, false, or undefined when absent. A value that is neither on
 * nor off throws {@link OptimizableError}, so a typo in a test fails loudly (HTTP 400) instead of passing.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.headerMode("on") // true
 * Optimizable.headerMode(undefined) // undefined
 * ```
 */
export const headerMode = (value: string | undefined): boolean | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const v = value.trim().toLowerCase()
  if (["1", "true", "on", "yes"].includes(v)) return true
  if (["0", "false", "off", "no"].includes(v)) return false
  throw new OptimizableError({
    what: `header ${HEADER}`,
    reason: `unknown value ${JSON.stringify(value)}`,
    hint: "Send 1, true or on to turn the optimizable mode on; 0, false or off to turn it off."
  })
}

/** One example: the question (the input) and its gold answer, as text. */
export interface Item {
  readonly question: string
  readonly answer: string
}

/** Disjoint train and dev sets of one task family. */
export interface Dataset {
  readonly trainset: ReadonlyArray<Item>
  readonly devset: ReadonlyArray<Item>
}

/** Sizes of a generated dataset and the seed that picks and orders its items. */
export interface DatasetOptions {
  /** Default 20. */
  readonly trainSize?: number
  /** Default 20. */
  readonly devSize?: number
  /** Default 1; the same seed gives the same sets. */
  readonly seed?: number
}

const checkSizes = (family: string, options: DatasetOptions, available: number) => {
  const train = options.trainSize ?? 20
  const dev = options.devSize ?? 20
  for (const [name, n] of [["trainSize", train], ["devSize", dev]] as const) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new OptimizableError({
        what: `${family} ${name}`,
        reason: `expected a whole number, 0 or more, got ${n}`,
        hint: "Pass sizes such as { trainSize: 20, devSize: 20 }."
      })
    }
  }
  if (train + dev > available) {
    throw new OptimizableError({
      what: `${family} dataset`,
      reason: `${train} + ${dev} items asked for, only ${available} distinct items exist`,
      hint: `Ask for at most ${available} items in all.`
    })
  }
  return { train, dev }
}

const shuffled = <A>(items: ReadonlyArray<A>, draw: () => number): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(draw() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Deals groups round-robin (so every set is balanced across them), then shuffles each set. */
const deal = <A>(groups: ReadonlyArray<ReadonlyArray<A>>, train: number, dev: number, seed: number) => {
  const draw = createPrng(seed)
  const queues = groups.map((g) => shuffled(g, draw))
  const take = (n: number): Array<A> => {
    const out: Array<A> = []
    for (let i = 0; out.length < n; i++) {
      const q = queues[i % queues.length]!
      if (q.length > 0) out.push(q.shift()!)
    }
    return shuffled(out, draw)
  }
  const trainset = take(train)
  return { trainset, devset: take(dev) }
}

// ---------------------------------------------------------------------------------------------------------
// Rule in the instruction: the ⊕ operator

/** The operator whose meaning only the instruction can give. */
export const OPERATOR = "⊕"

/** The two parts of the rule; an instruction that states one of them gets part of the items right. */
export type Concept = "multiply" | "add-one"

export interface ConceptSpec {
  readonly name: Concept
  /** How proposals state this part alone. */
  readonly phrase: string
  /** Keywords that count as stating it (case-insensitive). */
  readonly pattern: RegExp
}

export const CONCEPTS: ReadonlyArray<ConceptSpec> = [
  {
    name: "multiply",
    phrase: "The symbol ⊕ means: multiply the two numbers.",
    pattern: /\bmultipl|\bproduct\b|\btimes\b/i
  },
  {
    name: "add-one",
    phrase: "The symbol ⊕ means: add 1 to the usual result.",
    pattern: /\b(?:add(?:s|ed|ing)?|plus)\s+(?:1|one)\b|\bincrement/i
  }
]

/** The whole rule, as the best proposals state it. */
export const RULE = "The symbol ⊕ means: multiply the two numbers, then add 1."

/** Items have a level 0..LEVELS-1; an instruction solves levels below {@link solvedLevels}. */
export const LEVELS = 5

/**
 * The rule's concepts a text states, in {@link CONCEPTS} order.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.conceptsIn(Optimizable.RULE) // ["multiply", "add-one"]
 * Optimizable.conceptsIn("Answer the question.") // []
 * ```
 */
export const conceptsIn = (text: string): Array<Concept> =>
  CONCEPTS.filter((c) => c.pattern.test(text)).map((c) => c.name)

/**
 * How many of the {@link LEVELS} item levels an instruction solves: 1 with no concept (the easy items),
 * 3 with one, 5 (all) with both.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.solvedLevels("Given the fields `question`, produce the fields `answer`.") // 1
 * Optimizable.solvedLevels("Multiply the numbers.") // 3
 * Optimizable.solvedLevels(Optimizable.RULE) // 5
 * ```
 */
export const solvedLevels = (instruction: string): number => Math.min(LEVELS, 1 + 2 * conceptsIn(instruction).length)

/**
 * The share of a level-balanced dataset (sizes a multiple of {@link LEVELS}) an instruction gets right.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.operatorScore("Answer the question.") // 0.2
 * Optimizable.operatorScore("Multiply the numbers.") // 0.6
 * Optimizable.operatorScore(Optimizable.RULE) // 1
 * ```
 */
export const operatorScore = (instruction: string): number => solvedLevels(instruction) / LEVELS

/**
 * The rule's value of `a ⊕ b`: `a × b + 1`.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.ruleValue(7, 5) // 36
 * ```
 */
export const ruleValue = (a: number, b: number): number => a * b + 1

/**
 * The plausible wrong value the model gives when the instruction does not cover an item: `a + b`.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.defaultValue(7, 5) // 12
 * ```
 */
export const defaultValue = (a: number, b: number): number => a + b

/**
 * An item's level, `(a + b) mod 5`: level 0 items are right whatever the instruction says.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.operatorLevel(7, 5) // 2
 * ```
 */
export const operatorLevel = (a: number, b: number): number => (((a + b) % LEVELS) + LEVELS) % LEVELS

/**
 * The question for `a ⊕ b`.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.operatorQuestion(7, 5) // "What is 7 ⊕ 5?"
 * ```
 */
export const operatorQuestion = (a: number, b: number): string => `What is ${a} ${OPERATOR} ${b}?`

/**
 * The operands of the first `a ⊕ b` in a text.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.parseOperator("What is 7 ⊕ 5?") // { a: 7, b: 5 }
 * ```
 */
export const parseOperator = (text: string): { readonly a: number; readonly b: number } | undefined => {
  const m = /(-?\d+)\s*⊕\s*(-?\d+)/.exec(text)
  return m ? { a: Number(m[1]), b: Number(m[2]) } : undefined
}

/** What the simulated model answers to an operator question. */
export interface OperatorAnswer {
  readonly value: number
  readonly correct: boolean
  readonly reasoning: string
}

/**
 * Answers an operator question as the mode does under a given instruction (undefined when the question
 * has no `a ⊕ b`).
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.answerOperator("What is 7 ⊕ 5?", "Answer the question.")?.value // 12 (level 2: wrong)
 * Optimizable.answerOperator("What is 7 ⊕ 5?", Optimizable.RULE)?.value // 36
 * ```
 */
export const answerOperator = (question: string, instruction: string): OperatorAnswer | undefined => {
  const ops = parseOperator(question)
  if (ops === undefined) return undefined
  const { a, b } = ops
  if (operatorLevel(a, b) < solvedLevels(instruction)) {
    const value = ruleValue(a, b)
    return { value, correct: true, reasoning: `${a} ⊕ ${b} = ${a} × ${b} + 1 = ${value}.` }
  }
  const value = defaultValue(a, b)
  return { value, correct: value === ruleValue(a, b), reasoning: `Reading ⊕ as addition, ${a} ⊕ ${b} = ${value}.` }
}

/**
 * Operator items with gold answers, balanced across the levels (exactly so when a size is a multiple of
 * {@link LEVELS}); operands 2..13, so the default answer is always wrong. At most 144 items in all.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * const { trainset, devset } = Optimizable.operatorDataset({ trainSize: 10, devSize: 20, seed: 1 })
 * trainset[0] // { question: "What is a ⊕ b?", answer: String(a * b + 1) }
 * devset.length // 20
 * ```
 */
export const operatorDataset = (options: DatasetOptions = {}): Dataset => {
  const byLevel: Array<Array<Item>> = Array.from({ length: LEVELS }, () => [])
  for (let a = 2; a <= 13; a++) {
    for (let b = 2; b <= 13; b++) {
      byLevel[operatorLevel(a, b)]!.push({ question: operatorQuestion(a, b), answer: String(ruleValue(a, b)) })
    }
  }
  const { train, dev } = checkSizes("operatorDataset", options, 144)
  return deal(byLevel, train, dev, options.seed ?? 1)
}

// ---------------------------------------------------------------------------------------------------------
// Demos that match: secret codes

/** The kinds of word a secret-code question asks about; each kind has its own code. */
export type CodeKind = "fruit" | "animal" | "color" | "tool" | "metal"

export const CODE_KINDS: ReadonlyArray<CodeKind> = ["fruit", "animal", "color", "tool", "metal"]

/** The ways a code can turn a word into its code; `same` is the model's (wrong) guess with no demo. */
export type CodePattern = "reverse" | "upper" | "double" | "rotate" | "devowel" | "same"

/** Each kind's code. */
export const CODE_PATTERNS: Readonly<Record<CodeKind, CodePattern>> = {
  fruit: "reverse",
  animal: "upper",
  color: "double",
  tool: "rotate",
  metal: "devowel"
}

/** Fourteen words per kind (70 items in all), none a palindrome, each with a vowel. */
export const CODE_WORDS: Readonly<Record<CodeKind, ReadonlyArray<string>>> = {
  fruit: ["apple", "mango", "banana", "cherry", "grape", "lemon", "peach", "plum", "melon", "kiwi", "pear", "papaya"]
    .concat(["guava", "lime"]),
  animal: ["tiger", "horse", "zebra", "camel", "otter", "rabbit", "mouse", "eagle", "shark", "whale", "panda"]
    .concat(["koala", "lion", "wolf"]),
  color: ["red", "blue", "green", "yellow", "purple", "brown", "black", "white", "pink", "grey", "teal", "indigo"]
    .concat(["violet", "maroon"]),
  tool: ["hammer", "wrench", "saw", "drill", "chisel", "pliers", "shovel", "rake", "axe", "ladder", "trowel"]
    .concat(["clamp", "file", "spade"]),
  metal: ["iron", "copper", "silver", "gold", "zinc", "tin", "nickel", "cobalt", "lead", "bronze", "brass"]
    .concat(["steel", "chrome", "titanium"])
}

const PATTERN_ORDER: ReadonlyArray<CodePattern> = ["reverse", "upper", "double", "rotate", "devowel", "same"]

/** How reasoning names each pattern. */
export const PATTERN_DESCRIPTIONS: Readonly<Record<CodePattern, string>> = {
  reverse: "reverses the letters",
  upper: "writes the word in capital letters",
  double: "doubles every letter",
  rotate: "moves the first letter to the end and adds \"ay\"",
  devowel: "drops the vowels",
  same: "keeps the word as it is"
}

/**
 * Applies a code pattern to a word.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.applyPattern("reverse", "mango") // "ognam"
 * Optimizable.applyPattern("rotate", "hammer") // "ammerhay"
 * ```
 */
export const applyPattern = (pattern: CodePattern, word: string): string => {
  switch (pattern) {
    case "reverse":
      return [...word].reverse().join("")
    case "upper":
      return word.toUpperCase()
    case "double":
      return [...word].map((c) => c + c).join("")
    case "rotate":
      return `${word.slice(1)}${word.slice(0, 1)}ay`
    case "devowel":
      return word.replace(/[aeiou]/gi, "")
    case "same":
      return word
  }
}

/**
 * The pattern a demo shows (word → answer), preferring the real codes over `same`; undefined when none fits.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.patternOf("apple", "elppa") // "reverse"
 * Optimizable.patternOf("apple", "banana") // undefined
 * ```
 */
export const patternOf = (word: string, answer: string): CodePattern | undefined =>
  PATTERN_ORDER.find((p) => applyPattern(p, word) === answer.trim())

/**
 * The gold code of a word of a kind.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.encode("animal", "tiger") // "TIGER"
 * ```
 */
export const encode = (kind: CodeKind, word: string): string => applyPattern(CODE_PATTERNS[kind], word)

/**
 * The question asking for a word's code.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.codeQuestion("fruit", "mango") // "What is the secret code for the fruit mango?"
 * ```
 */
export const codeQuestion = (kind: CodeKind, word: string): string => `What is the secret code for the ${kind} ${word}?`

/**
 * The kind and word of the first secret-code question in a text.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * Optimizable.parseCode("What is the secret code for the fruit mango?") // { kind: "fruit", word: "mango" }
 * ```
 */
export const parseCode = (text: string): { readonly kind: CodeKind; readonly word: string } | undefined => {
  const m = /secret code for (?:the |an? )?(fruit|animal|color|tool|metal)\s+["'“‘]?([A-Za-z]+)/i.exec(text)
  return m ? { kind: m[1]!.toLowerCase() as CodeKind, word: m[2]! } : undefined
}

/** Character-bigram overlap (Dice): how close two words look. */
const similarity = (x: string, y: string): number => {
  const grams = (s: string) => Array.from({ length: Math.max(0, s.length - 1) }, (_, i) => s.slice(i, i + 2))
  const gx = grams(x.toLowerCase())
  const gy = grams(y.toLowerCase())
  if (gx.length + gy.length === 0) return 0
  const pool = [...gy]
  let shared = 0
  for (const g of gx) {
    const i = pool.indexOf(g)
    if (i >= 0) {
      shared++
      pool.splice(i, 1)
    }
  }
  return (2 * shared) / (gx.length + gy.length)
}

/** What the simulated model answers to a secret-code question. */
export interface CodeAnswer {
  readonly value: string
  readonly correct: boolean
  readonly reasoning: string
  /** The demo whose pattern it followed, if any. */
  readonly demo: Item | undefined
}

/**
 * Answers a secret-code question given the demos the prompt shows: it follows the pattern of the nearest
 * demo of the same kind (the most similar word; the later demo on a tie) whose answer fits a known
 * pattern, and keeps the word unchanged (wrong) when there is none. Undefined for other questions.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * const demos = [{ question: "What is the secret code for the fruit apple?", answer: "elppa" }]
 * Optimizable.answerCode("What is the secret code for the fruit mango?", demos)?.value // "ognam"
 * Optimizable.answerCode("What is the secret code for the animal tiger?", demos)?.value // "tiger" (wrong)
 * ```
 */
export const answerCode = (question: string, demos: ReadonlyArray<Item>): CodeAnswer | undefined => {
  const asked = parseCode(question)
  if (asked === undefined) return undefined
  const gold = encode(asked.kind, asked.word)
  const sameKind = demos
    .map((d, i) => ({ d, i, code: parseCode(d.question) }))
    .filter((x) => x.code?.kind === asked.kind)
    .map((x) => ({ ...x, sim: similarity(x.code!.word, asked.word), pattern: patternOf(x.code!.word, x.d.answer) }))
    .filter((x) => x.pattern !== undefined)
    .sort((x, y) => y.sim - x.sim || y.i - x.i)
  const nearest = sameKind[0]
  if (nearest === undefined) {
    return {
      value: asked.word,
      correct: asked.word === gold,
      reasoning: `No example shows the ${asked.kind} code, so I keep "${asked.word}" as it is.`,
      demo: undefined
    }
  }
  const value = applyPattern(nearest.pattern!, asked.word)
  return {
    value,
    correct: value === gold,
    reasoning: `The nearest ${asked.kind} example, "${nearest.code!.word}" → "${nearest.d.answer.trim()}", ${
      PATTERN_DESCRIPTIONS[nearest.pattern!]
    }, so "${asked.word}" becomes "${value}".`,
    demo: nearest.d
  }
}

/** Options of {@link codeDataset}. */
export interface CodeDatasetOptions extends DatasetOptions {
  /** The kinds to draw from (default all five); sets are balanced across them. */
  readonly kinds?: ReadonlyArray<CodeKind>
}

/**
 * Secret-code items with gold answers, balanced across the kinds (exactly so when a size is a multiple of
 * the number of kinds); train and dev never share a word. At most 14 items per kind.
 *
 * @example
 * ```ts
 * import { Optimizable } from "@dspex/simulator"
 *
 * const { trainset, devset } = Optimizable.codeDataset({ trainSize: 10, devSize: 10, kinds: ["fruit", "animal"] })
 * trainset.length + devset.length // 20
 * ```
 */
export const codeDataset = (options: CodeDatasetOptions = {}): Dataset => {
  const kinds = options.kinds ?? CODE_KINDS
  const unknown = kinds.find((k) => !CODE_KINDS.includes(k))
  if (kinds.length === 0 || unknown !== undefined) {
    throw new OptimizableError({
      what: "codeDataset kinds",
      reason: unknown === undefined ? "no kinds given" : `unknown kind ${JSON.stringify(unknown)}`,
      hint: `Choose kinds among ${CODE_KINDS.join(", ")}.`
    })
  }
  const groups = [...new Set(kinds)].map((kind) =>
    CODE_WORDS[kind].map((word) => ({ question: codeQuestion(kind, word), answer: encode(kind, word) }))
  )
  const { train, dev } = checkSizes("codeDataset", options, groups.length * 14)
  return deal(groups, train, dev, options.seed ?? 1)
}
