/**
 * The local actor runtime: an `ActorCell` is the long-lived part of an actor (its ref, mailbox, counters and
 * monitors) that survives restarts; each incarnation is one run of the message loop with a fresh state.
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit } from "effect"
import {
  ActorGone,
  AskTimeout,
  type ExitReason,
  ExitReasons,
  LinkedExit,
  MailboxFull,
  MessageRejected
} from "../ActorError.ts"
import { type ActorRef, type AskError, type AskOptions, DEFAULT_ASK_TIMEOUT_MS, TypeId } from "../ActorRef.ts"
import { Mailbox, type Options as MailboxOptions } from "../Mailbox.ts"
import type * as Protocol from "../Protocol.ts"
import type { ActorStats } from "../SupervisorEvent.ts"

export interface Envelope {
  readonly msg: { readonly _tag: string }
  /** Set by a waiting `ask`; undefined for `tell` or once the asker gave up. */
  resume: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined
  /** A reply that arrived before the asker started waiting. */
  result: Exit.Exit<unknown, unknown> | undefined
  readonly isAsk: boolean
}

export const complete = (env: Envelope, exit: Exit.Exit<unknown, unknown>): void => {
  const resume = env.resume
  if (resume !== undefined) {
    env.resume = undefined
    resume(exit)
  } else if (env.isAsk) {
    env.result = exit
  }
}

const systemClock = Context.get(Context.empty(), Clock.Clock)
const maxTimerMs = 2 ** 31 - 1

const violationOf = (exit: Exit.Failure<unknown, Protocol.Violation>): Protocol.Violation => {
  const r = exit.cause.reasons[0]
  return r !== undefined && r._tag === "Fail" ? r.error : { tag: "<unknown>", path: "", issue: "invalid message" }
}

let ids = 0

/**
 * One incarnation's run of the message loop. Per run, not per cell: an incarnation that did not stop within its
 * shutdown keeps running in the background (it lingers) while the next one serves, and neither may touch the
 * other's in-flight message, kill switch or exit.
 */
export interface Run {
  readonly n: number
  /** The message being handled (set as it leaves the mailbox, so one in transit is never lost). */
  current: Envelope | undefined
  /** Failing it terminates this run (links). */
  readonly kill: Deferred.Deferred<never, LinkedExit>
}

export class ActorCell<P extends Protocol.Any> implements ActorRef<P> {
  readonly [TypeId] = TypeId
  readonly id: string
  readonly name: string
  readonly protocol: P
  readonly mailbox: Mailbox<Envelope>
  readonly supervised: boolean
  status: "running" | "restarting" | "stopped" = "restarting"
  incarnation = 0
  processed = 0
  rejected = 0
  /** The run serving the mailbox now; undefined between incarnations and once stopped. */
  live: Run | undefined = undefined
  finalReason: ExitReason | undefined = undefined
  lastReason: ExitReason | undefined = undefined
  /** Completes when the current (or, between incarnations, the next) incarnation exits. */
  private exitSignal = Deferred.makeUnsafe<ExitReason>()
  /** Completes when the actor stops for good. */
  terminal = Deferred.makeUnsafe<ExitReason>()

  constructor(
    protocol: P,
    options: {
      readonly name?: string | undefined
      readonly mailbox?: MailboxOptions | undefined
      readonly supervised: boolean
    }
  ) {
    this.id = `actor-${++ids}`
    this.name = options.name ?? this.id
    this.protocol = protocol
    this.mailbox = new Mailbox<Envelope>(options.mailbox, (env) => {
      if (this.live !== undefined) this.live.current = env
    })
    this.supervised = options.supervised
  }

  private rejectWith(exit: Exit.Failure<unknown, Protocol.Violation>) {
    this.rejected++
    const v = violationOf(exit)
    return Effect.fail(new MessageRejected({ actor: this.name, tag: v.tag, path: v.path, issue: v.issue }))
  }

  gone(): ActorGone {
    return new ActorGone({ actor: this.name, reason: this.finalReason ?? this.lastReason ?? ExitReasons.shutdown })
  }

  private full(): MailboxFull {
    return new MailboxFull({ actor: this.name, capacity: this.mailbox.capacity })
  }

  /** Waits for room (backpressure) until the envelope is accepted or the actor stops. */
  private offerWaiting(env: Envelope): Effect.Effect<void, ActorGone> {
    return Effect.flatMap(this.mailbox.awaitRoom, () => {
      if (this.status === "stopped") return Effect.fail(this.gone())
      return this.mailbox.offerUnsafe(env) ? Effect.void : this.offerWaiting(env)
    })
  }

  readonly tell = (message: Protocol.Message<P>): Effect.Effect<void, MailboxFull | ActorGone | MessageRejected> =>
    Effect.suspend((): Effect.Effect<void, MailboxFull | ActorGone | MessageRejected> => {
      const v = this.protocol.validate(message)
      if (Exit.isFailure(v)) return this.rejectWith(v)
      if (this.status === "stopped") return Effect.fail(this.gone())
      const env: Envelope = { msg: v.value as Envelope["msg"], resume: undefined, result: undefined, isAsk: false }
      if (this.mailbox.offerUnsafe(env)) return Effect.void
      switch (this.mailbox.overflow) {
        case "drop":
          this.mailbox.dropped++
          return Effect.void
        case "fail":
          return Effect.fail(this.full())
        case "backpressure":
          return this.offerWaiting(env)
      }
    })

  readonly ask = <M extends Protocol.Message<P>>(
    message: M,
    options?: AskOptions
  ): Effect.Effect<Protocol.ReplyOf<P, M>, AskError | Protocol.ErrorOf<P, M>> =>
    this.askUntyped(message, options) as Effect.Effect<Protocol.ReplyOf<P, M>, AskError | Protocol.ErrorOf<P, M>>

  /** The reply and the handler's error are typed by the protocol at `ask`; inside, they are what the handler gave. */
  private askUntyped(message: Protocol.Message<P>, options: AskOptions | undefined): Effect.Effect<unknown, unknown> {
    return Effect.suspend(() => {
      const v = this.protocol.validate(message)
      if (Exit.isFailure(v)) return this.rejectWith(v)
      if (this.status === "stopped") return Effect.fail(this.gone())
      const env: Envelope = { msg: v.value as Envelope["msg"], resume: undefined, result: undefined, isAsk: true }
      const timeoutMs = options?.timeout === undefined
        ? DEFAULT_ASK_TIMEOUT_MS
        : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
      if (this.mailbox.offerUnsafe(env)) return this.awaitReply(env, timeoutMs)
      if (this.mailbox.overflow !== "backpressure") {
        if (this.mailbox.overflow === "drop") this.mailbox.dropped++
        return Effect.fail(this.full())
      }
      // Slow path: the wait for room counts against the same timeout.
      return Effect.withFiber((fiber) => {
        const clock = fiber.getRef(Clock.Clock)
        const deadline = clock.currentTimeMillisUnsafe() + timeoutMs
        return Effect.flatMap(
          Effect.timeoutOrElse(this.offerWaiting(env), {
            duration: Duration.millis(timeoutMs),
            orElse: () => Effect.fail(new AskTimeout({ actor: this.name, tag: env.msg._tag, timeoutMs }))
          }),
          () => this.awaitReply(env, Math.max(0, deadline - clock.currentTimeMillisUnsafe()), timeoutMs)
        )
      })
    })
  }

  /**
   * Waits for the reply, failing with `AskTimeout` after `ms`. On the system clock the timeout is a plain timer in
   * the same callback (no fiber per ask); under any other Clock (a TestClock) it is `Effect.timeoutOrElse` on
   * that clock, inside the ask's own fiber tree: the same rule as the LM call timeout (core's lmTimeout).
   */
  private awaitReply(env: Envelope, ms: number, reportedMs = ms): Effect.Effect<unknown, unknown> {
    return Effect.withFiber((fiber) => {
      if (!Number.isFinite(ms) || (fiber.getRef(Clock.Clock) === systemClock && ms <= maxTimerMs)) {
        return this.replyOrTimer(env, ms, reportedMs)
      }
      return Effect.timeoutOrElse(this.replyOrTimer(env, Infinity, reportedMs), {
        duration: Duration.millis(ms),
        orElse: () => Effect.fail(new AskTimeout({ actor: this.name, tag: env.msg._tag, timeoutMs: reportedMs }))
      })
    })
  }

  /** The reply, or `AskTimeout` from a system timer after `ms` (none when `ms` is Infinity). */
  private replyOrTimer(env: Envelope, ms: number, reportedMs: number): Effect.Effect<unknown, unknown> {
    return Effect.callback<unknown, unknown>((resume) => {
      if (env.result !== undefined) return resume(env.result)
      let timer: ReturnType<typeof setTimeout> | undefined
      env.resume = (exit) => {
        if (timer !== undefined) clearTimeout(timer)
        resume(exit)
      }
      if (Number.isFinite(ms)) {
        timer = setTimeout(() => {
          if (env.resume === undefined) return
          env.resume = undefined
          resume(Effect.fail(new AskTimeout({ actor: this.name, tag: env.msg._tag, timeoutMs: reportedMs })))
        }, ms)
      }
      return Effect.sync(() => {
        env.resume = undefined
        if (timer !== undefined) clearTimeout(timer)
      })
    })
  }

  readonly monitor = (): Effect.Effect<Effect.Effect<ExitReason>> =>
    Effect.sync(() => {
      if (this.status === "stopped") return Effect.succeed(this.finalReason ?? ExitReasons.shutdown)
      return Deferred.await(this.exitSignal)
    })

  /** Marks a new incarnation as running and returns its run. */
  begin(): Run {
    const run: Run = { n: ++this.incarnation, current: undefined, kill: Deferred.makeUnsafe<never, LinkedExit>() }
    this.live = run
    this.status = "running"
    this.finalReason = undefined
    if (Deferred.isDoneUnsafe(this.terminal)) this.terminal = Deferred.makeUnsafe<ExitReason>()
    return run
  }

  /**
   * A run's fiber ended: fail the message it was handling, and, if it is still the live run, notify monitors. A
   * run the supervisor already counted out (it lingered past its shutdown) only settles its own message.
   */
  end(run: Run, exit: Exit.Exit<unknown, unknown>): void {
    const reason = Exit.isSuccess(exit) ? ExitReasons.normal : ExitReasons.fromCause(exit.cause)
    const cur = run.current
    run.current = undefined
    if (cur !== undefined) complete(cur, Exit.fail(new ActorGone({ actor: this.name, reason })))
    if (this.live !== run) return
    this.exited(reason)
    if (!this.supervised) this.stop(reason)
  }

  /**
   * The supervisor is done with the live incarnation (its `onExited` hook): if its fiber has not ended yet (it
   * lingers), monitors learn of its exit now, and the mailbox waits for the next incarnation.
   */
  counted(reason: ExitReason): void {
    if (this.live !== undefined) this.exited(reason)
  }

  private exited(reason: ExitReason): void {
    this.live = undefined
    this.lastReason = reason
    const signal = this.exitSignal
    this.exitSignal = Deferred.makeUnsafe<ExitReason>()
    Deferred.doneUnsafe(signal, Exit.succeed(reason))
    if (this.status !== "stopped") this.status = "restarting"
  }

  /** Stopped for good: fail everything pending and notify monitors and watchers. */
  stop(reason: ExitReason): void {
    if (this.status === "stopped") return
    this.status = "stopped"
    this.live = undefined
    this.finalReason = reason
    const gone = new ActorGone({ actor: this.name, reason })
    for (const env of this.mailbox.drain()) complete(env, Exit.fail(gone))
    Deferred.doneUnsafe(this.exitSignal, Exit.succeed(reason))
    Deferred.doneUnsafe(this.terminal, Exit.succeed(reason))
  }

  /** Terminates incarnation `n` (if still live) with a `LinkedExit` failure. */
  killUnsafe(n: number, peer: string, reason: ExitReason): void {
    const run = this.live
    if (run !== undefined && run.n === n) Deferred.doneUnsafe(run.kill, Exit.fail(new LinkedExit({ peer, reason })))
  }

  stats(): ActorStats {
    return {
      name: this.name,
      mailboxSize: this.mailbox.size,
      capacity: this.mailbox.capacity,
      overflow: this.mailbox.overflow,
      dropped: this.mailbox.dropped,
      processed: this.processed,
      rejected: this.rejected,
      status: this.status,
      incarnation: this.incarnation
    }
  }
}

/** A handler failure that is only typed errors goes back to the asker; anything else crashes the incarnation. */
export const isTypedFailure = (cause: Cause.Cause<unknown>): boolean =>
  Cause.hasFails(cause) && !Cause.hasDies(cause) && !Cause.hasInterrupts(cause)
