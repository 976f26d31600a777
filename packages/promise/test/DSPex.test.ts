/**
 * The Promise entry against the simulated provider over HTTP (the real `openai` SDK underneath): plain
 * `async` code, no Effect in sight.
 */
import { Simulator } from "@dspex/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { ChainOfThought, DSPex, Errors, Example, LMError, Module, Predict } from "../src/index.ts"

let sim: Simulator.Simulator
beforeAll(async () => {
  sim = await Simulator.start({ port: 0 })
})
afterAll(async () => {
  await DSPex.dispose()
  await sim.close()
})
afterEach(async () => {
  await DSPex.dispose()
})

const configureSim = (model = "openai/dspex-sim", cache: DSPex.Config["cache"] = "memory") =>
  DSPex.configure({ model, apiKey: "sk-promise-test", baseURL: sim.openaiBaseUrl, cache, temperature: 0 })

const requests = () => sim.stats().totalRequests

describe("DSPex (Promise entry)", () => {
  it("configures an LM once; program.call resolves with a typed prediction", async () => {
    configureSim()
    const qa = DSPex.program(ChainOfThought.make("question -> answer: float"))
    const prediction = await qa.call({ question: "What is 2 + 2?" })
    expect(prediction.get("answer")).toBe(4)
    expect(typeof prediction.get("reasoning")).toBe("string")
  })

  it("all calls share one runtime: the second identical call is a cache hit, not a request", async () => {
    configureSim()
    const qa = DSPex.program(Predict.make("question -> answer"))
    await qa.call({ question: "What is the capital of France?" })
    const before = requests()
    const again = await DSPex.program(Predict.make("question -> answer")).call({
      question: "What is the capital of France?"
    })
    expect(again.get("answer")).toBe("Paris")
    expect(requests()).toBe(before)
  })

  it("evaluate runs a devset with a plain or a Promise metric and reports DSPy's percentage", async () => {
    configureSim()
    const qa = DSPex.program(Predict.make("question -> answer: float"))
    const devset = [
      Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question"),
      Example.make({ question: "What is 9 * 9?", answer: 81 }).withInputs("question"),
      Example.make({ question: "What is 2 + 2?", answer: 5 }).withInputs("question")
    ]
    const sync = await DSPex.evaluate({
      program: qa,
      devset,
      metric: (ex, pred) => pred.get("answer") === ex.get("answer")
    })
    expect(sync.score).toBe(66.67)
    expect(sync.results).toHaveLength(3)
    const promised = await DSPex.evaluate({
      program: qa.module,
      devset,
      metric: async (ex, pred) => (pred.get("answer") === ex.get("answer") ? 1 : 0),
      numThreads: 2
    })
    expect(promised.score).toBe(66.67)
    // A metric that rejects fails that example with the metric's own error, as a throwing metric does.
    const bug = new RangeError("metric bug on 9 * 9")
    const rejecting = await DSPex.evaluate({
      program: qa,
      devset,
      metric: async (ex) => {
        if (ex.get("answer") === 81) throw bug
        return 1
      },
      numThreads: 1
    })
    expect(rejecting.results.map((r) => r.score)).toEqual([1, 0, 1])
    expect(rejecting.results[1]!.error).toBe(bug)
  })

  it("a custom module class runs through the same handle", async () => {
    configureSim()
    class TwoStep extends Module.Module {
      first = Predict.make("question -> answer: float")
      forward(inputs: { question: string }) {
        return this.first.call(inputs)
      }
    }
    const prediction = await DSPex.program(new TwoStep()).call({ question: "What is 6 * 7?" })
    expect(prediction.get("answer")).toBe(42)
  })

  it("failures reject with DSPex's own Error subclasses, carrying _tag, retryable and suggestion", async () => {
    configureSim("openai/dspex-sim:fault=401")
    const qa = DSPex.program(Predict.make("question -> answer"))
    const auth = await qa.call({ question: "What is 2 + 2?" }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(auth).toBeInstanceOf(Error)
    expect(auth).toBeInstanceOf(LMError.LMAuthError)
    const error = auth as LMError.LMAuthError
    expect([error._tag, error.retryable]).toEqual(["LMAuthError", false])
    expect(error.suggestion.length).toBeGreaterThan(10)
    expect(String(error)).not.toContain("sk-promise-test") // the key never shows

    configureSim()
    const bad = await DSPex.program(Predict.make("question -> answer")).call({ wrong: 1 } as never).catch((
      e: unknown
    ) => e)
    expect(bad).toBeInstanceOf(Errors.InputValidationError)
    expect((bad as Errors.InputValidationError)._tag).toBe("InputValidationError")
  })

  it("before configure, a call rejects with NotConfigured saying what to do", async () => {
    await DSPex.dispose()
    const error = await DSPex.program(Predict.make("question -> answer")).call({ question: "hi" }).catch((e: unknown) =>
      e
    )
    expect(error).toBeInstanceOf(DSPex.NotConfigured)
    expect((error as DSPex.NotConfigured).suggestion).toContain("DSPex.configure")
  })

  it("configure again switches the LM for later calls", async () => {
    configureSim("openai/dspex-sim")
    const qa = DSPex.program(Predict.make("question -> answer"))
    await qa.call({ question: "What is the capital of Japan?" })
    const before = sim.stats().byModel["other-model"] ?? 0
    configureSim("openai/other-model")
    await qa.call({ question: "What is the capital of Japan?" })
    expect(sim.stats().byModel["other-model"]).toBe(before + 1)
  })

  it("an unknown provider prefix without a baseURL rejects with LMConfigurationError", async () => {
    DSPex.configure({ model: "mystery/model-1", cache: "off" })
    const error = await DSPex.program(Predict.make("question -> answer")).call({ question: "hi" }).catch((e: unknown) =>
      e
    )
    expect(error).toBeInstanceOf(LMError.LMConfigurationError)
    expect((error as Error).message).toContain("mystery")
  })

  it("save and load a program's state", async () => {
    configureSim()
    const { mkdtempSync } = await import("node:fs")
    const { tmpdir } = await import("node:os")
    const { join } = await import("node:path")
    const file = join(mkdtempSync(join(tmpdir(), "dspex-promise-")), "qa.json")
    const qa = DSPex.program(Predict.make("question -> answer"))
    qa.module.demos = [{ question: "q1", answer: "a1" }]
    await qa.save(file)
    const copy = DSPex.program(Predict.make("question -> answer"))
    await copy.load(file)
    expect(copy.module.demos).toEqual([{ question: "q1", answer: "a1" }])
  })
})
