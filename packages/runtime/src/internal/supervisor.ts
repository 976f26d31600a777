/**
 * The supervisor's control loop. One fiber owns all state changes (like an OTP supervisor's gen_server): child
 * exits and dynamic-children commands arrive on one queue and are handled one at a time, uninterruptibly except
 * while waiting for a child to finish starting or for a backoff delay, so that a shutdown never observes half a
 * restart. Snapshots read the state directly (single-threaded JS, no torn reads).
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Metric, PubSub, Queue, Schedule, Scope } from "effect"
import {
  ChildNotFound,
  ChildStartFailed,
  DuplicateChild,
  type ExitReason,
  ExitReasons,
  SupervisorEscalation,
  SupervisorNotRunning
} from "../ActorError.ts"
import type { ChildSpec } from "../ChildSpec.ts"
import type { ChildStatus, Strategy, SupervisorEvent, SupervisorSnapshot } from "../SupervisorEvent.ts"
import { type ChildSlot, CurrentChildSlot } from "./slot.ts"
import { closeWithin, graceMillis, stopIncarnation } from "./terminate.ts"

export interface Config {
  readonly name: string
  readonly strategy: Strategy
  readonly maxRestarts: number
  readonly withinMs: number
  readonly backoff: Schedule.Schedule<unknown, unknown> | undefined
}

interface Incarnation {
  readonly n: number
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly scope: Scope.Closeable
  readonly ready: Deferred.Deferred<void, unknown>
}

interface Child {
  readonly spec: ChildSpec<any>
  readonly context: Context.Context<any>
  status: ChildStatus
  restarts: number
  lastExit: ExitReason | undefined
  lastCause: Cause.Cause<unknown> | undefined
  inc: Incarnation | undefined
  slot: ChildSlot | undefined
}

// Replies are typed at the public API (Supervisor.ts); inside the loop any error class may be sent.
type Reply<_E> = Deferred.Deferred<void, any>

type Command =
  | { readonly _tag: "Exited"; readonly child: Child; readonly inc: Incarnation; readonly exit: Exit.Exit<unknown, unknown> }
  | { readonly _tag: "Start"; readonly spec: ChildSpec<any>; readonly context: Context.Context<any>; readonly reply: Reply<DuplicateChild | ChildStartFailed | SupervisorNotRunning> }
  | { readonly _tag: "Terminate" | "Delete"; readonly id: string; readonly reply: Reply<ChildNotFound | SupervisorNotRunning> }
  | { readonly _tag: "Restart"; readonly id: string; readonly reply: Reply<ChildNotFound | ChildStartFailed | SupervisorNotRunning> }

/** Raised inside the loop when intensity is exceeded; turned into a `SupervisorEscalation` at the top. */
class Escalate {
  readonly child: Child
  readonly cause: Cause.Cause<unknown>
  constructor(child: Child, cause: Cause.Cause<unknown>) {
    this.child = child
    this.cause = cause
  }
}

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export const restartsCounter = Metric.counter("dspex_supervisor_restarts_total", {
  description: "Child restarts performed by a supervisor",
  incremental: true
})
export const escalationsCounter = Metric.counter("dspex_supervisor_escalations_total", {
  description: "Supervisors that exceeded their restart intensity",
  incremental: true
})

let incarnations = 0

export interface Handle {
  readonly name: string
  readonly commands: Queue.Queue<Command>
  readonly events: PubSub.PubSub<SupervisorEvent>
  readonly done: Deferred.Deferred<void, SupervisorEscalation>
  readonly snapshotUnsafe: () => SupervisorSnapshot
  readonly isRunning: () => boolean
  readonly makeStart: (spec: ChildSpec<any>, context: Context.Context<any>) => Effect.Effect<void, DuplicateChild | ChildStartFailed | SupervisorNotRunning>
  readonly makeCommand: (tag: "Terminate" | "Delete" | "Restart", id: string) => Effect.Effect<void, ChildNotFound | ChildStartFailed | SupervisorNotRunning>
}

export const make = (
  config: Config,
  initial: ReadonlyArray<ChildSpec<any>>,
  context: Context.Context<any>
): Effect.Effect<Handle, SupervisorEscalation, Scope.Scope> =>
  Effect.gen(function*() {
    const { name } = config
    const scope = yield* Effect.scope
    const parentSlot = yield* CurrentChildSlot
    const commands = yield* Queue.unbounded<Command>()
    const events = yield* PubSub.unbounded<SupervisorEvent>()
    const done = yield* Deferred.make<void, SupervisorEscalation>()
    const started = yield* Deferred.make<void, SupervisorEscalation>()
    const clock = yield* Clock.Clock
    const restartsMetric = Metric.withAttributes(restartsCounter, { supervisor: name })
    const children: Array<Child> = []
    let restartTimes: Array<number> = []
    let restartHead = 0
    let totalRestarts = 0
    let status: SupervisorSnapshot["status"] = "running"
    let inflight: Command | undefined
    let step: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>) | undefined

    const publish = (event: SupervisorEvent) => PubSub.publishUnsafe(events, event)

    const snapshotUnsafe = (): SupervisorSnapshot => ({
      name,
      strategy: config.strategy,
      status,
      restarts: totalRestarts,
      children: children.map((c) => ({
        id: c.spec.id,
        status: c.status,
        restart: c.spec.restart,
        restarts: c.restarts,
        lastExit: c.lastExit,
        lastCause: c.lastCause,
        supervisor: c.inc === undefined ? undefined : c.slot?.nested?.snapshotUnsafe(),
        actor: c.spec.stats?.()
      }))
    })
    if (parentSlot !== undefined) parentSlot.nested = { snapshotUnsafe }

    const find = (id: string) => children.find((c) => c.spec.id === id)
    const remove = (c: Child) => {
      const i = children.indexOf(c)
      if (i >= 0) children.splice(i, 1)
    }

    /** Starts one incarnation; resolves with the start's exit (failure: it failed before being ready). */
    const startOnce = (child: Child, restore: Restore): Effect.Effect<Exit.Exit<void, unknown>> =>
      Effect.gen(function*() {
        const incScope = Scope.makeUnsafe("sequential")
        const ready = Deferred.makeUnsafe<void, unknown>()
        const slot: ChildSlot = { nested: undefined }
        const body = Effect.flatMap(child.spec.start, (run) => {
          Deferred.doneUnsafe(ready, Exit.void)
          return run
        }).pipe(
          Scope.provide(incScope),
          Effect.provideService(CurrentChildSlot, slot),
          Effect.provideContext(child.context)
        ) as Effect.Effect<unknown, unknown>
        const fiber = yield* Effect.forkDetach(body, { uninterruptible: false })
        const inc: Incarnation = { n: ++incarnations, fiber, scope: incScope, ready }
        child.inc = inc
        child.slot = slot
        child.status = "starting"
        fiber.addObserver((exit) => {
          if (!Deferred.isDoneUnsafe(ready)) {
            Deferred.doneUnsafe(ready, Exit.isFailure(exit) ? Exit.failCause(exit.cause) : Exit.void)
          }
          Queue.offerUnsafe(commands, { _tag: "Exited", child, inc, exit })
        })
        const ok = yield* Effect.exit(restore(Deferred.await(ready)))
        if (Exit.isFailure(ok) && !Deferred.isDoneUnsafe(ready)) return yield* Effect.interrupt
        if (Exit.isSuccess(ok)) {
          child.status = "running"
          publish({ _tag: "ChildStarted", supervisor: name, child: child.spec.id, incarnation: inc.n })
          return ok
        }
        // The start phase failed: the fiber is done; release what it acquired.
        child.inc = undefined
        const exit = fiber.pollUnsafe() ?? (yield* Fiber.await(fiber))
        yield* closeWithin(incScope, exit, graceMillis(child.spec.shutdown))
        const reason = ExitReasons.fromCause(ok.cause)
        child.lastExit = reason
        child.lastCause = ok.cause
        child.status = "restarting"
        publish({ _tag: "ChildExited", supervisor: name, child: child.spec.id, reason })
        return ok
      })

    /** Stops a child's running incarnation (if any). `final`: no restart follows now. */
    const stopChild = (child: Child, final: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        const inc = child.inc
        let stopped = false
        if (inc !== undefined) {
          child.inc = undefined
          const exit = yield* stopIncarnation(inc.fiber, inc.scope, child.spec.shutdown)
          const reason = Exit.isSuccess(exit) ? ExitReasons.normal : ExitReasons.fromCause(exit.cause)
          child.lastExit = reason
          if (Exit.isFailure(exit)) child.lastCause = exit.cause
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
        if (stopped) publish({ _tag: "ChildExited", supervisor: name, child: child.spec.id, reason })
      })

    const stopAllReverse = (final: boolean) =>
      Effect.forEach([...children].reverse(), (c) => stopChild(c, final), { discard: true })

    /**
     * Records a restart; false when it exceeds the intensity. Only the last `maxRestarts + 1` timestamps matter,
     * so the window is a small ring of them (constant work per restart).
     */
    const allowRestart = (): boolean => {
      const now = clock.currentTimeMillisUnsafe()
      while (restartHead < restartTimes.length && now - restartTimes[restartHead]! >= config.withinMs) restartHead++
      if (restartHead === restartTimes.length) step = undefined // a quiet period: the backoff starts over
      restartTimes.push(now)
      if (restartTimes.length - restartHead > config.maxRestarts + 1) restartHead++
      if (restartHead > 64 && restartHead * 2 > restartTimes.length) {
        restartTimes = restartTimes.slice(restartHead)
        restartHead = 0
      }
      return restartTimes.length - restartHead <= config.maxRestarts
    }

    const backoffDelay: Effect.Effect<number> = Effect.gen(function*() {
      if (config.backoff === undefined) return 0
      if (step === undefined) step = (yield* Schedule.toStep(config.backoff)) as unknown as typeof step
      const out = yield* Effect.exit(step!(clock.currentTimeMillisUnsafe(), undefined))
      return Exit.isSuccess(out) ? Duration.toMillis(out.value[1]) : 0
    })

    const group = (child: Child): Array<Child> => {
      if (config.strategy === "oneForOne") return [child]
      const from = config.strategy === "oneForAll" ? 0 : children.indexOf(child)
      return children.slice(from).filter((c) => c === child || c.status !== "stopped")
    }

    /** Restarts `child` (and its group per strategy) until it starts or the intensity is exceeded. */
    const restartFrom = (first: Child, firstCause: Cause.Cause<unknown>, restore: Restore): Effect.Effect<void, Escalate> =>
      Effect.gen(function*() {
        let child = first
        let cause = firstCause
        for (;;) {
          if (!allowRestart()) return yield* Effect.fail(new Escalate(child, cause))
          const delay = yield* backoffDelay
          if (delay > 0) yield* restore(Effect.sleep(Duration.millis(delay)))
          const members = group(child)
          for (const c of [...members].reverse()) {
            if (c !== child && c.inc !== undefined) yield* stopChild(c, c.spec.restart === "temporary")
          }
          let failed: Child | undefined
          for (const c of members) {
            if (c !== child && c.spec.restart === "temporary") {
              remove(c)
              continue
            }
            if (c.status === "stopped") continue
            c.restarts++
            totalRestarts++
            yield* Metric.update(restartsMetric, 1)
            const r = yield* startOnce(c, restore)
            if (Exit.isFailure(r)) {
              failed = c
              cause = r.cause
              break
            }
            publish({ _tag: "ChildRestarted", supervisor: name, child: c.spec.id, restarts: c.restarts })
          }
          if (failed === undefined) return
          child = failed
        }
      })

    const shouldRestart = (child: Child, reason: ExitReason): boolean =>
      child.spec.restart === "permanent" ||
      (child.spec.restart === "transient" && (reason._tag === "Failure" || reason._tag === "Linked"))

    const onExited = (child: Child, inc: Incarnation, exit: Exit.Exit<unknown, unknown>, restore: Restore) =>
      Effect.gen(function*() {
        if (child.inc !== inc) return // already stopped or replaced by the supervisor itself
        child.inc = undefined
        yield* closeWithin(inc.scope, exit, graceMillis(child.spec.shutdown))
        const cause = Exit.isFailure(exit) ? exit.cause : undefined
        const reason = ExitReasons.fromCause(cause)
        child.lastExit = reason
        if (cause !== undefined) child.lastCause = cause
        // State first, then hooks, then the event: a subscriber may run as soon as the event is published.
        if (!shouldRestart(child, reason)) {
          child.status = "stopped"
          if (child.spec.restart === "temporary") remove(child)
          if (child.spec.onStopped) yield* child.spec.onStopped(reason)
          publish({ _tag: "ChildExited", supervisor: name, child: child.spec.id, reason })
          return
        }
        child.status = "restarting"
        if (child.spec.onExited) yield* child.spec.onExited(reason)
        publish({ _tag: "ChildExited", supervisor: name, child: child.spec.id, reason })
        yield* restartFrom(child, cause ?? Cause.empty, restore)
      })

    const handle = (cmd: Command, restore: Restore): Effect.Effect<void, Escalate> => {
      switch (cmd._tag) {
        case "Exited":
          return onExited(cmd.child, cmd.inc, cmd.exit, restore)
        case "Start":
          return Effect.gen(function*() {
            if (find(cmd.spec.id) !== undefined) {
              return yield* Deferred.fail(cmd.reply, new DuplicateChild({ supervisor: name, child: cmd.spec.id }))
            }
            const child = newChild(cmd.spec, cmd.context)
            children.push(child)
            const r = yield* startOnce(child, restore)
            if (Exit.isSuccess(r)) return yield* Deferred.succeed(cmd.reply, undefined)
            remove(child)
            yield* Deferred.fail(cmd.reply, new ChildStartFailed({ supervisor: name, child: cmd.spec.id, cause: r.cause }))
          })
        case "Terminate":
        case "Delete":
          return Effect.gen(function*() {
            const child = find(cmd.id)
            if (child === undefined) return yield* Deferred.fail(cmd.reply, new ChildNotFound({ supervisor: name, child: cmd.id }))
            yield* stopChild(child, true)
            if (cmd._tag === "Delete" || child.spec.restart === "temporary") remove(child)
            yield* Deferred.succeed(cmd.reply, undefined)
          })
        case "Restart":
          return Effect.gen(function*() {
            const child = find(cmd.id)
            if (child === undefined) return yield* Deferred.fail(cmd.reply, new ChildNotFound({ supervisor: name, child: cmd.id }))
            yield* stopChild(child, false)
            child.restarts++
            totalRestarts++
            yield* Metric.update(restartsMetric, 1)
            const r = yield* startOnce(child, restore)
            if (Exit.isFailure(r)) {
              yield* stopChild(child, true)
              return yield* Deferred.fail(cmd.reply, new ChildStartFailed({ supervisor: name, child: cmd.id, cause: r.cause }))
            }
            publish({ _tag: "ChildRestarted", supervisor: name, child: child.spec.id, restarts: child.restarts })
            yield* Deferred.succeed(cmd.reply, undefined)
          })
      }
    }

    const newChild = (spec: ChildSpec<any>, ctx: Context.Context<any>): Child => ({
      spec,
      context: ctx,
      status: "starting",
      restarts: 0,
      lastExit: undefined,
      lastCause: undefined,
      inc: undefined,
      slot: undefined
    })

    const startInitial = (restore: Restore): Effect.Effect<void, Escalate> =>
      Effect.forEach(initial, (spec) =>
        Effect.gen(function*() {
          const child = newChild(spec, context)
          children.push(child)
          const r = yield* startOnce(child, restore)
          if (Exit.isFailure(r)) yield* restartFrom(child, r.cause, restore)
        }), { discard: true })

    const escalate = (e: Escalate) =>
      Effect.gen(function*() {
        status = "escalated"
        yield* stopAllReverse(true)
        const error = new SupervisorEscalation({
          supervisor: name,
          child: e.child.spec.id,
          restarts: config.maxRestarts,
          withinMs: config.withinMs,
          lastCause: e.cause
        })
        yield* Metric.update(Metric.withAttributes(escalationsCounter, { supervisor: name }), 1)
        publish({ _tag: "Escalated", supervisor: name, child: e.child.spec.id, error })
        publish({ _tag: "SupervisorStopped", supervisor: name })
        yield* Deferred.fail(started, error)
        yield* Deferred.fail(done, error)
      })

    const loop = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        yield* startInitial(restore)
        yield* Deferred.succeed(started, undefined)
        for (;;) {
          const cmd = yield* restore(Queue.take(commands))
          inflight = cmd
          yield* handle(cmd, restore)
          inflight = undefined
        }
      }).pipe(
        Effect.catchCause((cause) => {
          const e = cause.reasons.find((r) => r._tag === "Fail")
          return e !== undefined && e.error instanceof Escalate ? escalate(e.error) : Effect.failCause(cause)
        })
      )
    )

    const loopFiber = yield* Effect.forkDetach(loop, { uninterruptible: false })
    // A defect in the loop itself (a bug, or one thrown by an onStopped/onExited hook) must not go unnoticed.
    loopFiber.addObserver((exit) => {
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        Deferred.doneUnsafe(started, Exit.failCause(exit.cause as unknown as Cause.Cause<SupervisorEscalation>))
        Deferred.doneUnsafe(done, Exit.failCause(exit.cause as unknown as Cause.Cause<SupervisorEscalation>))
      }
    })

    const rejectPending = Effect.gen(function*() {
      const pending = yield* Queue.clear(commands)
      if (inflight !== undefined) pending.unshift(inflight)
      for (const cmd of pending) {
        if (cmd._tag !== "Exited") yield* Deferred.fail(cmd.reply, new SupervisorNotRunning({ supervisor: name }))
      }
    })

    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        yield* Fiber.interrupt(loopFiber)
        if (status === "running") {
          status = "stopped"
          yield* stopAllReverse(true)
          publish({ _tag: "SupervisorStopped", supervisor: name })
        }
        yield* rejectPending
        yield* Queue.shutdown(commands)
        yield* Deferred.succeed(done, undefined)
        yield* Deferred.interrupt(started)
        yield* PubSub.shutdown(events)
      })
    )

    yield* Deferred.await(started)

    const send = <E>(make: (reply: Reply<any>) => Command): Effect.Effect<void, E | SupervisorNotRunning> =>
      Effect.suspend(() => {
        if (status !== "running") return Effect.fail(new SupervisorNotRunning({ supervisor: name }))
        const reply = Deferred.makeUnsafe<void, E | SupervisorNotRunning>()
        if (!Queue.offerUnsafe(commands, make(reply))) return Effect.fail(new SupervisorNotRunning({ supervisor: name }))
        return Deferred.await(reply)
      })

    return {
      name,
      commands,
      events,
      done,
      snapshotUnsafe,
      isRunning: () => status === "running",
      makeStart: (spec, ctx) => send((reply) => ({ _tag: "Start", spec, context: ctx, reply })),
      makeCommand: (tag, id) => send((reply) => ({ _tag: tag, id, reply } as Command))
    } satisfies Handle
  })
