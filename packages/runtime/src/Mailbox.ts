/**
 * An actor's bounded mailbox: many senders, one receiver (the actor's loop), with a per-actor overflow policy.
 *
 * - "backpressure": a sender waits until there is room (`offer` suspends).
 * - "drop": a full mailbox drops the message and counts it (`dropped`).
 * - "fail": a full mailbox refuses the message (the caller turns that into `MailboxFull`).
 *
 * It is a plain single-consumer ring rather than `Queue` so that it can be created synchronously (an actor's ref
 * exists before its first incarnation starts) and so that the hot path (`offerUnsafe` + a waiting receiver) is a
 * few property writes; waiting is done with `Effect.callback`, and interruption removes the waiter.
 */
import { Effect } from "effect"

export type Overflow = "backpressure" | "drop" | "fail"

export interface Options {
  /** Default 1024. */
  readonly capacity?: number | undefined
  /** Default "backpressure". */
  readonly overflow?: Overflow | undefined
}

export const DEFAULT_CAPACITY = 1024

export class Mailbox<A> {
  readonly capacity: number
  readonly overflow: Overflow
  dropped = 0
  private items: Array<A | undefined> = []
  private head = 0
  private taker: ((a: A) => void) | undefined = undefined
  private putters: Array<() => void> = []

  /**
   * Called with each item as it is handed to the receiver (before the receiver resumes), so that an item in
   * transit is never lost if the receiver is interrupted in between.
   */
  private readonly onTake: ((a: A) => void) | undefined

  constructor(options?: Options, onTake?: (a: A) => void) {
    this.capacity = Math.max(1, options?.capacity ?? DEFAULT_CAPACITY)
    this.overflow = options?.overflow ?? "backpressure"
    this.onTake = onTake
  }

  get size(): number {
    return this.items.length - this.head
  }

  /** Enqueues without waiting; false when full. */
  offerUnsafe(a: A): boolean {
    const taker = this.taker
    if (taker !== undefined) {
      this.taker = undefined
      this.onTake?.(a)
      taker(a)
      return true
    }
    if (this.size >= this.capacity) return false
    this.items.push(a)
    return true
  }

  /** Waits until there may be room (backpressure); the caller retries `offerUnsafe`. */
  readonly awaitRoom: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.size < this.capacity) return resume(Effect.void)
    const wake = () => resume(Effect.void)
    this.putters.push(wake)
    return Effect.sync(() => {
      const i = this.putters.indexOf(wake)
      if (i >= 0) this.putters.splice(i, 1)
    })
  })

  private shift(): A {
    const a = this.items[this.head] as A
    this.items[this.head] = undefined
    this.head++
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    if (this.putters.length > 0) this.putters.shift()!()
    this.onTake?.(a)
    return a
  }

  /** The receiver's take; one receiver at a time. */
  readonly take: Effect.Effect<A> = Effect.callback<A>((resume) => {
    if (this.size > 0) return resume(Effect.succeed(this.shift()))
    this.taker = (a) => resume(Effect.succeed(a))
    return Effect.sync(() => {
      this.taker = undefined
    })
  })

  /** Synchronous take for the receiver's fast path. */
  pollUnsafe(): A | undefined {
    return this.size > 0 ? this.shift() : undefined
  }

  /** Removes and returns everything queued, and wakes all waiting senders (so they can observe a stop). */
  drain(): Array<A> {
    const out = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    const putters = this.putters
    this.putters = []
    for (const p of putters) p()
    return out
  }
}

/**
 * Creates a mailbox.
 *
 * @example
 * ```ts
 * import { Mailbox } from "@dspex/runtime"
 * import { Effect } from "effect"
 *
 * const box = Mailbox.make<string>({ capacity: 16, overflow: "drop" })
 * box.offerUnsafe("hello") // true (false once 16 messages wait)
 * const next = await Effect.runPromise(box.take) // "hello"
 * ```
 */
export const make = <A>(options?: Options): Mailbox<A> => new Mailbox<A>(options)
