/**
 * @dspex/runtime local figures, one JSON line each:
 * - ask round trip vs a bare Queue offer/take pair with a reply Deferred (same run, interleaved rounds; p50 ratio);
 * - one actor's mailbox throughput (tell);
 * - restart latency: crash → restarted child running (a plain child and an actor), p50/p99 in µs;
 * - the same crash → restart with 1,000 idle siblings under the supervisor, against none (same run);
 * - 1,000,000 tells across 10,000 supervised actors (messages/s against one actor's mailbox throughput), and
 *   the process's RSS before the actors start, at their peak and after their supervisor stopped.
 *
 * Run: node_modules/.bin/node bench/runtime-local.ts
 */
import { Deferred, Effect, Exit, Queue, Schema, Scope } from "effect"
import * as Actor from "../packages/runtime/src/Actor.ts"
import * as ChildSpec from "../packages/runtime/src/ChildSpec.ts"
import * as Protocol from "../packages/runtime/src/Protocol.ts"
import * as Supervisor from "../packages/runtime/src/Supervisor.ts"
import { percentile, report, round } from "./util.ts"

const gc = (globalThis as { gc?: () => void }).gc
/** RSS and used heap in MB, after a full collection. */
const memoryMb = () => {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 }
}

const BENCH = "runtime-local"
const BATCH = 200
const ROUNDS = 60
const now = () => performance.now()

const Kv = Protocol.make({
  Get: { payload: Schema.Struct({ key: Schema.String }), success: Schema.Number },
  Put: { payload: Schema.Struct({ key: Schema.String, value: Schema.Number }) },
  Crash: {}
})

const kv = Actor.make({
  protocol: Kv,
  initialState: new Map<string, number>(),
  mailbox: { capacity: 1024, overflow: "backpressure" },
  handlers: {
    Get: ({ key }, s) => Effect.succeed([s.get(key) ?? 0, s] as const),
    Put: ({ key, value }, s) => Effect.succeed([undefined, s.set(key, value)] as const),
    Crash: () => Effect.die("crash")
  }
})

/** Per-op µs of one batch of `BATCH` sequential round trips. */
const timeBatch = <E>(op: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const t0 = now()
    for (let i = 0; i < BATCH; i++) yield* op
    return ((now() - t0) * 1000) / BATCH
  })

const askVsQueue = Effect.gen(function*() {
  const ref = yield* Actor.start(kv)
  yield* ref.tell({ _tag: "Put", key: "a", value: 1 })
  const ask = ref.ask({ _tag: "Get", key: "a" })

  // Baseline: a server fiber taking requests from a bounded Queue and completing each request's Deferred.
  const requests = yield* Queue.bounded<{ readonly key: string; readonly reply: Deferred.Deferred<number> }>(1024)
  const store = new Map([["a", 1]])
  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(Queue.take(requests), (r) => Deferred.succeed(r.reply, store.get(r.key) ?? 0)))
  )
  const bare = Effect.gen(function*() {
    const reply = yield* Deferred.make<number>()
    yield* Queue.offer(requests, { key: "a", reply })
    return yield* Deferred.await(reply)
  })

  for (let i = 0; i < 10; i++) {
    yield* timeBatch(ask)
    yield* timeBatch(bare)
  }
  const askUs: Array<number> = []
  const bareUs: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    askUs.push(yield* timeBatch(ask))
    bareUs.push(yield* timeBatch(bare))
  }
  askUs.sort((a, b) => a - b)
  bareUs.sort((a, b) => a - b)
  const askP50 = percentile(askUs, 50)
  const bareP50 = percentile(bareUs, 50)
  const ratio = askP50 / bareP50
  report({
    bench: BENCH,
    figure: "ask_round_trip_p50",
    value: round(askP50),
    unit: "us",
    baseline: { name: "Queue.offer/take + Deferred", value: round(bareP50) },
    ratio: round(ratio),
    target: "<= 3x",
    pass: ratio <= 3,
    p99: round(percentile(askUs, 99)),
    note:
      `p50 over ${ROUNDS} interleaved batches of ${BATCH} sequential round trips; ask includes Schema validation and a 5 s timeout timer`
  })
})

let singleActorTellsPerSecond = Number.NaN

const throughput = Effect.gen(function*() {
  const ref = yield* Actor.start(kv)
  const N = 200_000
  const msg = { _tag: "Put", key: "k", value: 1 } as const
  for (let i = 0; i < 20_000; i++) yield* ref.tell(msg)
  yield* ref.ask({ _tag: "Get", key: "k" })
  const t0 = now()
  for (let i = 0; i < N; i++) yield* ref.tell(msg)
  yield* ref.ask({ _tag: "Get", key: "k" }, { timeout: "1 minute" })
  const seconds = (now() - t0) / 1000
  singleActorTellsPerSecond = N / seconds
  report({
    bench: BENCH,
    figure: "mailbox_throughput_tell",
    value: Math.round(N / seconds),
    unit: "msg/s",
    note: `${N} tells from one sender into a 1024-slot backpressure mailbox, until the last is handled`
  })
})

const restartLatency = Effect.gen(function*() {
  const N = 2_000
  let started: Deferred.Deferred<number> = Deferred.makeUnsafe()
  let crash: Deferred.Deferred<void, string> = Deferred.makeUnsafe()
  const child = ChildSpec.withInit(
    "worker",
    Effect.sync(() => {
      crash = Deferred.makeUnsafe()
      return crash
    }),
    (c) => Effect.andThen(Effect.sync(() => Deferred.doneUnsafe(started, Effect.succeed(now()))), Deferred.await(c))
  )
  yield* Supervisor.make({ maxRestarts: N * 10, within: "1 minute", children: [child] })
  const us: Array<number> = []
  for (let i = 0; i < N + 200; i++) {
    started = Deferred.makeUnsafe()
    const t0 = now()
    yield* Deferred.fail(crash, "crash")
    const t1 = yield* Deferred.await(started)
    if (i >= 200) us.push((t1 - t0) * 1000)
  }
  us.sort((a, b) => a - b)
  report({
    bench: BENCH,
    figure: "restart_latency_child_p50",
    value: round(percentile(us, 50)),
    unit: "us",
    p99: round(percentile(us, 99)),
    note: `crash (child's process fails) → restarted child's process running; oneForOne, ${N} restarts`
  })

  const spec = Actor.spec(kv, { id: "kv" })
  yield* Supervisor.make({ maxRestarts: N * 10, within: "1 minute", children: [spec] })
  const actorUs: Array<number> = []
  for (let i = 0; i < N + 200; i++) {
    const t0 = now()
    yield* Effect.ignore(spec.ref.ask({ _tag: "Crash" }))
    yield* spec.ref.ask({ _tag: "Get", key: "a" })
    if (i >= 200) actorUs.push((now() - t0) * 1000)
  }
  actorUs.sort((a, b) => a - b)
  report({
    bench: BENCH,
    figure: "restart_latency_actor_p50",
    value: round(percentile(actorUs, 50)),
    unit: "us",
    p99: round(percentile(actorUs, 99)),
    note: "ask Crash (handler dies) → ActorGone → ask Get answered by the next incarnation; includes both asks"
  })
})

/** Crash → restarted child's process running, p50/p99 µs, in a oneForOne supervisor with `siblings` idle children. */
const restartWithSiblings = (siblings: number, restarts: number) =>
  Effect.scoped(Effect.gen(function*() {
    let started: Deferred.Deferred<number> = Deferred.makeUnsafe()
    let crash: Deferred.Deferred<void, string> = Deferred.makeUnsafe()
    const worker = ChildSpec.withInit(
      "worker",
      Effect.sync(() => {
        crash = Deferred.makeUnsafe()
        return crash
      }),
      (c) => Effect.andThen(Effect.sync(() => Deferred.doneUnsafe(started, Effect.succeed(now()))), Deferred.await(c))
    )
    const idle = Array.from({ length: siblings }, (_, i) => ChildSpec.make(`sibling-${i}`, Effect.never))
    yield* Supervisor.make({
      name: "bench-siblings",
      maxRestarts: restarts * 10,
      within: "1 minute",
      children: [...idle, worker]
    })
    const us: Array<number> = []
    for (let i = 0; i < restarts + 200; i++) {
      started = Deferred.makeUnsafe()
      const t0 = now()
      yield* Deferred.fail(crash, "crash")
      const t1 = yield* Deferred.await(started)
      if (i >= 200) us.push((t1 - t0) * 1000)
    }
    return us.sort((a, b) => a - b)
  }))

const restartAmongSiblings = Effect.gen(function*() {
  const N = 2_000
  // interleave the two sides in chunks so machine noise hits both alike
  const alone: Array<number> = []
  const crowded: Array<number> = []
  for (let round = 0; round < 4; round++) {
    alone.push(...(yield* restartWithSiblings(0, N / 4)))
    crowded.push(...(yield* restartWithSiblings(1_000, N / 4)))
  }
  alone.sort((a, b) => a - b)
  crowded.sort((a, b) => a - b)
  const p50 = percentile(crowded, 50)
  const base = percentile(alone, 50)
  report({
    bench: BENCH,
    figure: "restart_latency_1000_siblings_p50",
    value: round(p50),
    unit: "us",
    baseline: { name: "same crash → restart, no siblings", value: round(base) },
    ratio: round(p50 / base),
    p99: round(percentile(crowded, 99)),
    note: `oneForOne, 1,000 idle siblings + the crashing child; ${N} restarts per side in 4 interleaved chunks`
  })
})

const Sink = Protocol.make({
  Tell: { payload: Schema.Struct({ n: Schema.Number }) },
  Count: { success: Schema.Number }
})
const sink = Actor.make({
  protocol: Sink,
  initialState: 0,
  handlers: {
    Tell: (_, s) => Effect.succeed([undefined, s + 1] as const),
    Count: (_, s) => Effect.succeed([s, s] as const)
  }
})

const ACTORS = 10_000
const TELLS = 1_000_000

/** The floor: 10,000 plain fibers each taking from its own Queue, 1,000,000 offers round-robin (msg/s). */
const manyQueues = Effect.scoped(Effect.gen(function*() {
  const queues = yield* Effect.forEach(Array.from({ length: ACTORS }), () => Queue.bounded<number>(1024))
  let handled = 0
  const allDone = Deferred.makeUnsafe<void>()
  yield* Effect.forEach(
    queues,
    (q) =>
      Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(q), () =>
        Effect.sync(() => {
          if (++handled === TELLS) Deferred.doneUnsafe(allDone, Exit.void)
        })))),
    { discard: true }
  )
  const t0 = now()
  for (let i = 0; i < TELLS; i++) yield* Queue.offer(queues[i % ACTORS]!, 1)
  yield* Deferred.await(allDone)
  return TELLS / ((now() - t0) / 1000)
}))

const manyActors = Effect.gen(function*() {
  const before = memoryMb()
  const scope = yield* Scope.make()
  const specs = Array.from({ length: ACTORS }, (_, i) => Actor.spec(sink, { id: `sink-${i}` }))
  const tStart = now()
  yield* Supervisor.make({ name: "bench-many", children: specs }).pipe(Scope.provide(scope))
  const startMs = now() - tStart
  const refs = specs.map((s) => s.ref)
  const msg = { _tag: "Tell", n: 1 } as const
  const t0 = now()
  for (let i = 0; i < TELLS; i++) yield* refs[i % ACTORS]!.tell(msg)
  let total = 0
  for (const ref of refs) total += yield* ref.ask({ _tag: "Count" }, { timeout: "1 minute" })
  const seconds = (now() - t0) / 1000
  if (total !== TELLS) throw new Error(`expected ${TELLS} messages handled, got ${total}`)
  const peak = memoryMb()
  const tStop = now()
  yield* Scope.close(scope, Exit.void)
  const stopMs = now() - tStop
  // let interrupted fibers unwind and the heap settle before reading the RSS
  yield* Effect.sleep("200 millis")
  const after = memoryMb()
  const perSecond = TELLS / seconds
  const floor = yield* manyQueues
  report({
    bench: BENCH,
    figure: "tells_1M_across_10k_actors",
    value: Math.round(perSecond),
    unit: "msg/s",
    baseline: {
      name: "10,000 fibers on their own bounded Queue, 1M offers round-robin, same run",
      value: Math.round(floor)
    },
    ratio: round(perSecond / floor),
    single_actor_msg_s: Math.round(singleActorTellsPerSecond),
    note:
      `${TELLS} Schema-checked tells round-robin from one fiber to ${ACTORS} actors under one supervisor, until every actor answered a final ask; each tell wakes a different actor (one fiber switch per message, unlike one busy actor draining its mailbox); supervisor start ${
        Math.round(startMs)
      } ms, stop ${Math.round(stopMs)} ms`
  })
  report({
    bench: BENCH,
    figure: "rss_after_10k_actors_stop",
    value: round(after.rss, 1),
    unit: "MB",
    baseline: { name: "RSS before the actors started", value: round(before.rss, 1) },
    ratio: round(after.rss / before.rss),
    peak_rss_mb: round(peak.rss, 1),
    heap_used_mb: { before: round(before.heap, 1), peak: round(peak.heap, 1), after: round(after.heap, 1) },
    note:
      "after a full gc; peak while the 10,000 actors ran, after once their supervisor's scope closed (V8 keeps freed pages, so RSS stays near its peak while the used heap returns)"
  })
})

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  // the many-actors figure first after its baseline, so that the RSS it starts from is the process's own
  yield* throughput
  yield* manyActors
  yield* askVsQueue
  yield* restartLatency
  yield* restartAmongSiblings
})))
