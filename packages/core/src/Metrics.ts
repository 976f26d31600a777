/**
 * DSPy's built-in answer metrics (dspy.evaluate.metrics): text normalization, exact match, token F1 and
 * passage match, usable directly as Evaluate metrics.
 */
import type { Example } from "./Example.ts"
import type { Prediction } from "./Prediction.ts"
import type { TraceStep } from "./Trace.ts"

// Python's string.punctuation.
const punctuation = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
// Python's `\b` is Unicode-aware (word chars = letters, digits, underscore); JavaScript's is ASCII-only.
const articles = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu

const words = (s: string): Array<string> => s.split(/\s+/u).filter((w) => w.length > 0)

/**
 * DSPy's `normalize_text`: NFD, lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse
 * whitespace.
 *
 * @example
 * ```ts
 * import { Metrics } from "@dspex/core"
 *
 * Metrics.normalizeText("The,  Eiffel  Tower!") // "eiffel tower"
 * ```
 */
export const normalizeText = (s: string): string => {
  const lowered = s.normalize("NFD").toLowerCase()
  let noPunct = ""
  for (const ch of lowered) if (!punctuation.has(ch)) noPunct += ch
  return words(noPunct.replace(articles, " ")).join(" ")
}

/** Normalized strings are identical. */
export const emScore = (prediction: string, groundTruth: string): boolean =>
  normalizeText(prediction) === normalizeText(groundTruth)

const overlap = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  const counts = new Map<string, number>()
  for (const t of b) counts.set(t, (counts.get(t) ?? 0) + 1)
  let same = 0
  for (const t of a) {
    const c = counts.get(t) ?? 0
    if (c > 0) {
      same++
      counts.set(t, c - 1)
    }
  }
  return same
}

/**
 * Token-level F1 of two strings after normalization (0 when no token is shared).
 *
 * @example
 * ```ts
 * import { Metrics } from "@dspex/core"
 *
 * Metrics.tokenF1("Eiffel Tower is in Paris", "Paris") // 0.333… (precision 1/5, recall 1)
 * ```
 */
export const tokenF1 = (prediction: string, groundTruth: string): number => {
  const p = words(normalizeText(prediction))
  const g = words(normalizeText(groundTruth))
  const same = overlap(p, g)
  if (same === 0) return 0
  const precision = same / p.length
  const recall = same / g.length
  return (2 * precision * recall) / (precision + recall)
}

/** Token precision of the prediction against the reference, after normalization. */
export const precisionScore = (prediction: string, groundTruth: string): number => {
  const p = words(normalizeText(prediction))
  const same = overlap(p, words(normalizeText(groundTruth)))
  return same === 0 ? 0 : same / p.length
}

/** HotPotQA's F1: a yes/no/noanswer label must match exactly, otherwise token F1. */
export const hotpotF1Score = (prediction: string, groundTruth: string): number => {
  const p = normalizeText(prediction)
  const g = normalizeText(groundTruth)
  const labels = ["yes", "no", "noanswer"]
  if ((labels.includes(p) || labels.includes(g)) && p !== g) return 0
  return tokenF1(p, g)
}

/** DSPy's `EM`: exact match against any reference. */
export const EM = (prediction: string, answers: ReadonlyArray<string>): boolean =>
  answers.some((a) => emScore(prediction, a))

/** DSPy's `F1`: the best token F1 over the references. */
export const F1 = (prediction: string, answers: ReadonlyArray<string>): number =>
  Math.max(...answers.map((a) => tokenF1(prediction, a)))

/** DSPy's `HotPotF1`: the best HotPotQA F1 over the references. */
export const HotPotF1 = (prediction: string, answers: ReadonlyArray<string>): number =>
  Math.max(...answers.map((a) => hotpotF1Score(prediction, a)))

const answersOf = (example: Example): ReadonlyArray<string> => {
  const answer = example.get("answer")
  if (typeof answer === "string") return [answer]
  if (Array.isArray(answer) && answer.every((a) => typeof a === "string")) return answer
  throw new Error(
    `Invalid answer type: expected a string or a list of strings, got ${answer === null ? "null" : typeof answer}`
  )
}

const textOf = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v))

export interface ExactMatchOptions {
  /** 1 (default): exact match; below 1: the best token F1 must reach `frac`. */
  readonly frac?: number | undefined
}

/**
 * DSPy's `answer_exact_match`: `pred.answer` against `example.answer` (a string or a list of strings).
 * Takes the options as third argument, or after the trace when called as a metric with one.
 *
 * @example
 * ```ts
 * import { Example, Metrics, Prediction } from "@dspex/core"
 *
 * const example = Example.make({ answer: ["Eiffel Tower", "Louvre"] })
 * Metrics.answerExactMatch(example, new Prediction.Prediction({ answer: "The Eiffel Tower" })) // true
 * Metrics.answerExactMatch(example, new Prediction.Prediction({ answer: "the tower" }), { frac: 0.5 }) // true: token F1 0.67
 * ```
 */
export const answerExactMatch = (
  example: Example,
  prediction: Prediction,
  traceOrOptions?: ReadonlyArray<TraceStep> | ExactMatchOptions,
  options?: ExactMatchOptions
): boolean => {
  const opts = options ?? (Array.isArray(traceOrOptions) ? {} : (traceOrOptions as ExactMatchOptions | undefined) ?? {})
  const frac = opts.frac ?? 1
  const answers = answersOf(example)
  const pred = textOf(prediction.get("answer"))
  return frac >= 1 ? EM(pred, answers) : F1(pred, answers) >= frac
}

/** `answerExactMatch` with a fixed `frac`, as a metric. */
export const answerExactMatchWith =
  (options: ExactMatchOptions) => (example: Example, prediction: Prediction): boolean =>
    answerExactMatch(example, prediction, options)

// DPR's SimpleTokenizer: runs of letters/digits/marks, or any other single non-space, non-control char.
const dprToken = /[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]/gu

const dprWords = (text: string): Array<string> =>
  (text.normalize("NFD").match(dprToken) ?? []).map((w) => w.toLowerCase())

const hasAnswer = (answers: ReadonlyArray<ReadonlyArray<string>>, text: string): boolean => {
  const tokens = dprWords(text)
  return answers.some((answer) => {
    // As in DPR, an answer with no tokens matches anywhere.
    if (answer.length === 0) return true
    for (let i = 0; i + answer.length <= tokens.length; i++) {
      if (answer.every((t, j) => tokens[i + j] === t)) return true
    }
    return false
  })
}

/** Some passage contains some answer as a token sequence (both normalized, then DPR-tokenized). */
export const passageMatch = (passages: ReadonlyArray<string>, answers: ReadonlyArray<string>): boolean => {
  const tokenized = answers.map((a) => dprWords(normalizeText(a)))
  return passages.some((p) => hasAnswer(tokenized, normalizeText(p)))
}

/**
 * DSPy's `answer_passage_match`: some passage of `pred.context` contains `example.answer`.
 *
 * @example
 * ```ts
 * import { Example, Metrics, Prediction } from "@dspex/core"
 *
 * const example = Example.make({ answer: "Eiffel Tower" })
 * Metrics.answerPassageMatch(example, new Prediction.Prediction({ context: ["The Eiffel Tower is in Paris."] })) // true
 * ```
 */
export const answerPassageMatch = (
  example: Example,
  prediction: Prediction,
  _trace?: ReadonlyArray<TraceStep>
): boolean => {
  const context = prediction.get("context")
  const passages = typeof context === "string" ? [context] : Array.isArray(context) ? context.map(textOf) : []
  return passageMatch(passages, answersOf(example))
}
