/**
 * `dspex run-example` as a user runs it: what it picks, when it stops, what its report says. Each test
 * starts the CLI as a child process; tests that need a server of their own (a wrong key, faults, priced
 * models) start a simulator here and point OPENAI_BASE_URL at it.
 */
import { Simulator } from "@dspex/simulator"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { exampleDevset } from "../src/Dataset.ts"
import { noKeys, run } from "./support.ts"

const slow = { timeout: 60_000 }

let sim: Simulator.Simulator
beforeAll(async () => {
  sim = await Simulator.start({})
})
afterAll(() => sim.close())

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

describe.concurrent("which provider a run uses", () => {
  it(
    "--model anthropic/... without ANTHROPIC_API_KEY fails at once, saying what to set, and never claims the simulator",
    slow,
    async () => {
      const r = await run(["run-example", "--model", "anthropic/claude-haiku-4-5", "--limit", "3"], { env: noKeys })
      expect(r.code).toBe(1)
      const error = r.json().error
      expect(error).toMatchObject({
        _tag: "LMConfigurationError",
        variable: "ANTHROPIC_API_KEY",
        model: "anthropic/claude-haiku-4-5"
      })
      expect(error.suggestion).toContain("Set ANTHROPIC_API_KEY")
      expect(r.stderr).not.toContain("simulated provider at")
      expect(r.stderr).not.toContain("Evaluating")
    }
  )

  it("--simulate runs an anthropic/ model against the simulator's Anthropic API, and says so", slow, async () => {
    const r = await run(["run-example", "--model", "anthropic/claude-haiku-4-5", "--simulate", "--limit", "2"], {
      env: noKeys
    })
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ model: "anthropic/claude-haiku-4-5", score: 100 })
    expect(r.json().provider).toMatch(/^the simulated provider at http:\/\/127\.0\.0\.1:\d+$/)
  })

  it("with no key and no model, the simulated provider", slow, async () => {
    const r = await run(["run-example", "--limit", "2"], { env: noKeys })
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ model: "openai/dspex-sim", score: 100 })
    expect(r.stderr).toContain("via the simulated provider at")
  })
})

describe.concurrent("errors that can never succeed stop the run", () => {
  it(
    "a wrong key: the first 401 ends the run (exit 1, EvaluationAborted with the LMAuthError and what to set)",
    slow,
    async () => {
      // A server of its own: the request count is the point.
      const own = await Simulator.start({})
      const r = await run(["run-example", "--threads", "1"], {
        env: { ...noKeys, OPENAI_API_KEY: "sk-invalid-cli", OPENAI_BASE_URL: own.openaiBaseUrl }
      })
      const requests = own.stats().totalRequests
      await own.close()
      expect(r.code).toBe(1)
      const out = r.json()
      expect(out.error).toMatchObject({ _tag: "EvaluationAborted", index: 0, completed: 1 })
      expect(out.error.error).toMatchObject({ _tag: "LMAuthError", status: 401 })
      expect(out.error.suggestion).toContain("API key")
      expect(out.score).toBeNull()
      expect(out.results).toHaveLength(1)
      expect(out.results[0].error._tag).toBe("LMAuthError")
      expect(requests).toBe(1)
    }
  )
})

describe.concurrent("an endpoint nobody answers", () => {
  it(
    "connection refused: two quick retries per call, every example failed, exit 1; each failure printed once, its error in the report",
    slow,
    async () => {
      const port = await closedPort()
      const r = await run(["run-example", "--limit", "3"], {
        env: { ...noKeys, OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` }
      })
      expect(r.code).toBe(1)
      const out = r.json()
      expect(out.error).toMatchObject({ _tag: "EveryExampleFailed", examples: 3 })
      expect(out.error.firstError).toMatchObject({ _tag: "LMProviderError", code: "ECONNREFUSED", retryable: true })
      expect(out.usage["openai/gpt-4o-mini"]).toMatchObject({ calls: 0, retries: 6, errors: 3 })
      for (const result of out.results) {
        expect(result).toMatchObject({ answer: null, score: 0, error: { _tag: "LMProviderError" } })
        expect(result.error.message).toContain(`http://127.0.0.1:${port}/v1`)
        expect(result.error.suggestion).toContain("Nothing answers at that address")
      }
      // One line per failure: the progress line, not a log line besides.
      expect(r.stderr.match(/ECONNREFUSED/g)).toHaveLength(3 + 1) // three examples, then the closing error line
      expect(r.stderr).not.toContain("Error for example")
    }
  )

  it("the error budget stops a longer run; the results finished by then are in the report", slow, async () => {
    const port = await closedPort()
    const r = await run(["run-example", "--limit", "12", "--threads", "1"], {
      env: { ...noKeys, OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` }
    })
    expect(r.code).toBe(1)
    const out = r.json()
    expect(out.error).toMatchObject({ _tag: "ErrorBudgetExceeded", errors: 10, completed: 10, total: 12 })
    expect(out.completed).toBe(10)
    expect(out.results).toHaveLength(10)
    expect(out.results.map((x: { question: string }) => x.question)).toEqual(
      exampleDevset(12).slice(0, 10).map((e) => e.get("question"))
    )
  })
})

describe.concurrent("what the report says", () => {
  it("retries the run needed and the faults they absorbed, per model and in the summary", slow, async () => {
    const faulty = await Simulator.start({ faults: { server500: 0.4 }, seed: 3 })
    try {
      const r = await run(["run-example", "--limit", "8", "--threads", "2"], {
        env: { ...noKeys, OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: faulty.openaiBaseUrl }
      })
      const out = r.json()
      const faults = faulty.stats().faults["500"]
      expect(faults).toBeGreaterThan(0)
      const usage = out.usage["openai/gpt-4o-mini"]
      // Every fault is either a retry or the last attempt of a call that failed after its retries.
      expect(usage.retries + usage.errors).toBe(faults)
      expect(usage.retries).toBeGreaterThan(0)
      expect(Number(/(\d+) retr(?:y|ies)/.exec(r.stderr)?.[1])).toBe(usage.retries)
    } finally {
      await faulty.close()
    }
  })

  it(
    "cache hits are counted; costs are rounded for print; the disk cache prints no ExperimentalWarning",
    slow,
    async () => {
      // DSPEX_CACHE is set here because CI exports DSPEX_CACHE=off for every other test.
      const env = {
        ...noKeys,
        OPENAI_API_KEY: "sk-test",
        OPENAI_BASE_URL: sim.openaiBaseUrl,
        DSPEX_CACHE: "on",
        DSPEX_CACHE_DIR: mkdtempSync(join(tmpdir(), "dspex-cli-cache-"))
      }
      const first = await run(["run-example", "--limit", "4", "--cache"], { env })
      expect(first.code).toBe(0)
      const cost = first.json().usage["openai/gpt-4o-mini"].cost as number
      expect(cost).toBeGreaterThan(0)
      // Six significant digits at most, never float noise like 0.0008730000000000002.
      expect(String(cost).replace(/^0\.0*/, "").replace(".", "").length).toBeLessThanOrEqual(6)
      const second = await run(["run-example", "--limit", "4", "--cache"], { env })
      expect(second.json().usage["openai/gpt-4o-mini"]).toMatchObject({ calls: 0, cacheHits: 4, cost: 0 })
      expect(second.stderr).toContain("4 cache hits")
      expect(first.stderr + second.stderr).not.toContain("ExperimentalWarning")
    }
  )
})
