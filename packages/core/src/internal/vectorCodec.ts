/**
 * Embedding vectors as the cache keeps them. The Cache service holds `LMResponse`s (memory LRU, sqlite on
 * disk), so a vector travels as one output whose text is its float32 bytes in base64 (OpenAI's own
 * `encoding_format: "base64"`): a quarter of the size of a JSON number list on disk, exact to the bit, and
 * a string, so the frozen entry can never be changed through a vector handed to a caller (each read
 * decodes a fresh Float32Array).
 */
import type { LMResponse } from "../LanguageModel.ts"

/** The marker on a cached vector entry, so an entry of another kind is never decoded as one. */
const marker = "embedding"

const zero = { promptTokens: 0, completionTokens: 0, totalTokens: 0 } as const

/**
 * Float32 bytes (platform order: little-endian on every platform Node supports, as OpenAI sends them) in base64.
 *
 * @example
 * toBase64(new Float32Array([0.6, 0.8])) // => "mpkZP83MTD8="
 */
export const toBase64 = (vector: Float32Array): string =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64")

/**
 * A fresh Float32Array from base64 float32 bytes, or undefined when the text is not a whole number of floats.
 *
 * @example
 * fromBase64("mpkZP83MTD8=") // => Float32Array [0.6, 0.8] (to float32 precision)
 */
export const fromBase64 = (text: string): Float32Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.length % 4 !== 0) return undefined
  // Copied into a buffer of its own: Node's pooled Buffers may start at an offset that is not 4-aligned.
  const out = new Float32Array(bytes.length / 4)
  new Uint8Array(out.buffer).set(bytes)
  return out
}

/**
 * The cache entry of one vector.
 *
 * @example
 * cache.set(key, toEntry("openai/text-embedding-3-small", vector))
 */
export const toEntry = (model: string, vector: Float32Array): LMResponse => ({
  outputs: [{ text: toBase64(vector), finishReason: marker }],
  usage: zero,
  model,
  cacheHit: false
})

/**
 * The vector of a cache entry, or undefined when the entry is not one (a miss, then).
 *
 * @example
 * const vector = fromEntry(entry) // a fresh Float32Array, or undefined
 */
export const fromEntry = (entry: LMResponse): Float32Array | undefined => {
  const output = entry.outputs.length === 1 ? entry.outputs[0] : undefined
  if (output === undefined || output.finishReason !== marker) return undefined
  const vector = fromBase64(output.text)
  return vector === undefined || vector.length === 0 ? undefined : vector
}
