// @dspex/optimizers as a library user runs it from the packed tarballs (plain ESM, Node 22): BootstrapFewShot
// against the simulator, checkpointed in a SQLite file (node:sqlite), then run again: the second run
// replays every step from the file and makes no LM request. Run by .ci/pack-proof outside the repository.
import { Cache, Example, Executor, LanguageModel, LM, Predict } from "@dspex/core"
import { BootstrapFewShot, Checkpoint } from "@dspex/optimizers"
import { OpenAi } from "@dspex/providers"
import { Simulator } from "@dspex/simulator"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const sim = await Simulator.start({ port: 0 })
const store = join(mkdtempSync(join(tmpdir(), "dspex-pack-compile-")), "compile.sqlite")
try {
  const Live = Layer.mergeAll(
    LanguageModel.layer().pipe(
      Layer.provide([
        OpenAi.layer({ apiKey: Redacted.make("sk-pack-proof"), baseURL: sim.openaiBaseUrl }),
        Cache.layerNone
      ])
    ),
    Executor.layerLocal({ concurrency: 4 }),
    Checkpoint.layerSqlite(store)
  )
  const trainset = [3, 5, 8, 13].map((n) =>
    Example.make({ question: `What is ${n} + ${n}?`, answer: String(2 * n) }).withInputs("question")
  )
  const compile = BootstrapFewShot.make({ maxBootstrappedDemos: 2, maxLabeledDemos: 2 }).compile(
    Predict.make("question -> answer"),
    { trainset, metric: (ex, pred) => pred.get("answer") === ex.get("answer") }
  )
  const run = () =>
    Effect.runPromise(
      compile.pipe(
        Effect.provideService(LM.CurrentLM, LM.make("openai/dspex-sim", { temperature: 0 })),
        Effect.provide(Live)
      )
    )
  const first = await run()
  const requests = sim.stats().totalRequests
  const second = await run()
  const demos = first.program.predictors()[0].demos
  if (demos.filter((d) => d.augmented === true).length !== 2) {
    throw new Error(`expected 2 bootstrapped demos, got ${JSON.stringify(demos)}`)
  }
  if (sim.stats().totalRequests !== requests) throw new Error("the second run made LM requests despite its checkpoint")
  if (second.log.resumedSteps !== first.log.trials.length) throw new Error("the second run did not replay every step")
  console.log(
    `optimizers on Node ${process.versions.node}: ${demos.length} demos, second run replayed ${second.log.resumedSteps} steps`
  )
} finally {
  await sim.close()
}
