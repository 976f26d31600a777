/**
 * KNNFewShot's pieces that are not the optimizer itself: the text DSPy's KNN embeds for an example or a
 * call's inputs, its nearest-neighbour ranking, and a small memo that computes each key once even under
 * concurrent calls.
 */
import { type Example, PyText } from "@dspex/core"
import { Cause, Deferred, Effect, Exit } from "effect"

/** DSPy's KNN text: `key: value` pairs joined by " | ". */
export const fieldsText = (fields: ReadonlyArray<readonly [string, unknown]>): string =>
  fields.map(([key, value]) => `${key}: ${PyText.str(value)}`).join(" | ")

/** An example's text: its input fields only, in the example's field order (as DSPy's KNN builds it). */
export const exampleText = (example: Example.Example): string => {
  const keys = new Set(example.inputKeys ?? [])
  return fieldsText(Object.entries(example.data).filter(([key]) => keys.has(key)))
}

/** A call's text: every input it was given, in the order given (DSPy embeds the call's kwargs unfiltered). */
export const inputsText = (inputs: Readonly<Record<string, unknown>>): string =>
  fieldsText(Object.entries(inputs).filter(([, value]) => value !== undefined))

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const n = Math.min(a.length, b.length)
  let sum = 0
  for (let i = 0; i < n; i++) sum += a[i]! * b[i]!
  return sum
}

/**
 * The indices of the `k` vectors with the largest dot product with `query`, best first. DSPy takes numpy's
 * ascending argsort and reverses its last k, which for ties (and trainsets of up to 16, where numpy's sort is
 * stable) puts the later example first; DSPex breaks ties that way for every size.
 */
export const nearest = (
  vectors: ReadonlyArray<ArrayLike<number>>,
  query: ArrayLike<number>,
  k: number
): Array<number> => {
  const scores = vectors.map((v) => dot(v, query))
  return scores.map((_, i) => i)
    .sort((a, b) => scores[b]! - scores[a]! || b - a)
    .slice(0, Math.min(k, vectors.length))
}

/**
 * Values computed once per key and kept for the `capacity` most recently used keys. Concurrent requests for
 * a key being computed wait for that computation instead of starting their own; a failure is handed to them
 * and not kept, and a computation that was interrupted is started again by the next one waiting.
 */
export class Memo<K, V, E> {
  private readonly done = new Map<K, V>()
  private readonly running = new Map<K, Deferred.Deferred<V, E>>()
  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.done.size
  }

  get<R>(key: K, compute: Effect.Effect<V, E, R>): Effect.Effect<V, E, R> {
    return Effect.suspend((): Effect.Effect<V, E, R> => {
      if (this.capacity <= 0) return compute
      if (this.done.has(key)) {
        const value = this.done.get(key)!
        // Re-inserting moves the key to the end: the Map's order is the recency order.
        this.done.delete(key)
        this.done.set(key, value)
        return Effect.succeed(value)
      }
      const running = this.running.get(key)
      if (running !== undefined) {
        return Effect.catchCause(
          Deferred.await(running),
          (cause) => Cause.hasInterruptsOnly(cause) ? this.get(key, compute) : Effect.failCause(cause)
        )
      }
      const deferred = Deferred.makeUnsafe<V, E>()
      this.running.set(key, deferred)
      return Effect.onExit(compute, (exit) =>
        Effect.sync(() => {
          this.running.delete(key)
          if (Exit.isSuccess(exit)) {
            this.done.set(key, exit.value)
            if (this.done.size > this.capacity) this.done.delete(this.done.keys().next().value!)
          }
          Deferred.doneUnsafe(deferred, exit)
        }))
    })
  }
}
