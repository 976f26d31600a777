// The Effect API of the packed packages, as a library user writes it (plain ESM, no build step): a module
// called and evaluated through DSPex's layers. Run by .ci/pack-proof outside the repository, on Node 22.
import { Cache, ChainOfThought, Evaluate, Example, Executor, LanguageModel, LM } from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { Simulator } from "@dspex/simulator"
import { Effect, Layer, Redacted } from "effect"

const sim = await Simulator.start({ port: 0 })
try {
  const Live = Layer.mergeAll(
    LanguageModel.layer().pipe(
      Layer.provide([
        OpenAi.layer({ apiKey: Redacted.make("sk-pack-proof"), baseURL: sim.openaiBaseUrl }),
        Cache.layerMemory()
      ])
    ),
    Executor.layerLocal({ concurrency: 4 })
  )
  const qa = ChainOfThought.make("question -> answer: float")
  const devset = [
    Example.make({ question: "What is 12 + 30?", answer: 42 }).withInputs("question"),
    Example.make({ question: "What is 9 * 9?", answer: 81 }).withInputs("question")
  ]
  const program = Effect.gen(function*() {
    const prediction = yield* qa.call({ question: "What is 2 + 2?" })
    const { score } = yield* Evaluate.run({
      program: qa,
      devset,
      metric: (ex, pred) => pred.get("answer") === ex.get("answer")
    })
    return { answer: prediction.get("answer"), score }
  })
  const { answer, score } = await Effect.runPromise(
    program.pipe(
      Effect.provideService(LM.CurrentLM, LM.make("openai/dspex-sim", { temperature: 0 })),
      Effect.provide(Live)
    )
  )
  if (answer !== 4 || score !== 100) throw new Error(`expected 4 and 100, got ${answer} and ${score}`)
  console.log(`effect API on Node ${process.versions.node}: answer ${answer}, score ${score}`)
} finally {
  await sim.close()
}
