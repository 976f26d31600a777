#!/usr/bin/env node
/**
 * Runs the simulator as its own process (for benchmarks and manual testing), printing one JSON line with
 * its URLs so scripts can parse where it listens.
 *
 *   node packages/simulator/src/bin.ts --port 8787 --latency-ms 50 --jitter-ms 10 --rate-429 0.05 --seed 1
 *
 * A usage error (unknown option, missing or bad value) is one line on stderr and exit code 2; a port it
 * cannot listen on (busy, not allowed) one line and exit code 1. `--help` lists every option with its
 * default, and the fault triggers.
 */
import { parseArgs } from "node:util"
import { FAULT_DESCRIPTIONS, FAULT_KINDS, faultAliases, type FaultRates } from "./Faults.ts"
import { type Simulator, type SimulatorOptions, start } from "./Simulator.ts"

const NAME = "dspex-simulator"

type Check = "port" | "ms" | "rate" | "seconds" | "integer" | "tokens" | "text"

interface Flag {
  readonly value: string
  readonly default: string
  readonly help: string
  readonly check: Check
  readonly multiple?: boolean
  /** The FaultRates key a `--rate-*` flag sets. */
  readonly rate?: keyof FaultRates
}

const rateFlag = (kind: string, rate: keyof FaultRates): Flag => ({
  value: "R",
  default: "0",
  help: `chance (0 to 1) that a completion request gets the ${kind} fault`,
  check: "rate",
  rate
})

/** Every option but --help, in the order --help lists them. */
const FLAGS: Readonly<Record<string, Flag>> = {
  host: { value: "HOST", default: "127.0.0.1", help: "address to listen on", check: "text" },
  port: {
    value: "PORT",
    default: "0",
    help: "port to listen on; 0 picks a free one (printed in the JSON line)",
    check: "port"
  },
  "latency-ms": { value: "MS", default: "0", help: "the server's whole time on each completion request", check: "ms" },
  "jitter-ms": { value: "MS", default: "0", help: "extra delay drawn uniformly from [0, MS] (seeded)", check: "ms" },
  "rate-429": rateFlag("429", "rateLimit429"),
  "rate-500": rateFlag("500", "server500"),
  "rate-overloaded": rateFlag("overloaded", "overloaded"),
  "rate-hang": rateFlag("hang", "hang"),
  "rate-malformed": rateFlag("malformed", "malformed"),
  "rate-truncated": rateFlag("truncated", "truncated"),
  "rate-empty": rateFlag("empty", "empty"),
  "retry-after": {
    value: "SECONDS",
    default: "1",
    help: "retry-after header of 429 replies (may be fractional)",
    check: "seconds",
    rate: "retryAfterSeconds"
  },
  seed: {
    value: "N",
    default: "1",
    help: "seeds fault rates and jitter: the same seed gives the same sequence",
    check: "integer"
  },
  "api-key": {
    value: "KEY",
    default: "any non-empty key not starting with sk-invalid",
    help: "accept only this key (repeat the option for several)",
    check: "text",
    multiple: true
  },
  "context-window": {
    value: "TOKENS",
    default: "128000",
    help: "prompts above this many tokens (chars / 4) get the context error",
    check: "tokens"
  }
}

const column = (left: string, width: number) => left.padEnd(width)

const helpText = (): string => {
  const opts = Object.entries(FLAGS).map(([name, f]) =>
    `  ${column(`--${name} ${f.value}`, 26)}${f.help} [default: ${f.default}]`
  )
  const kinds = FAULT_KINDS.map((kind) => {
    const aliases = faultAliases(kind)
    return `  ${column(kind, 12)}${FAULT_DESCRIPTIONS[kind]}${
      aliases.length > 0 ? ` (also: ${aliases.join(", ")})` : ""
    }`
  })
  return [
    `Usage: ${NAME} [options]`,
    "",
    "A simulated LM provider: OpenAI chat completions (POST /v1/chat/completions) and Anthropic messages",
    "(POST /v1/messages), JSON and SSE, with deterministic answers, latency and injected faults. Once it listens",
    "it prints one JSON line on stdout: {\"url\", \"openaiBaseUrl\", \"anthropicBaseUrl\", \"port\"}. SIGINT or",
    "SIGTERM stop it.",
    "",
    "Options:",
    ...opts,
    `  ${column("-h, --help", 26)}print this help and exit`,
    "",
    "Fault triggers (per request; they win over the --rate-* options):",
    `  ${column("x-sim-fault: KIND", 32)}request header: this request gets the fault KIND`,
    `  ${column("x-sim-fault-once: ID:KIND", 32)}request header: only the first request with this ID gets it`,
    `  ${column("MODEL:fault=KIND", 32)}model-name suffix, e.g. "gpt-4o-mini:fault=429" (answers as MODEL)`,
    `  ${column("x-sim-latency-ms: MS", 32)}request header: this request's latency instead of --latency-ms`,
    "An unknown KIND gets an HTTP 400 naming the kinds.",
    "",
    "Optimizable mode (answers that depend on the instruction and demos, for optimizer tests; see the README):",
    `  ${column("MODEL:optimizable", 32)}model-name suffix, e.g. "gpt-4o-mini:optimizable" (answers as MODEL)`,
    `  ${column("x-sim-optimizable: 1 | 0", 32)}request header: this request in the mode, or out of it`,
    "",
    "Fault kinds:",
    ...kinds,
    ""
  ].join("\n")
}

/** A usage error: one line on stderr, exit code 2. */
const usage = (problem: string): never => {
  process.stderr.write(`${NAME}: ${problem}; see ${NAME} --help\n`)
  process.exit(2)
}

/** Edit distance, to suggest the option a typo meant. */
const distance = (a: string, b: string): number => {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)))
    }
    prev = row
  }
  return prev[b.length]!
}

const suggestion = (name: string): string => {
  const names = [...Object.keys(FLAGS), "help"]
  const best = names.find((f) => name.length >= 3 && f.startsWith(name)) ??
    names.map((f) => [f, distance(name, f)] as const).filter(([, d]) => d <= Math.max(2, Math.floor(name.length / 3)))
      .sort((x, y) => x[1] - y[1])[0]?.[0]
  return best === undefined ? "" : ` (did you mean --${best}?)`
}

const checkValue = (name: string, flag: Flag, raw: string): number | string => {
  if (flag.check === "text") {
    if (raw.trim() === "") usage(`--${name} needs a non-empty ${flag.value}`)
    return raw
  }
  const n = raw.trim() === "" ? Number.NaN : Number(raw)
  const got = `got ${JSON.stringify(raw)}`
  switch (flag.check) {
    case "port":
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        usage(`--port must be an integer from 0 to 65535 (0 picks a free port), ${got}`)
      }
      break
    case "ms":
    case "seconds":
      if (!Number.isFinite(n) || n < 0) {
        usage(`--${name} must be a number of ${flag.check === "ms" ? "milliseconds" : "seconds"}, 0 or more, ${got}`)
      }
      break
    case "rate":
      if (!Number.isFinite(n) || n < 0 || n > 1) usage(`--${name} must be a probability from 0 to 1, ${got}`)
      break
    case "integer":
      if (!Number.isSafeInteger(n)) usage(`--${name} must be an integer, ${got}`)
      break
    case "tokens":
      if (!Number.isSafeInteger(n) || n < 1) usage(`--${name} must be a whole number of tokens, 1 or more, ${got}`)
      break
  }
  return n
}

/** The options from the command line; every problem is a usage error. */
const readOptions = (argv: ReadonlyArray<string>): SimulatorOptions => {
  const config = Object.fromEntries(
    Object.entries(FLAGS).map(([name, f]) => [name, { type: "string" as const, multiple: f.multiple === true }])
  )
  // Not strict: every token comes back, so each problem can be named here (node's own errors are not for users).
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...config, help: { type: "boolean", short: "h" } },
    strict: false,
    allowPositionals: true,
    tokens: true
  })
  const values = new Map<string, Array<number | string>>()
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue
    if (token.kind === "positional") {
      usage(`unexpected argument ${JSON.stringify(token.value)} (options are written --name value)`)
    }
    if (token.kind !== "option") continue
    if (token.name === "help") {
      if (token.inlineValue === true) usage(`${token.rawName} takes no value`)
      continue
    }
    const flag = FLAGS[token.name]
    if (flag === undefined) usage(`unknown option ${token.rawName}${suggestion(token.name)}`)
    if (token.value === undefined) usage(`${token.rawName} needs a value (${token.rawName} ${flag!.value})`)
    const value = checkValue(token.name, flag!, token.value!)
    const seen = values.get(token.name)
    if (seen !== undefined && flag!.multiple !== true) usage(`--${token.name} is given twice`)
    values.set(token.name, [...(seen ?? []), value])
  }
  const one = (name: string) => values.get(name)?.[0]
  const faults: Record<string, number> = {}
  for (const [name, flag] of Object.entries(FLAGS)) {
    const v = one(name)
    if (flag.rate !== undefined && v !== undefined) faults[flag.rate] = v as number
  }
  const host = one("host") as string | undefined
  const port = one("port") as number | undefined
  const seed = one("seed") as number | undefined
  const contextWindow = one("context-window") as number | undefined
  const apiKeys = values.get("api-key") as Array<string> | undefined
  return {
    ...(host !== undefined ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    latency: {
      fixedMs: (one("latency-ms") as number | undefined) ?? 0,
      jitterMs: (one("jitter-ms") as number | undefined) ?? 0
    },
    faults: faults as FaultRates,
    ...(seed !== undefined ? { seed } : {}),
    ...(apiKeys !== undefined ? { apiKeys } : {}),
    ...(contextWindow !== undefined ? { contextWindowTokens: contextWindow } : {})
  }
}

/** Why the server could not listen, as one line naming what to do; exit code 1. */
const cannotListen = (e: unknown, options: SimulatorOptions): never => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 0
  const code = (e as { code?: unknown }).code
  const what = code === "EADDRINUSE"
    ? `port ${port} on ${host} is already in use; stop what is listening there, or choose another port with --port (--port 0 picks a free one)`
    : code === "EACCES"
    ? `not allowed to listen on port ${port} on ${host}; choose a port from 1024 up with --port (--port 0 picks a free one)`
    : code === "EADDRNOTAVAIL"
    ? `cannot listen on host ${
      JSON.stringify(host)
    }: it is not an address of this machine; use --host 127.0.0.1 (or 0.0.0.0 for every interface)`
    : code === "ENOTFOUND" || code === "EAI_AGAIN"
    ? `cannot resolve host ${JSON.stringify(host)} (${
      String(code)
    }); use --host 127.0.0.1 (or 0.0.0.0 for every interface)`
    : `cannot listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`
  process.stderr.write(`${NAME}: ${what}\n`)
  process.exit(1)
}

const argv = process.argv.slice(2)
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText())
  process.exit(0)
}

const options = readOptions(argv)
let sim: Simulator
try {
  sim = await start(options)
} catch (e) {
  cannotListen(e, options)
}
process.stdout.write(
  `${
    JSON.stringify({
      url: sim!.url,
      openaiBaseUrl: sim!.openaiBaseUrl,
      anthropicBaseUrl: sim!.anthropicBaseUrl,
      port: sim!.port
    })
  }\n`
)

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
