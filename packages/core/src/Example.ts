/**
 * Examples (dataset rows with their input keys marked) and Predictions (a module's outputs, with all
 * completions when n > 1 and the LM usage behind them).
 */
import type { LMUsage } from "./LanguageModel.ts"

/**
 * A dataset row. `withInputs` marks which keys are inputs; the rest are labels.
 *
 * @example
 * const ex = Example.make({ question: "2+2?", answer: "4" }).withInputs("question")
 * ex.inputs() // { question: "2+2?" }
 */
export class Example {
  readonly data: Readonly<Record<string, unknown>>
  readonly inputKeys: ReadonlyArray<string> | undefined

  constructor(data: Readonly<Record<string, unknown>>, inputKeys?: ReadonlyArray<string>) {
    this.data = data
    this.inputKeys = inputKeys
  }

  static make(data: Readonly<Record<string, unknown>>): Example {
    return new Example(data)
  }

  withInputs(...keys: ReadonlyArray<string>): Example {
    return new Example(this.data, keys)
  }

  get(key: string): unknown {
    return this.data[key]
  }

  keys(): ReadonlyArray<string> {
    return Object.keys(this.data)
  }

  /** The input fields; throws if no input keys were marked, as DSPy does. */
  inputs(): Record<string, unknown> {
    if (this.inputKeys === undefined) {
      throw new Error("Example has no input keys: call withInputs(...) to mark them")
    }
    const out: Record<string, unknown> = {}
    for (const k of this.inputKeys) if (k in this.data) out[k] = this.data[k]
    return out
  }

  labels(): Record<string, unknown> {
    const ins = new Set(this.inputKeys ?? [])
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this.data)) if (!ins.has(k)) out[k] = v
    return out
  }

  with(extra: Readonly<Record<string, unknown>>): Example {
    return new Example({ ...this.data, ...extra }, this.inputKeys)
  }

  toJSON(): Record<string, unknown> {
    return { ...this.data }
  }
}

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
 * pred.get("answer"); pred.completions.length; pred.usage
 */
export class Prediction {
  readonly data: Readonly<Record<string, unknown>>
  readonly completions: Completions
  readonly usage: Readonly<Record<string, LMUsage>>

  constructor(data: Readonly<Record<string, unknown>>, completions?: Completions, usage: Readonly<Record<string, LMUsage>> = {}) {
    this.data = data
    this.completions = completions ?? new Completions([data])
    this.usage = usage
  }

  static fromCompletions(items: ReadonlyArray<Readonly<Record<string, unknown>>>, usage: Readonly<Record<string, LMUsage>> = {}): Prediction {
    return new Prediction(items[0] ?? {}, new Completions(items), usage)
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
