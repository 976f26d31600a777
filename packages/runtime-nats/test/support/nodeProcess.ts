/** Spawns test/support/node.ts as a child process and waits for its ready line. */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

export interface NodeProcessOptions {
  readonly nats: string
  readonly name: string
  /** Cluster name to serve the counter under. */
  readonly counter?: string
  /** Cluster name to serve the echo actor under. */
  readonly echo?: string
  /** Subject of a plain NATS echo responder (benchmark baseline). */
  readonly raw?: string
  readonly heartbeatMs?: number
  readonly livenessMs?: number
  readonly readyTimeoutMs?: number
}

export interface NodeProcess {
  readonly pid: number
  /** The node id it announced. */
  readonly nodeId: string
  readonly name: string
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>
  readonly kill: (signal?: NodeJS.Signals) => Promise<number | string>
}

const script = fileURLToPath(new URL("./node.ts", import.meta.url))

/**
 * @example
 * const a = await spawnNode({ nats: server.url, name: "worker-a", counter: "counter" })
 * await a.kill("SIGKILL")
 */
export const spawnNode = (options: NodeProcessOptions): Promise<NodeProcess> => {
  const args = ["--conditions=@dspex/source", script, "--nats", options.nats, "--name", options.name]
  if (options.counter !== undefined) args.push("--counter", options.counter)
  if (options.echo !== undefined) args.push("--echo", options.echo)
  if (options.raw !== undefined) args.push("--raw", options.raw)
  args.push("--heartbeat", String(options.heartbeatMs ?? 200), "--liveness", String(options.livenessMs ?? 1000))
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
  const reap = () => child.kill("SIGKILL")
  process.once("exit", reap)
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000)
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      process.off("exit", reap)
      resolve(code ?? signal ?? "unknown")
    })
  )
  const timeoutMs = options.readyTimeoutMs ?? 15_000
  return new Promise<NodeProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`node ${options.name} did not get ready within ${timeoutMs} ms:\n${stderr}`))
    }, timeoutMs)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`node ${options.name} exited (${code}) before it was ready:\n${stderr}`))
    })
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer)
      try {
        const ready = JSON.parse(line) as { node: string; pid: number }
        resolve({
          pid: ready.pid,
          nodeId: ready.node,
          name: options.name,
          exited,
          kill: (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            return exited
          }
        })
      } catch (e) {
        reject(new Error(`unexpected output from node ${options.name}: ${line} (${String(e)})`))
      }
    })
  })
}
