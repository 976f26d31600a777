/**
 * `ActorRef<P>`: the handle through which anything talks to an actor, local (`Actor.start` / `Actor.spec`) or
 * remote (runtime-nats implements this same interface over NATS). A ref is typed by its `Protocol`: `tell` and
 * `ask` accept only that protocol's messages and `ask` returns the reply type (and handler error type) of the
 * message's tag.
 *
 * Contract every implementation keeps:
 * - Messages are validated against the protocol Schema before delivery; an invalid one fails the send with
 *   `MessageRejected` (tag, path, issue) and never reaches (or kills) the actor.
 * - `tell` fails with `MailboxFull` when the mailbox is full under the "fail" policy, and `ActorGone` when the
 *   actor has stopped for good. Under "drop" a full mailbox silently drops a `tell` (counted in stats), under
 *   "backpressure" `tell` waits for room.
 * - `ask` additionally fails with `AskTimeout` after `timeout` (default 5 s), and with the handler's typed error.
 *   Under "drop" an `ask` to a full mailbox fails with `MailboxFull` (dropping it would only turn into a timeout).
 * - A ref outlives restarts: it always points at the current incarnation. During a supervisor's restart window
 *   messages are accepted into the (surviving) mailbox and served by the next incarnation, so `ask` waits,
 *   bounded by its timeout. The message being handled when an incarnation crashed gets `ActorGone` (its reply is
 *   lost with the crash). Once the actor stops for good (not restarted), pending and later sends fail with
 *   `ActorGone` carrying the final exit reason.
 * - A ref that talks to its actor over a transport (runtime-nats) fails with `ActorUnreachable` when the
 *   transport fails (it cannot tell whether the actor is alive); local refs never do. `ActorGone` always means
 *   the actor itself has stopped.
 * - `monitor()` watches the current incarnation (or the next one while restarting): the returned effect
 *   completes exactly once, with that incarnation's `ExitReason`; if the actor has already stopped for good it
 *   completes at once with the final reason. The monitor lives in the caller's Scope (OTP's `demonitor` is
 *   closing it): whatever a ref registers to watch (a remote ref's subscriptions) is released with it.
 */
import type { Duration, Effect, Scope } from "effect"
import type {
  ActorGone,
  ActorUnreachable,
  AskTimeout,
  ExitReason,
  MailboxFull,
  MessageRejected,
  SendError
} from "./ActorError.ts"
import type * as Protocol from "./Protocol.ts"

export const TypeId = "~@dspex/runtime/ActorRef" as const
export type TypeId = typeof TypeId

export interface AskOptions {
  /** Default 5 seconds. */
  readonly timeout?: Duration.Input | undefined
}

export type AskError = AskTimeout | MailboxFull | ActorGone | MessageRejected | ActorUnreachable

export interface ActorRef<P extends Protocol.Any> {
  readonly [TypeId]: TypeId
  /** Unique per actor (stable across restarts). */
  readonly id: string
  /** Human-readable name (the registry name when registered; defaults to the id). */
  readonly name: string
  readonly protocol: P
  /** Fire-and-forget send. */
  readonly tell: (message: Protocol.Message<P>) => Effect.Effect<void, SendError>
  /** Request/reply: resolves with the handler's reply for this message's tag. */
  readonly ask: <M extends Protocol.Message<P>>(
    message: M,
    options?: AskOptions
  ) => Effect.Effect<Protocol.ReplyOf<P, M>, AskError | Protocol.ErrorOf<P, M>>
  /**
   * Registers a monitor for the lifetime of the current Scope; the inner effect completes once, with the watched
   * incarnation's exit reason.
   */
  readonly monitor: () => Effect.Effect<Effect.Effect<ExitReason>, never, Scope.Scope>
}

export const isActorRef = (u: unknown): u is ActorRef<Protocol.Any> =>
  typeof u === "object" && u !== null && TypeId in u

export const DEFAULT_ASK_TIMEOUT_MS = 5_000
