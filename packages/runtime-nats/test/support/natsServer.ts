/**
 * A private nats-server for tests and benchmarks: Debian's binary as a child process on a free loopback
 * port, never the NATS a machine may already run on 4222. Fault tests stop it and start it again on the
 * same port, so clients see NATS go away and come back.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs"
import { createConnection, createServer } from "node:net"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"

export interface NatsServerOptions {
  /** Turn JetStream on (stored in a temporary directory removed on `close`). */
  readonly jetstream?: boolean
  /** A fixed port; by default a free one is picked. */
  readonly port?: number
  /** How long to wait for the server to accept connections (default 10 s). */
  readonly readyTimeoutMs?: number
}

export interface NatsServer {
  readonly url: string
  readonly port: number
  /** True while the child process runs. */
  readonly running: () => boolean
  /** SIGTERM and wait for the process to exit (NATS goes away; clients start reconnecting). */
  readonly stop: () => Promise<void>
  /** SIGKILL and wait for the process to exit. */
  readonly kill: () => Promise<void>
  /** Start again on the same port and wait until it accepts connections. */
  readonly start: () => Promise<void>
  /** Stop, then start. */
  readonly restart: () => Promise<void>
  /** Stop for good and remove the JetStream directory. */
  readonly close: () => Promise<void>
}

const candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]

/** The nats-server binary, or an error saying how to install it. */
export const natsServerBinary = (): string => {
  const fromPath = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "").map((d) => join(d, "nats-server"))
  for (const file of [...candidates, ...fromPath]) {
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here; try the next place
    }
  }
  throw new Error(
    "nats-server is not installed (looked in /usr/sbin, /usr/bin, /usr/local/bin and PATH): install it with `apt-get install -y nats-server` (the runtime-nats tests and benchmark start their own server on a free port)"
  )
}

/** A TCP port nobody listens on right now (on 127.0.0.1). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Resolves when something on `port` speaks the NATS protocol (sends its INFO line). */
const probe = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("error", () => done(false))
    socket.once("data", (chunk) => done(chunk.toString("latin1").startsWith("INFO")))
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Starts nats-server on 127.0.0.1 and waits until it accepts connections.
 *
 * @example
 * const nats = await startNatsServer()
 * // ... connect clients to nats.url ...
 * await nats.stop(); await nats.start() // NATS goes away and comes back on the same port
 * await nats.close()
 */
export const startNatsServer = async (options: NatsServerOptions = {}): Promise<NatsServer> => {
  const binary = natsServerBinary()
  const port = options.port ?? (await freePort())
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000
  const storeDir = options.jetstream === true ? mkdtempSync(join(tmpdir(), "dspex-nats-")) : undefined
  const args = ["-a", "127.0.0.1", "-p", String(port), ...(storeDir === undefined ? [] : ["-js", "-sd", storeDir])]
  let child: ChildProcess | undefined
  let stderr = ""

  const launch = async (): Promise<void> => {
    stderr = ""
    const proc = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] })
    child = proc
    // never leave a server behind when the test process ends without closing it
    const reap = () => proc.kill("SIGKILL")
    process.once("exit", reap)
    proc.once("exit", () => process.off("exit", reap))
    proc.stderr!.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000)
    })
    let exited: number | null | undefined
    proc.once("exit", (code) => {
      exited = code
      if (child === proc) child = undefined
    })
    const deadline = Date.now() + readyTimeoutMs
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        throw new Error(`nats-server exited with code ${exited} while starting on port ${port}:\n${stderr}`)
      }
      if (await probe(port)) return
      await sleep(25)
    }
    proc.kill("SIGKILL")
    throw new Error(`nats-server did not accept connections on port ${port} within ${readyTimeoutMs} ms:\n${stderr}`)
  }

  const signal = (sig: NodeJS.Signals): Promise<void> => {
    const proc = child
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const force = setTimeout(() => proc.kill("SIGKILL"), 5_000)
      proc.once("exit", () => {
        clearTimeout(force)
        resolve()
      })
      proc.kill(sig)
    })
  }

  await launch()
  const stop = () => signal("SIGTERM")
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    running: () => child !== undefined,
    stop,
    kill: () => signal("SIGKILL"),
    start: () => (child === undefined ? launch() : Promise.resolve()),
    restart: async () => {
      await stop()
      await launch()
    },
    close: async () => {
      await stop()
      if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true })
    }
  }
}
