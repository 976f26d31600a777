/**
 * Predictions: a module's outputs, with all completions when n > 1 and the LM usage behind them.
 */
import type { LMUsage } from "./LanguageModel.ts"

/** All completions of one call (n > 1), field by field. */
export class Completions {
  readonly items: ReadonlyArray<Readonly<Record<string, unknown>>>
  constructor(items: ReadonlyArray<Readonly<Record<string, unknown>>>) {
    this.items = items
  }
  get length(): number {
    return this.items.length
  }
  /** The values of one field across completions. */
  field(name: string): ReadonlyArray<unknown> {
    return this.items.map((c) => c[name])
  }
}

/**
 * A module's result: the first completion's fields, every completion, and LM usage per model.
 *
 * @example
 * ```ts
 * import { Prediction } from "@dspex/core"
 *
 * const pred = Prediction.fromCompletions([{ answer: "4" }, { answer: "four" }], {
 *   "openai/gpt-4o-mini": { promptTokens: 80, completionTokens: 10, totalTokens: 90 }
 * })
 * pred.get("answer") // "4"
 * pred.completions.length // 2
 * pred.usage["openai/gpt-4o-mini"]?.totalTokens // 90
 * ```
 */
export class Prediction {
  readonly data: Readonly<Record<string, unknown>>
  readonly completions: Completions
  readonly usage: Readonly<Record<string, LMUsage>>

  constructor(
    data: Readonly<Record<string, unknown>>,
    completions?: Completions,
    usage: Readonly<Record<string, LMUsage>> = {}
  ) {
    this.data = data
    this.completions = completions ?? new Completions([data])
    this.usage = usage
  }

  get(key: string): unknown {
    return this.data[key]
  }

  keys(): ReadonlyArray<string> {
    return Object.keys(this.data)
  }

  withUsage(usage: Readonly<Record<string, LMUsage>>): Prediction {
    return new Prediction(this.data, this.completions, usage)
  }

  toJSON(): Record<string, unknown> {
    return { ...this.data }
  }
}

/**
 * A prediction from every completion of one call: the first one's fields are the prediction's own.
 *
 * @example
 * ```ts
 * import { Prediction } from "@dspex/core"
 *
 * const pred = Prediction.fromCompletions([{ answer: "4" }, { answer: "four" }])
 * pred.get("answer") // "4"
 * pred.completions.field("answer") // ["4", "four"]
 * ```
 */
export const fromCompletions = (
  items: ReadonlyArray<Readonly<Record<string, unknown>>>,
  usage: Readonly<Record<string, LMUsage>> = {}
): Prediction => new Prediction(items[0] ?? {}, new Completions(items), usage)
