/**
 * `Embedder.fromFunction`: a user's embedding function as an EmbeddingProvider. Whatever it returns
 * (arrays, a Promise, an Effect) becomes float32 vectors checked for count and finiteness, so the rest
 * of the Embedder (cache, batching, retries) treats it like any provider.
 */
import { Effect } from "effect"
import { hash } from "node:crypto"
import type { EmbeddingProvider, EmbeddingRequest, EmbeddingResponse, FunctionResult } from "../Embedder.ts"
import { type LMError, LMMalformedResponse, LMProviderError } from "../LMError.ts"

/**
 * The cache namespace of a function: its name and a hash of its source text, as DSPy keys a callable by
 * its source, so an edited function never gets the vectors its old version made.
 *
 * @example
 * callableKey((texts) => texts.map((t) => [t.length])) // => "function:3f2a9c…"
 */
export const callableKey = (f: (...args: ReadonlyArray<never>) => unknown): string =>
  `function:${hash("sha256", f.toString(), "hex").slice(0, 32)}`

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Float32 vectors from what the function returned, or the malformed-response error saying what is wrong. */
const toVectors = (
  name: string,
  request: EmbeddingRequest,
  value: unknown
): EmbeddingResponse | LMMalformedResponse => {
  const malformed = (detail: string) => new LMMalformedResponse({ provider: name, model: request.model, detail })
  if (!Array.isArray(value)) {
    return malformed(`the embedding function returned ${typeof value}, not an array of vectors`)
  }
  if (value.length !== request.texts.length) {
    return malformed(`the embedding function returned ${value.length} vectors for ${request.texts.length} texts`)
  }
  const vectors: Array<Float32Array> = []
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (typeof v !== "object" || v === null || typeof (v as ArrayLike<number>).length !== "number") {
      return malformed(`vector ${i} is not an array of numbers`)
    }
    const out = Float32Array.from(v as ArrayLike<number>)
    if (out.length === 0) return malformed(`vector ${i} is empty`)
    for (const x of out) {
      if (!Number.isFinite(x)) return malformed(`vector ${i} holds a value that is not a finite number`)
    }
    vectors.push(out)
  }
  return { vectors }
}

/**
 * @example
 * functionProvider("local", (texts) => texts.map((t) => [t.length]), callableKey(f))
 */
export const functionProvider = (
  name: string,
  f: (texts: ReadonlyArray<string>, request: EmbeddingRequest) => FunctionResult,
  endpoint: string
): EmbeddingProvider => {
  const failed = (request: EmbeddingRequest, e: unknown) =>
    new LMProviderError({
      provider: name,
      model: request.model,
      detail: `the embedding function failed: ${describe(e)}`
    })
  const settle = (request: EmbeddingRequest, value: unknown): Effect.Effect<EmbeddingResponse, LMError> => {
    const out = toVectors(name, request, value)
    return out instanceof LMMalformedResponse ? Effect.fail(out) : Effect.succeed(out)
  }
  return {
    name,
    endpoint,
    embed: (request) =>
      Effect.suspend(() => {
        let result: FunctionResult
        try {
          result = f(request.texts, request)
        } catch (e) {
          return Effect.fail(failed(request, e))
        }
        if (Effect.isEffect(result)) return Effect.flatMap(result, (value) => settle(request, value))
        if (result instanceof Promise) {
          return Effect.flatMap(
            Effect.tryPromise({ try: () => result, catch: (e) => failed(request, e) }),
            (value) => settle(request, value)
          )
        }
        return settle(request, result)
      })
  }
}
