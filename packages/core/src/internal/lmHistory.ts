/**
 * The LanguageModel service's bookkeeping: a bounded ring buffer of call history (DSPy's `lm.history`,
 * without its unbounded growth) and per-model usage and cost totals.
 */
import type { LMUsage } from "../LanguageModel.ts"

/** A fixed-capacity ring: pushing past capacity drops the oldest entry. */
export class Ring<A> {
  readonly capacity: number
  private readonly items: Array<A | undefined>
  private next = 0
  private count = 0

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity))
    this.items = new Array<A | undefined>(this.capacity)
  }

  push(item: A): void {
    if (this.capacity === 0) return
    this.items[this.next] = item
    this.next = (this.next + 1) % this.capacity
    if (this.count < this.capacity) this.count++
  }

  /** The last `n` items (all when undefined), oldest first. */
  last(n?: number): ReadonlyArray<A> {
    const k = n === undefined ? this.count : Math.max(0, Math.min(Math.floor(n), this.count))
    const out = new Array<A>(k)
    for (let i = 0; i < k; i++) {
      out[i] = this.items[(this.next - k + i + this.capacity) % this.capacity] as A
    }
    return out
  }
}

export type ModelUsage = LMUsage & { readonly cost: number; readonly calls: number }

/** Tokens, cost and provider calls per "provider/model"; cache hits are never added. */
export class UsageLedger {
  private readonly byModel = new Map<string, { promptTokens: number; completionTokens: number; totalTokens: number; cost: number; calls: number }>()

  add(model: string, usage: LMUsage, cost: number | undefined): void {
    let u = this.byModel.get(model)
    if (u === undefined) {
      u = { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0, calls: 0 }
      this.byModel.set(model, u)
    }
    u.promptTokens += usage.promptTokens
    u.completionTokens += usage.completionTokens
    u.totalTokens += usage.totalTokens
    u.cost += cost ?? 0
    u.calls += 1
  }

  /** A snapshot (later calls do not change it). */
  snapshot(): Readonly<Record<string, ModelUsage>> {
    const out: Record<string, ModelUsage> = {}
    for (const [model, u] of this.byModel) out[model] = { ...u }
    return out
  }
}

