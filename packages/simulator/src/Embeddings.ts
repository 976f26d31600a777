/**
 * The simulator's embeddings (`POST /v1/embeddings`) as pure functions, so tests compute the vectors the
 * server sends. A text's vector is a normalized bag of hashed words: lower-cased word tokens, English stop
 * words dropped, a plural "s" stripped, each word hashed to one of `dimensions` buckets with a sign (feature
 * hashing), counts damped (1 + ln tf), then scaled to length 1. Texts that share content words are
 * therefore close by cosine similarity and texts that share none are near orthogonal, which is what
 * nearest-neighbour search (KNNFewShot, retrievers) needs to be testable; identical texts get identical
 * vectors on every run and machine.
 */

/** Vector length when a request sets no `dimensions` (text-embedding-3-small's). */
export const DEFAULT_DIMENSIONS = 1536

/** Native vector length per model: text-embedding-3-large's is 3072, every other model's the default. */
export const nativeDimensions = (model: string): number =>
  model === "text-embedding-3-large" ? 3072 : DEFAULT_DIMENSIONS

/** Tokens one input may hold (OpenAI's per-input limit for its embedding models). */
export const MAX_INPUT_TOKENS = 8192

/** Inputs one request may hold (OpenAI's limit). */
export const MAX_INPUTS = 2048

const STOP_WORDS = new Set(
  (
    "a an and are as at be by did do does for from has have how i in is it its of on or that the this to " +
    "was were what when where which who why will with you your"
  ).split(" ")
)

/**
 * The words a text's vector is made of.
 *
 * @example
 * ```ts
 * import { Embeddings } from "@dspex/simulator"
 *
 * Embeddings.words("What is the capital of France?") // ["capital", "france"]
 * Embeddings.words("the of") // ["the", "of"] (only stop words: they are kept)
 * ```
 */
export const words = (text: string): ReadonlyArray<string> => {
  const all = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const content = all.filter((w) => !STOP_WORDS.has(w)).map((w) =>
    w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w
  )
  if (content.length > 0) return content
  if (all.length > 0) return all
  const trimmed = text.trim()
  return trimmed === "" ? [] : [trimmed]
}

/** FNV-1a, 32 bits: tiny, stable across platforms. */
const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * The vector of a list of tokens (words, or token ids as `#<id>`), of length 1 unless there are none.
 *
 * @example
 * ```ts
 * import { Embeddings } from "@dspex/simulator"
 *
 * Embeddings.vectorOfWords(["capital", "france"], 8) // a Float32Array of 8 numbers, length 1
 * ```
 */
export const vectorOfWords = (tokens: ReadonlyArray<string>, dimensions: number): Float32Array => {
  const counts = new Map<string, number>()
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
  const out = new Float32Array(dimensions)
  for (const [token, tf] of counts) {
    const h = fnv1a(token)
    const sign = (fnv1a(`${token}\u0000sign`) & 1) === 0 ? 1 : -1
    out[h % dimensions]! += sign * (1 + Math.log(tf))
  }
  let norm = 0
  for (const x of out) norm += x * x
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm)
    for (let i = 0; i < out.length; i++) out[i]! *= scale
  }
  return out
}

/**
 * The vector the simulator sends for `text`.
 *
 * @example
 * ```ts
 * import { Embeddings } from "@dspex/simulator"
 *
 * const q = Embeddings.embed("What is the capital of France?")
 * const near = Embeddings.embed("Paris is the capital of France.")
 * const far = Embeddings.embed("What is 12 + 30?")
 * Embeddings.dot(q, near) > Embeddings.dot(q, far) // true
 * ```
 */
export const embed = (text: string, dimensions: number = DEFAULT_DIMENSIONS): Float32Array =>
  vectorOfWords(words(text), dimensions)

/**
 * The dot product (the cosine similarity, for the simulator's unit vectors).
 *
 * @example
 * ```ts
 * import { Embeddings } from "@dspex/simulator"
 *
 * Embeddings.dot(Embeddings.embed("red apple"), Embeddings.embed("red apple")) // 1 (to float32 precision)
 * ```
 */
export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let sum = 0
  for (let i = 0; i < Math.min(a.length, b.length); i++) sum += a[i]! * b[i]!
  return sum
}
