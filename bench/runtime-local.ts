/**
 * @dspex/runtime local figures, one JSON line each:
 * - ask round trip vs a bare Queue offer/take pair with a reply Deferred (same run, interleaved rounds; p50 ratio);
 * - one actor's mailbox throughput (tell);
 * - restart latency: crash → restarted child running (a plain child and an actor), p50/p99 in µs.
 *
 * Run: node_modules/.bin/node bench/runtime-local.ts
 */
import { Deferred, Effect, Queue, Schema } from "effect"
import * as Actor from "../packages/runtime/src/Actor.ts"
import * as ChildSpec from "../packages/runtime/src/ChildSpec.ts"
import * as Protocol from "../packages/runtime/src/Protocol.ts"
import * as Supervisor from "../packages/runtime/src/Supervisor.ts"
import { percentile, report, round } from "./util.ts"

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
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(requests), (r) => Deferred.succeed(r.reply, store.get(r.key) ?? 0))))
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
    note: `p50 over ${ROUNDS} interleaved batches of ${BATCH} sequential round trips; ask includes Schema validation and a 5 s timeout timer`
  })
})

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

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  yield* askVsQueue
  yield* throughput
  yield* restartLatency
})))
