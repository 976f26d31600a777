// Plain async code on the packed @dspex/promise (no Effect): configure once, call, evaluate, and see a
// typed error reject. Run by .ci/pack-proof in a project outside the repository, on Node 22.
import { ChainOfThought, DSPex, Example, LMError, Predict } from "@dspex/promise"
import { Simulator } from "@dspex/simulator"

const sim = await Simulator.start({ port: 0 })
try {
  DSPex.configure({ model: "openai/dspex-sim", apiKey: "sk-pack-proof", baseURL: sim.openaiBaseUrl, cache: "memory" })
  const qa = DSPex.program(ChainOfThought.make("question -> answer: float"))
  const prediction = await qa.call({ question: "What is 2 + 2?" })
  if (prediction.get("answer") !== 4) throw new Error(`expected 4, got ${prediction.get("answer")}`)

  const devset = [
    Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question"),
    Example.make({ question: "What is 9 * 9?", answer: 81 }).withInputs("question")
  ]
  const { score } = await DSPex.evaluate({
    program: qa,
    devset,
    metric: (ex, pred) => pred.get("answer") === ex.get("answer")
  })
  if (score !== 100) throw new Error(`expected 100, got ${score}`)

  DSPex.configure({
    model: "openai/dspex-sim:fault=401",
    apiKey: "sk-pack-proof",
    baseURL: sim.openaiBaseUrl,
    cache: "off"
  })
  const error = await DSPex.program(Predict.make("question -> answer")).call({ question: "hi" }).catch((e) => e)
  if (
    !(error instanceof LMError.LMAuthError) || error._tag !== "LMAuthError" || error.retryable !== false ||
    !error.suggestion
  ) {
    throw new Error(`expected a rejected LMAuthError, got ${error}`)
  }
  console.log(`promise entry on Node ${process.versions.node}: answer 4, score ${score}, rejected with ${error._tag}`)
} finally {
  await DSPex.dispose()
  await sim.close()
}
