/**
 * The supervisor's state and control loop. One fiber owns all state changes (like an OTP supervisor's gen_server):
 * child exits and dynamic-children commands arrive on one queue and are handled one at a time, uninterruptibly
 * except while waiting for a child to finish starting or for a backoff delay, so that a shutdown never observes
 * half a restart. Snapshots read the state directly (single-threaded JS, no torn reads).
 *
 * The state is one `SupervisorState` record; the loop's steps are the functions below, each taking it.
 *
 * Stopping a child never waits longer than its shutdown (terminate.ts): an incarnation still releasing after that
 * lingers in the background, is reported (`ChildWouldNotStop` event, `lingering` in the snapshot, the
 * shutdown-timeouts metric), and the supervisor goes on with its strategy. A later incarnation can wait for it
 * with `ChildSpec.awaitPreviousRelease`.
 */
import { Cause, Clock, Context, Deferred, Effect, Exit, Fiber, Metric, PubSub, Queue, Scope } from "effect"
import {
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  DuplicateChild,
  type ExitReason,
  ExitReasons,
  SupervisorEscalation,
  SupervisorNotRunning
} from "../ActorError.ts"
import type { ChildSpec } from "../ChildSpec.ts"
import type { SupervisorEvent } from "../SupervisorEvent.ts"
import { type ChildSlot, CurrentChildSlot } from "./slot.ts"
import {
  type Child,
  type Command,
  type Config,
  escalationsCounter,
  exitReasonOf,
  type Incarnation,
  type Lingering,
  newChild,
  nextIncarnation,
  publish,
  type Reply,
  snapshotOf,
  SupervisorState
} from "./supervisorState.ts"
import { graceMillis, stopBounded, stoppedAlready } from "./terminate.ts"

export {
  type Config,
  escalationsCounter,
  restartsCounter,
  shutdownTimeoutsCounter,
  snapshotOf,
  SupervisorState
} from "./supervisorState.ts"

/** Raised inside the loop when intensity is exceeded; turned into a `SupervisorEscalation` at the top. */
class Escalate {
  readonly child: Child
  readonly cause: Cause.Cause<unknown>
  constructor(child: Child, cause: Cause.Cause<unknown>) {
    this.child = child
    this.cause = cause
  }
}

/** Raised while starting the initial children: the supervisor does not start (OTP's `start_link` error). */
class BootFailed {
  readonly child: Child
  readonly cause: Cause.Cause<unknown>
  constructor(child: Child, cause: Cause.Cause<unknown>) {
    this.child = child
    this.cause = cause
  }
}

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** Waits for the child's lingering incarnations (those lingering when this incarnation starts) to finish. */
const previousReleased = (child: Child): Effect.Effect<void> => {
  const pending = child.lingering.map((l) => l.released)
  return pending.length === 0 ? Effect.void : Effect.forEach(pending, Deferred.await, { discard: true })
}

/**
 * Stops an incarnation within the child's shutdown. Returns its exit, or undefined when it would not stop in time:
 * it is then reported and tracked as lingering until its stop completes in the background.
 */
const stopIncarnation = (
  s: SupervisorState,
  child: Child,
  inc: Incarnation
): Effect.Effect<Exit.Exit<unknown, unknown> | undefined> => {
  const already = stoppedAlready(inc.fiber, inc.scope)
  return already !== undefined ? Effect.succeed(already) : stopWithin(s, child, inc)
}

const stopWithin = (
  s: SupervisorState,
  child: Child,
  inc: Incarnation
): Effect.Effect<Exit.Exit<unknown, unknown> | undefined> =>
  Effect.gen(function*() {
    const { exit, stopper } = yield* stopBounded(inc.fiber, inc.scope, child.spec.shutdown)
    if (exit !== undefined) return exit
    const since = s.now()
    const lingering: Lingering = { incarnation: inc.n, since, released: Deferred.makeUnsafe<void>() }
    child.lingering.push(lingering)
    s.shutdownTimeouts++
    stopper.addObserver((done) => {
      const i = child.lingering.indexOf(lingering)
      if (i >= 0) child.lingering.splice(i, 1)
      Deferred.doneUnsafe(lingering.released, Exit.void)
      const incExit = Exit.isSuccess(done) ? done.value : (done as Exit.Exit<unknown, unknown>)
      Queue.offerUnsafe(s.commands, {
        _tag: "Released",
        child,
        incarnation: inc.n,
        afterMs: s.now() - since,
        exit: incExit
      })
    })
    yield* Metric.update(s.shutdownTimeoutsMetric, 1)
    yield* publish(s, {
      _tag: "ChildWouldNotStop",
      supervisor: s.name,
      child: child.spec.id,
      incarnation: inc.n,
      graceMs: graceMillis(child.spec.shutdown)
    })
    return undefined
  })

/** Starts one incarnation; resolves with the start's exit (failure: it failed before being ready). */
const startIncarnation = (
  s: SupervisorState,
  child: Child,
  restore: Restore
): Effect.Effect<Exit.Exit<void, unknown>> =>
  Effect.gen(function*() {
    const scope = Scope.makeUnsafe("sequential")
    const ready = Deferred.makeUnsafe<void, unknown>()
    const slot: ChildSlot = { nested: undefined, previousReleased: previousReleased(child) }
    const body = Effect.flatMap(child.spec.start, (run) => {
      Deferred.doneUnsafe(ready, Exit.void)
      return run
    }).pipe(
      Scope.provide(scope),
      Effect.provideService(CurrentChildSlot, slot),
      Effect.provideContext(child.context)
    ) as Effect.Effect<unknown, unknown>
    const fiber = yield* Effect.forkDetach(body, { uninterruptible: false })
    const inc: Incarnation = { n: nextIncarnation(), fiber, scope, ready }
    child.inc = inc
    child.slot = slot
    child.status = "starting"
    fiber.addObserver((exit) => {
      if (!Deferred.isDoneUnsafe(ready)) {
        Deferred.doneUnsafe(ready, Exit.isFailure(exit) ? Exit.failCause(exit.cause) : Exit.void)
      }
      Queue.offerUnsafe(s.commands, { _tag: "Exited", child, inc, exit })
    })
    const ok = yield* Effect.exit(restore(Deferred.await(ready)))
    if (Exit.isFailure(ok) && !Deferred.isDoneUnsafe(ready)) return yield* Effect.interrupt
    if (Exit.isSuccess(ok)) {
      child.status = "running"
      yield* publish(s, { _tag: "ChildStarted", supervisor: s.name, child: child.spec.id, incarnation: inc.n })
      return ok
    }
    // The start phase failed: the fiber is done; release what it acquired.
    child.inc = undefined
    yield* stopIncarnation(s, child, inc)
    const reason = ExitReasons.fromCause(ok.cause)
    child.lastExit = reason
    child.lastCause = ok.cause
    child.status = "restarting"
    yield* publish(s, { _tag: "ChildExited", supervisor: s.name, child: child.spec.id, reason })
    return ok
  })

/** Stops a child's running incarnation (if any). `final`: no restart follows now. */
const stopChild = (s: SupervisorState, child: Child, final: boolean): Effect.Effect<void> =>
  Effect.gen(function*() {
    const inc = child.inc
    let stopped = false
    if (inc !== undefined) {
      child.inc = undefined
      const exit = yield* stopIncarnation(s, child, inc)
      // One that would not stop was told to shut down; how it really ends is in its ChildReleased event.
      child.lastExit = exit === undefined ? ExitReasons.shutdown : exitReasonOf(exit)
      if (exit !== undefined && Exit.isFailure(exit)) child.lastCause = exit.cause
      stopped = true
    }
    const reason = child.lastExit ?? ExitReasons.shutdown
    if (final) {
      if (child.status !== "stopped") {
        child.status = "stopped"
        if (child.spec.onStopped) yield* child.spec.onStopped(reason)
      }
    } else {
      child.status = "restarting"
      if (child.spec.onExited) yield* child.spec.onExited(reason)
    }
    if (stopped) yield* publish(s, { _tag: "ChildExited", supervisor: s.name, child: child.spec.id, reason })
  })

const stopAllReverse = (s: SupervisorState, final: boolean) =>
  Effect.forEach([...s.children].reverse(), (c) => stopChild(s, c, final), { discard: true })

/**
 * The children a restart of `child` involves: itself (oneForOne), all (oneForAll), or itself and those started
 * after it (restForOne). As in OTP, stopped children of the group (terminated ones, transient ones that ended
 * normally) are restarted with it.
 */
const groupOf = (s: SupervisorState, child: Child): Array<Child> => {
  if (s.config.strategy === "oneForOne") return [child]
  return s.children.slice(s.config.strategy === "oneForAll" ? 0 : s.children.indexOf(child))
}

/** Restarts `child` (and its group per strategy) until it starts or the intensity is exceeded. */
const restartFrom = (
  s: SupervisorState,
  first: Child,
  firstCause: Cause.Cause<unknown>,
  restore: Restore
): Effect.Effect<void, Escalate> =>
  Effect.gen(function*() {
    let child = first
    let cause = firstCause
    for (;;) {
      const now = s.now()
      if (s.intensity.quietAt(now)) s.config.backoff.reset()
      if (!s.intensity.record(now)) return yield* Effect.fail(new Escalate(child, cause))
      s.restarts++
      yield* Metric.update(s.restartsMetric, 1)
      const delay = yield* s.config.backoff.next(now)
      if (delay > 0) yield* restore(Effect.sleep(delay))
      const members = groupOf(s, child)
      for (const c of [...members].reverse()) {
        if (c !== child && c.inc !== undefined) yield* stopChild(s, c, c.spec.restart === "temporary")
      }
      let failed: Child | undefined
      for (const c of members) {
        if (c !== child && c.spec.restart === "temporary") {
          s.remove(c)
          continue
        }
        c.restarts++
        const r = yield* startIncarnation(s, c, restore)
        if (Exit.isFailure(r)) {
          failed = c
          cause = r.cause
          break
        }
        yield* publish(s, { _tag: "ChildRestarted", supervisor: s.name, child: c.spec.id, restarts: c.restarts })
      }
      if (failed === undefined) return
      child = failed
    }
  })

const shouldRestart = (child: Child, reason: ExitReason): boolean => {
  switch (child.spec.restart) {
    case "permanent":
      return true
    case "temporary":
      return false
    case "transient":
      return !ExitReasons.isShutdown(reason)
  }
}

const onExited = (
  s: SupervisorState,
  child: Child,
  inc: Incarnation,
  exit: Exit.Exit<unknown, unknown>,
  restore: Restore
) =>
  Effect.gen(function*() {
    if (child.inc !== inc) return // already stopped or replaced by the supervisor itself
    child.inc = undefined
    yield* stopIncarnation(s, child, inc) // the fiber is done: this closes its scope within the shutdown
    const cause = Exit.isFailure(exit) ? exit.cause : undefined
    const reason = exitReasonOf(exit)
    child.lastExit = reason
    if (cause !== undefined) child.lastCause = cause
    // State first, then hooks, then the event: a subscriber may run as soon as the event is published.
    if (!shouldRestart(child, reason)) {
      child.status = "stopped"
      if (child.spec.restart === "temporary") s.remove(child)
      if (child.spec.onStopped) yield* child.spec.onStopped(reason)
      yield* publish(s, { _tag: "ChildExited", supervisor: s.name, child: child.spec.id, reason })
      return
    }
    child.status = "restarting"
    if (child.spec.onExited) yield* child.spec.onExited(reason)
    yield* publish(s, { _tag: "ChildExited", supervisor: s.name, child: child.spec.id, reason })
    yield* restartFrom(s, child, cause ?? Cause.empty, restore)
  })

/**
 * The stopped child `id` names; undefined after failing `reply` with `ChildNotFound`, or with `ChildRunning` when
 * it runs (OTP's `{error, running}`: only a stopped child can be restarted or deleted by hand).
 */
const stoppedChild = <E>(
  s: SupervisorState,
  id: string,
  reply: Reply<E | ChildNotFound | ChildRunning>
): Child | undefined => {
  const child = s.find(id)
  if (child === undefined) Deferred.doneUnsafe(reply, Exit.fail(new ChildNotFound({ supervisor: s.name, child: id })))
  else if (child.inc !== undefined) {
    Deferred.doneUnsafe(reply, Exit.fail(new ChildRunning({ supervisor: s.name, child: id })))
  } else return child
  return undefined
}

const handleCommand = (s: SupervisorState, cmd: Command, restore: Restore): Effect.Effect<void, Escalate> => {
  switch (cmd._tag) {
    case "Exited":
      return onExited(s, cmd.child, cmd.inc, cmd.exit, restore)
    case "Released":
      return publish(s, {
        _tag: "ChildReleased",
        supervisor: s.name,
        child: cmd.child.spec.id,
        incarnation: cmd.incarnation,
        afterMs: cmd.afterMs,
        reason: exitReasonOf(cmd.exit)
      })
    case "Start":
      return Effect.gen(function*() {
        if (s.find(cmd.spec.id) !== undefined) {
          return yield* Deferred.fail(cmd.reply, new DuplicateChild({ supervisor: s.name, child: cmd.spec.id }))
        }
        const child = newChild(cmd.spec, cmd.context)
        s.children.push(child)
        const r = yield* startIncarnation(s, child, restore)
        if (Exit.isSuccess(r)) return yield* Deferred.succeed(cmd.reply, undefined)
        s.remove(child)
        yield* Deferred.fail(
          cmd.reply,
          new ChildStartFailed({ supervisor: s.name, child: cmd.spec.id, cause: r.cause })
        )
      })
    case "Terminate":
      return Effect.gen(function*() {
        const child = s.find(cmd.id)
        if (child === undefined) {
          return yield* Deferred.fail(cmd.reply, new ChildNotFound({ supervisor: s.name, child: cmd.id }))
        }
        yield* stopChild(s, child, true)
        if (child.spec.restart === "temporary") s.remove(child)
        yield* Deferred.succeed(cmd.reply, undefined)
      })
    case "Delete":
      return Effect.sync(() => {
        const child = stoppedChild(s, cmd.id, cmd.reply)
        if (child === undefined) return
        s.remove(child)
        Deferred.doneUnsafe(cmd.reply, Exit.void)
      })
    case "Restart":
      return Effect.gen(function*() {
        const child = stoppedChild(s, cmd.id, cmd.reply)
        if (child === undefined) return
        child.restarts++
        const r = yield* startIncarnation(s, child, restore)
        if (Exit.isFailure(r)) {
          yield* stopChild(s, child, true)
          return yield* Deferred.fail(
            cmd.reply,
            new ChildStartFailed({ supervisor: s.name, child: cmd.id, cause: r.cause })
          )
        }
        yield* publish(s, {
          _tag: "ChildRestarted",
          supervisor: s.name,
          child: child.spec.id,
          restarts: child.restarts
        })
        yield* Deferred.succeed(cmd.reply, undefined)
      })
  }
}

/** Starts the initial children in order; the first that fails to start fails the supervisor's start. */
const boot = (
  s: SupervisorState,
  specs: ReadonlyArray<ChildSpec<unknown>>,
  restore: Restore
): Effect.Effect<void, BootFailed> =>
  Effect.forEach(specs, (spec) =>
    Effect.gen(function*() {
      const child = newChild(spec, s.context)
      s.children.push(child)
      const r = yield* startIncarnation(s, child, restore)
      if (Exit.isFailure(r)) return yield* Effect.fail(new BootFailed(child, r.cause))
    }), { discard: true })

/** A child failed to start at boot: stop those already started (reverse order) and fail the start. */
const bootFailed = (s: SupervisorState, e: BootFailed) =>
  Effect.gen(function*() {
    s.status = "stopped"
    yield* stopAllReverse(s, true)
    yield* publish(s, { _tag: "SupervisorStopped", supervisor: s.name })
    yield* Deferred.fail(
      s.started,
      new ChildStartFailed({ supervisor: s.name, child: e.child.spec.id, cause: e.cause })
    )
    yield* Deferred.succeed(s.done, undefined)
  })

const escalate = (s: SupervisorState, e: Escalate) =>
  Effect.gen(function*() {
    s.status = "escalated"
    yield* stopAllReverse(s, true)
    const error = new SupervisorEscalation({
      supervisor: s.name,
      child: e.child.spec.id,
      restarts: s.config.maxRestarts,
      withinMs: s.config.withinMs,
      lastCause: e.cause
    })
    yield* Metric.update(Metric.withAttributes(escalationsCounter, { supervisor: s.name }), 1)
    yield* publish(s, { _tag: "Escalated", supervisor: s.name, child: e.child.spec.id, error })
    yield* publish(s, { _tag: "SupervisorStopped", supervisor: s.name })
    yield* Deferred.fail(s.done, error)
  })

const runLoop = (s: SupervisorState, specs: ReadonlyArray<ChildSpec<unknown>>) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      yield* boot(s, specs, restore)
      yield* Deferred.succeed(s.started, undefined)
      for (;;) {
        const cmd = yield* restore(Queue.take(s.commands))
        s.inflight = cmd
        yield* handleCommand(s, cmd, restore)
        s.inflight = undefined
      }
    }).pipe(
      Effect.catchCause((cause) => {
        const e = cause.reasons.find((r) => r._tag === "Fail")
        if (e !== undefined && e.error instanceof Escalate) return escalate(s, e.error)
        if (e !== undefined && e.error instanceof BootFailed) return bootFailed(s, e.error)
        return Effect.failCause(cause)
      })
    )
  )

/** Fails every command still waiting for the loop (the supervisor stopped). */
const rejectPending = (s: SupervisorState) =>
  Effect.gen(function*() {
    const pending = yield* Queue.clear(s.commands)
    if (s.inflight !== undefined) pending.unshift(s.inflight)
    for (const cmd of pending) {
      if (cmd._tag !== "Exited" && cmd._tag !== "Released") {
        yield* Deferred.fail(cmd.reply as Reply<SupervisorNotRunning>, new SupervisorNotRunning({ supervisor: s.name }))
      }
    }
  })

/** Sends a command to the loop and waits for its reply. */
export const send = <E>(
  s: SupervisorState,
  make: (reply: Reply<E | SupervisorNotRunning>) => Command
): Effect.Effect<void, E | SupervisorNotRunning> =>
  Effect.suspend(() => {
    if (s.status !== "running") return Effect.fail(new SupervisorNotRunning({ supervisor: s.name }))
    const reply = Deferred.makeUnsafe<void, E | SupervisorNotRunning>()
    if (!Queue.offerUnsafe(s.commands, make(reply))) {
      return Effect.fail(new SupervisorNotRunning({ supervisor: s.name }))
    }
    return Deferred.await(reply)
  })

export const startChild = (s: SupervisorState, spec: ChildSpec<unknown>, context: Context.Context<unknown>) =>
  send<DuplicateChild | ChildStartFailed>(s, (reply) => ({ _tag: "Start", spec, context, reply }))
export const terminateChild = (s: SupervisorState, id: string) =>
  send<ChildNotFound>(s, (reply) => ({ _tag: "Terminate", id, reply }))
export const restartChild = (s: SupervisorState, id: string) =>
  send<ChildNotFound | ChildRunning | ChildStartFailed>(s, (reply) => ({ _tag: "Restart", id, reply }))
export const deleteChild = (s: SupervisorState, id: string) =>
  send<ChildNotFound | ChildRunning>(s, (reply) => ({ _tag: "Delete", id, reply }))

/**
 * Starts a supervisor in the current Scope: its loop, then its initial children in order. Fails with
 * `ChildStartFailed` (those already started are stopped first, in reverse order) when one of them cannot start.
 */
export const make = (
  config: Config,
  specs: ReadonlyArray<ChildSpec<unknown>>,
  context: Context.Context<unknown>
): Effect.Effect<SupervisorState, ChildStartFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const parentSlot = yield* CurrentChildSlot
    const clock = yield* Clock.Clock
    const commands = yield* Queue.unbounded<Command>()
    const events = yield* PubSub.sliding<SupervisorEvent>(config.eventBuffer)
    const s = new SupervisorState(config, context, clock, commands, events)
    if (parentSlot !== undefined) parentSlot.nested = { snapshotUnsafe: () => snapshotOf(s) }

    const loopFiber = yield* Effect.forkDetach(runLoop(s, specs), { uninterruptible: false })
    // A defect in the loop itself (a bug, or one thrown by an onStopped/onExited hook) must not go unnoticed.
    loopFiber.addObserver((exit) => {
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        Deferred.doneUnsafe(s.started, Exit.failCause(exit.cause as Cause.Cause<never>))
        Deferred.doneUnsafe(s.done, Exit.failCause(exit.cause as Cause.Cause<never>))
      }
    })

    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        yield* Fiber.interrupt(loopFiber)
        if (s.status === "running") {
          s.status = "stopped"
          yield* stopAllReverse(s, true)
          yield* publish(s, { _tag: "SupervisorStopped", supervisor: s.name })
        }
        yield* rejectPending(s)
        yield* Queue.shutdown(commands)
        yield* Deferred.succeed(s.done, undefined)
        yield* Deferred.interrupt(s.started)
        yield* PubSub.shutdown(events)
      })
    )

    // Crashes are handled only after boot, so the only failure here is a start failure.
    yield* Deferred.await(s.started)
    return s
  })
