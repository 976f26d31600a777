/**
 * Examples: dataset rows with their input keys marked.
 */

/**
 * A dataset row. `withInputs` marks which keys are inputs; the rest are labels.
 *
 * @example
 * ```ts
 * import { Example } from "@dspex/core"
 *
 * const ex = Example.make({ question: "2+2?", answer: "4" }).withInputs("question")
 * ex.inputs() // { question: "2+2?" }
 * ex.labels() // { answer: "4" }
 * ```
 */
export class Example {
  readonly data: Readonly<Record<string, unknown>>
  readonly inputKeys: ReadonlyArray<string> | undefined

  constructor(data: Readonly<Record<string, unknown>>, inputKeys?: ReadonlyArray<string>) {
    this.data = data
    this.inputKeys = inputKeys
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

/**
 * An example over `data`, no input keys marked yet.
 *
 * @example
 * ```ts
 * import { Example } from "@dspex/core"
 *
 * const ex = Example.make({ question: "2+2?", answer: "4" }).withInputs("question")
 * ex.get("answer") // "4"
 * ```
 */
export const make = (data: Readonly<Record<string, unknown>>): Example => new Example(data)
