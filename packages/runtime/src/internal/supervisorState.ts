/**
 * What one supervisor owns — its children, their incarnations, its counters and its event buffer — and the
 * read-only views of it (snapshot). internal/supervisor.ts runs the loop that changes it.
 */
import { Deferred, Effect, Exit, Metric, PubSub } from "effect"
import type { Cause, Clock, Context, Fiber, Queue, Scope } from "effect"
import type {
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  DuplicateChild,
  SupervisorEscalation,
  SupervisorNotRunning
} from "../ActorError.ts"
import { type ExitReason, ExitReasons } from "../ActorError.ts"
import type { ChildSpec } from "../ChildSpec.ts"
import type { Strategy } from "../Supervisor.ts"
import type { ChildStatus, LingeringIncarnation, SupervisorEvent, SupervisorSnapshot } from "../SupervisorEvent.ts"
import type { Backoff } from "./intensity.ts"
import { IntensityWindow } from "./intensity.ts"
import type { ChildSlot } from "./slot.ts"

export interface Config {
  readonly name: string
  readonly strategy: Strategy
  readonly maxRestarts: number
  readonly withinMs: number
  readonly backoff: Backoff
  readonly eventBuffer: number
}

export interface Incarnation {
  readonly n: number
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly scope: Scope.Closeable
  readonly ready: Deferred.Deferred<void, unknown>
}

export interface Lingering extends LingeringIncarnation {
  readonly released: Deferred.Deferred<void>
}

export interface Child {
  readonly spec: ChildSpec<unknown>
  readonly context: Context.Context<unknown>
  status: ChildStatus
  restarts: number
  lastExit: ExitReason | undefined
  lastCause: Cause.Cause<unknown> | undefined
  inc: Incarnation | undefined
  slot: ChildSlot | undefined
  lingering: Array<Lingering>
}

export type Reply<E> = Deferred.Deferred<void, E>

export type Command =
  | {
    readonly _tag: "Exited"
    readonly child: Child
    readonly inc: Incarnation
    readonly exit: Exit.Exit<unknown, unknown>
  }
  | {
    readonly _tag: "Released"
    readonly child: Child
    readonly incarnation: number
    readonly afterMs: number
    readonly exit: Exit.Exit<unknown, unknown>
  }
  | {
    readonly _tag: "Start"
    readonly spec: ChildSpec<unknown>
    readonly context: Context.Context<unknown>
    readonly reply: Reply<DuplicateChild | ChildStartFailed | SupervisorNotRunning>
  }
  | { readonly _tag: "Terminate"; readonly id: string; readonly reply: Reply<ChildNotFound | SupervisorNotRunning> }
  | {
    readonly _tag: "Delete"
    readonly id: string
    readonly reply: Reply<ChildNotFound | ChildRunning | SupervisorNotRunning>
  }
  | {
    readonly _tag: "Restart"
    readonly id: string
    readonly reply: Reply<ChildNotFound | ChildRunning | ChildStartFailed | SupervisorNotRunning>
  }

export const restartsCounter = Metric.counter("dspex_supervisor_restarts_total", {
  description: "Restarts a supervisor decided (a group restart counts once, as intensity counts it)",
  incremental: true
})
export const escalationsCounter = Metric.counter("dspex_supervisor_escalations_total", {
  description: "Supervisors that exceeded their restart intensity",
  incremental: true
})
export const shutdownTimeoutsCounter = Metric.counter("dspex_supervisor_shutdown_timeouts_total", {
  description: "Child incarnations that did not stop within their shutdown (the supervisor went on without them)",
  incremental: true
})

let incarnations = 0

/** Incarnation numbers are unique in the process (they name an incarnation in events). */
export const nextIncarnation = (): number => ++incarnations

/** Everything one supervisor owns. Mutated only by its loop fiber (and by the observers of lingering stops). */
export class SupervisorState {
  readonly config: Config
  readonly context: Context.Context<unknown>
  readonly clock: Clock.Clock
  readonly commands: Queue.Queue<Command>
  readonly events: PubSub.PubSub<SupervisorEvent>
  readonly done: Deferred.Deferred<void, SupervisorEscalation>
  readonly started: Deferred.Deferred<void, ChildStartFailed>
  readonly intensity: IntensityWindow
  readonly restartsMetric: Metric.Metric<number, unknown>
  readonly shutdownTimeoutsMetric: Metric.Metric<number, unknown>
  readonly children: Array<Child> = []
  status: SupervisorSnapshot["status"] = "running"
  restarts = 0
  shutdownTimeouts = 0
  eventsDropped = 0
  inflight: Command | undefined = undefined

  constructor(
    config: Config,
    context: Context.Context<unknown>,
    clock: Clock.Clock,
    commands: Queue.Queue<Command>,
    events: PubSub.PubSub<SupervisorEvent>
  ) {
    this.config = config
    this.context = context
    this.clock = clock
    this.commands = commands
    this.events = events
    this.done = Deferred.makeUnsafe()
    this.started = Deferred.makeUnsafe()
    this.intensity = new IntensityWindow(config.maxRestarts, config.withinMs)
    this.restartsMetric = Metric.withAttributes(restartsCounter, { supervisor: config.name })
    this.shutdownTimeoutsMetric = Metric.withAttributes(shutdownTimeoutsCounter, { supervisor: config.name })
  }

  get name(): string {
    return this.config.name
  }

  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  find(id: string): Child | undefined {
    return this.children.find((c) => c.spec.id === id)
  }

  remove(child: Child): void {
    const i = this.children.indexOf(child)
    if (i >= 0) this.children.splice(i, 1)
  }
}

/**
 * Publishes an event now (the returned effect only finishes a slide). The buffer slides: a subscriber that stops
 * reading loses its oldest events (counted in `eventsDropped`); it never makes the supervisor's memory grow
 * without bound.
 */
export const publish = (s: SupervisorState, event: SupervisorEvent): Effect.Effect<void> => {
  if (PubSub.publishUnsafe(s.events, event) || PubSub.isShutdownUnsafe(s.events)) return Effect.void
  // Full: the slowest subscriber is `eventBuffer` behind; publishing slides its oldest event out.
  s.eventsDropped++
  return Effect.asVoid(PubSub.publish(s.events, event))
}

export const snapshotOf = (s: SupervisorState): SupervisorSnapshot => ({
  name: s.name,
  strategy: s.config.strategy,
  status: s.status,
  restarts: s.restarts,
  shutdownTimeouts: s.shutdownTimeouts,
  eventsDropped: s.eventsDropped,
  children: s.children.map((c) => ({
    id: c.spec.id,
    status: c.status,
    restart: c.spec.restart,
    restarts: c.restarts,
    lastExit: c.lastExit,
    lastCause: c.lastCause,
    lingering: c.lingering.map(({ incarnation, since }) => ({ incarnation, since })),
    supervisor: c.inc === undefined ? undefined : c.slot?.nested?.snapshotUnsafe(),
    actor: c.spec.stats?.()
  }))
})

export const newChild = (spec: ChildSpec<unknown>, context: Context.Context<unknown>): Child => ({
  spec,
  context,
  status: "starting",
  restarts: 0,
  lastExit: undefined,
  lastCause: undefined,
  inc: undefined,
  slot: undefined,
  lingering: []
})

export const exitReasonOf = (exit: Exit.Exit<unknown, unknown>): ExitReason =>
  Exit.isSuccess(exit) ? ExitReasons.normal : ExitReasons.fromCause(exit.cause)
