/**
 * One NATS client connection per node, as a service. It reconnects forever with a short wait, so NATS
 * going away and coming back heals by itself; while it is away `isConnected()` is false so callers can
 * fail fast instead of waiting out a request timeout. An unreachable server at start is a typed
 * `NatsUnavailable` (bounded by `connectTimeout`), never a hang. The connection drains when its scope
 * closes.
 */
import { connect, type NatsConnection as NatsClient } from "@nats-io/transport-node"
import { Config, Context, Duration, Effect, Layer, type Scope } from "effect"
import { NatsUnavailable } from "./Errors.ts"

export interface NatsConnectionOptions {
  /** Server URL(s); default `DSPEX_NATS_URL`, else nats://127.0.0.1:4222 (comma-separated for several). */
  readonly servers?: string | ReadonlyArray<string>
  /** Client name shown by the server's monitoring; default `dspex-<pid>`. */
  readonly name?: string
  /** Bound on the first connection (default 2 s). */
  readonly connectTimeout?: Duration.Input
  /** Wait between reconnect attempts (default 250 ms, plus up to 50 ms jitter). */
  readonly reconnectWait?: Duration.Input
  /** Client ping interval used to notice a silently dead server (default 5 s; 2 missed pings → reconnect). */
  readonly pingInterval?: Duration.Input
}

export type ConnectionState = "connected" | "reconnecting" | "closed"

export interface NatsConnectionShape {
  /** The underlying @nats-io client (publish, subscribe, request). */
  readonly client: NatsClient
  /** The configured server URL(s), joined with ",". */
  readonly url: string
  /** The current state, updated from the client's status events. */
  readonly state: () => ConnectionState
  readonly isConnected: () => boolean
  /** Succeeds at once when connected, else fails with `NatsUnavailable` (no waiting). */
  readonly ensureConnected: Effect.Effect<void, NatsUnavailable>
  /** Calls `f` each time the connection comes back after a loss; returns a function that removes it. */
  readonly onReconnect: (f: () => void) => () => void
  /** Calls `f` each time the connection is lost (or closes); returns a function that removes it. */
  readonly onDisconnect: (f: () => void) => () => void
  /** The error requests fail with while the connection is lost. */
  readonly unavailable: () => NatsUnavailable
}

export class NatsConnection
  extends Context.Service<NatsConnection, NatsConnectionShape>()("@dspex/runtime-nats/NatsConnection")
{}

const describeError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = e.cause instanceof Error ? e.cause.message : undefined
  return cause === undefined || e.message.includes(cause) ? e.message : `${e.message} (${cause})`
}

const serversOf = (options: NatsConnectionOptions): Effect.Effect<ReadonlyArray<string>, Config.ConfigError> =>
  options.servers !== undefined
    ? Effect.succeed(typeof options.servers === "string" ? options.servers.split(",") : options.servers)
    : Effect.map(Config.String("DSPEX_NATS_URL").pipe(Config.withDefault("nats://127.0.0.1:4222")), (s) => s.split(","))

/**
 * Connects to NATS for the lifetime of the current scope.
 *
 * @example
 * ```ts
 * import { NatsConnection } from "@dspex/runtime-nats"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   // fails with NatsUnavailable when no server answers within connectTimeout (default 2 s)
 *   const nats = yield* NatsConnection.make({ servers: "nats://127.0.0.1:4222" })
 *   nats.client.publish("greetings", "hello")
 * })) // the connection drains when the scope closes
 * ```
 */
export const make = Effect.fn("NatsConnection.make")(function*(options: NatsConnectionOptions = {}) {
  const servers = (yield* serversOf(options)).map((s) => s.trim()).filter((s) => s !== "")
  const url = servers.join(",")
  const connectTimeoutMs = Duration.toMillis(options.connectTimeout ?? "2 seconds")
  const client = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        connect({
          servers: [...servers],
          name: options.name ?? `dspex-${process.pid}`,
          timeout: connectTimeoutMs,
          maxReconnectAttempts: -1,
          reconnectTimeWait: Duration.toMillis(options.reconnectWait ?? "250 millis"),
          reconnectJitter: 50,
          pingInterval: Duration.toMillis(options.pingInterval ?? "5 seconds"),
          maxPingOut: 2,
          waitOnFirstConnect: false,
          // the client would capture a stack trace per request for its own errors; ours are typed and
          // carry the actor and subject instead
          noAsyncTraces: true
        }),
      catch: (e) => new NatsUnavailable({ url, detail: describeError(e) })
    }).pipe(
      // the client's own timeout covers the handshake; this also covers a stuck DNS lookup or socket
      Effect.timeoutOrElse({
        duration: Duration.millis(connectTimeoutMs + 500),
        orElse: () => Effect.fail(new NatsUnavailable({ url, detail: `no connection within ${connectTimeoutMs} ms` }))
      })
    ),
    (client) =>
      Effect.promise(() => client.drain().catch(() => undefined)).pipe(
        Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.void }),
        Effect.andThen(Effect.promise(() => client.close().catch(() => undefined)))
      )
  )

  let state: ConnectionState = "connected"
  const reconnectListeners = new Set<() => void>()
  const disconnectListeners = new Set<() => void>()
  const lost = (next: ConnectionState) => {
    const was = state
    state = next
    if (was === "connected") { for (const f of disconnectListeners) f() }
  }
  // status() is an async iterator that ends when the client closes; it must run detached from any fiber
  void (async () => {
    for await (const s of client.status()) {
      switch (s.type) {
        case "disconnect":
        case "reconnecting":
        case "staleConnection":
          lost("reconnecting")
          break
        case "reconnect":
          state = "connected"
          for (const f of reconnectListeners) f()
          break
        case "close":
          lost("closed")
          break
      }
    }
  })().catch(() => undefined)
  void client.closed().then(() => lost("closed"))

  const unavailable = () =>
    new NatsUnavailable({
      url,
      detail: state === "closed" ? "the connection is closed" : "connection lost; reconnecting"
    })

  return {
    client,
    url,
    state: () => state,
    isConnected: () => state === "connected",
    ensureConnected: Effect.suspend(() => (state === "connected" ? Effect.void : Effect.fail(unavailable()))),
    onReconnect: (f) => {
      reconnectListeners.add(f)
      return () => reconnectListeners.delete(f)
    },
    onDisconnect: (f) => {
      disconnectListeners.add(f)
      return () => disconnectListeners.delete(f)
    },
    unavailable
  } satisfies NatsConnectionShape
})

/**
 * The NatsConnection layer; connects when built, drains when released.
 *
 * @example
 * ```ts
 * import { NatsConnection, Node } from "@dspex/runtime-nats"
 * import { Effect, Layer } from "effect"
 *
 * const NatsLive = NatsConnection.layer({ servers: "nats://127.0.0.1:4222", name: "worker-1" })
 * const program = Node.members() // needs a Node, which needs a NatsConnection
 * const runnable = program.pipe(Effect.provide(Node.layer({ name: "worker-1" }).pipe(Layer.provideMerge(NatsLive))))
 * ```
 */
export const layer = (
  options?: NatsConnectionOptions
): Layer.Layer<NatsConnection, NatsUnavailable | Config.ConfigError> => Layer.effect(NatsConnection, make(options))
