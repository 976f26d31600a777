#!/usr/bin/env node
/**
 * Runs the simulator as its own process (for benchmarks and manual testing), printing one JSON line with
 * its URLs so scripts can parse where it listens.
 *
 *   node packages/simulator/src/bin.ts --port 8787 --latency-ms 50 --jitter-ms 10 --rate-429 0.05 --seed 1
 */
import { parseArgs } from "node:util"
import type { FaultRates } from "./Faults.ts"
import { start, type SimulatorOptions } from "./Simulator.ts"

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    port: { type: "string" },
    "latency-ms": { type: "string" },
    "jitter-ms": { type: "string" },
    "rate-429": { type: "string" },
    "rate-500": { type: "string" },
    "rate-overloaded": { type: "string" },
    "rate-hang": { type: "string" },
    "rate-malformed": { type: "string" },
    "rate-truncated": { type: "string" },
    "rate-empty": { type: "string" },
    "retry-after": { type: "string" },
    seed: { type: "string" },
    "api-key": { type: "string", multiple: true },
    "context-window": { type: "string" },
    help: { type: "boolean", short: "h" }
  }
})

if (values.help) {
  process.stdout.write(
    "Usage: dspex-simulator [--host 127.0.0.1] [--port 0] [--latency-ms N] [--jitter-ms N] [--rate-429 R] [--rate-500 R]\n" +
      "  [--rate-overloaded R] [--rate-hang R] [--rate-malformed R] [--rate-truncated R] [--rate-empty R]\n" +
      "  [--retry-after SECONDS] [--seed N] [--api-key KEY ...] [--context-window TOKENS]\n"
  )
  process.exit(0)
}

const num = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n)) {
    process.stderr.write(`--${name} must be a number, got ${JSON.stringify(raw)}\n`)
    process.exit(2)
  }
  return n
}

const faults: Record<string, number> = {}
const rate = (flag: string, key: keyof FaultRates) => {
  const v = num(flag, values[flag as keyof typeof values] as string | undefined)
  if (v !== undefined) faults[key] = v
}
rate("rate-429", "rateLimit429")
rate("rate-500", "server500")
rate("rate-overloaded", "overloaded")
rate("rate-hang", "hang")
rate("rate-malformed", "malformed")
rate("rate-truncated", "truncated")
rate("rate-empty", "empty")
rate("retry-after", "retryAfterSeconds")

const port = num("port", values.port)
const seed = num("seed", values.seed)
const contextWindow = num("context-window", values["context-window"])
const options: SimulatorOptions = {
  ...(values.host !== undefined ? { host: values.host } : {}),
  ...(port !== undefined ? { port } : {}),
  latency: { fixedMs: num("latency-ms", values["latency-ms"]) ?? 0, jitterMs: num("jitter-ms", values["jitter-ms"]) ?? 0 },
  faults: faults as FaultRates,
  ...(seed !== undefined ? { seed } : {}),
  ...(values["api-key"] !== undefined ? { apiKeys: values["api-key"] } : {}),
  ...(contextWindow !== undefined ? { contextWindowTokens: contextWindow } : {})
}

const sim = await start(options)
process.stdout.write(`${JSON.stringify({ url: sim.url, openaiBaseUrl: sim.openaiBaseUrl, anthropicBaseUrl: sim.anthropicBaseUrl, port: sim.port })}\n`)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1)
  )
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
