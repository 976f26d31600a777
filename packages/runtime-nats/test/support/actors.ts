/** The actors the node scripts serve: a counter (with a typed error, a slow tag and a crash) and an echo. */
import { Actor } from "@dspex/runtime"
import { Effect } from "effect"
import { Counter, Echo, Overdrawn } from "./protocol.ts"

/** A counter that reports which process and incarnation answers (`startedAt` changes on each restart). */
export const counterActor = (node: string) =>
  Actor.make({
    name: "counter",
    protocol: Counter,
    initialState: { count: 0, startedAt: 0 },
    init: Effect.sync(() => ({ count: 0, startedAt: Date.now() + Math.random() })),
    handlers: {
      Add: ({ n }, s) => Effect.succeed([undefined, { ...s, count: s.count + n }] as const),
      Get: (_, s) => Effect.succeed([s.count, s] as const),
      Take: ({ n }, s) =>
        n > s.count
          ? Effect.fail(new Overdrawn({ balance: s.count, requested: n }))
          : Effect.succeed([s.count - n, { ...s, count: s.count - n }] as const),
      Sleep: ({ ms }, s) => Effect.as(Effect.sleep(ms), [`slept ${ms} ms`, s] as const),
      Whoami: (_, s) => Effect.succeed([{ pid: process.pid, node, startedAt: s.startedAt }, s] as const),
      Crash: () => Effect.die(new Error("crash requested"))
    }
  })

export const echoActor = Actor.make({
  name: "echo",
  protocol: Echo,
  initialState: undefined,
  handlers: { Echo: ({ text }, s) => Effect.succeed([text, s] as const) }
})
