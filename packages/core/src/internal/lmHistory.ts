/**
 * The LanguageModel service's bookkeeping: a bounded ring buffer of call history (DSPy's `lm.history`,
 * without its unbounded growth) and per-model usage and cost totals.
 */
import { randomUUID } from "node:crypto"
import type { HistoryEntry, LMResponse, LMUsage, ModelUsage } from "../LanguageModel.ts"

/**
 * A history entry as recorded on the call path: the id, timestamp and DSPy kwargs are made only when
 * the history is read (most entries never are), then kept so every read sees the same entry.
 */
export class PendingEntry {
  private readonly endedMs: number
  private readonly model: string
  private readonly messages: HistoryEntry["messages"]
  private readonly kwargs: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>)
  private readonly response: LMResponse
  private readonly durationMs: number
  private readonly retries: number
  private made: HistoryEntry | undefined

  constructor(
    endedMs: number,
    model: string,
    messages: HistoryEntry["messages"],
    kwargs: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>),
    response: LMResponse,
    durationMs: number,
    retries: number
  ) {
    this.endedMs = endedMs
    this.model = model
    this.messages = messages
    this.kwargs = kwargs
    this.response = response
    this.durationMs = durationMs
    this.retries = retries
  }

  entry(): HistoryEntry {
    if (this.made !== undefined) return this.made
    const r = this.response
    this.made = {
      id: randomUUID(),
      timestamp: new Date(this.endedMs).toISOString(),
      model: this.model,
      messages: this.messages,
      kwargs: typeof this.kwargs === "function" ? this.kwargs() : this.kwargs,
      outputs: r.outputs,
      usage: r.usage,
      ...(r.cost === undefined ? {} : { cost: r.cost }),
      cacheHit: r.cacheHit,
      durationMs: this.durationMs,
      retries: this.retries
    }
    return this.made
  }
}

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

type Totals = { -readonly [K in keyof ModelUsage]: ModelUsage[K] }

/**
 * Per "provider/model": tokens, cost and successful provider calls (cache hits never add tokens or cost),
 * plus the retries every call needed (the faults the retry policy absorbed), the calls that failed after
 * their retries, and the answers served without a provider call (cache hits, shared in-flight calls).
 */
export class UsageLedger {
  private readonly byModel = new Map<string, Totals>()

  private of(model: string): Totals {
    let u = this.byModel.get(model)
    if (u === undefined) {
      u = {
        promptTokens: 0,
        completionTokens: 0,
        totalTokens: 0,
        cost: 0,
        calls: 0,
        retries: 0,
        errors: 0,
        cacheHits: 0
      }
      this.byModel.set(model, u)
    }
    return u
  }

  /** A successful provider call after `retries` failed attempts. */
  add(model: string, usage: LMUsage, cost: number | undefined, retries: number): void {
    const u = this.of(model)
    u.promptTokens += usage.promptTokens
    u.completionTokens += usage.completionTokens
    u.totalTokens += usage.totalTokens
    u.cost += cost ?? 0
    u.calls += 1
    u.retries += retries
  }

  /** A call that failed after `retries` retries. */
  failed(model: string, retries: number): void {
    const u = this.of(model)
    u.errors += 1
    u.retries += retries
  }

  /** An answer served without a provider call. */
  hit(model: string): void {
    this.of(model).cacheHits += 1
  }

  /** A snapshot (later calls do not change it). */
  snapshot(): Readonly<Record<string, ModelUsage>> {
    const out: Record<string, ModelUsage> = {}
    for (const [model, u] of this.byModel) out[model] = { ...u }
    return out
  }
}
