/**
 * MIPROv2 (auto "light") on a one-predictor program with 100 validation examples, against the simulated
 * provider (own process, 50 ms latency per call, optimizable mode: the ⊕ task): wall time at concurrency
 * 32 against the same compile at concurrency 1 in the same run (target ≤ 0.1x), and the LM calls made
 * against DSPy's own projection for the same settings (`_estimate_lm_calls`, MIPROv2.estimateLmCalls).
 *
 *   node bench/mipro-concurrency.ts
 */
import { Cache, Example, Executor, LanguageModel, LM, Predict, Providers } from "@dspex/core"
import { MIPROv2 } from "@dspex/optimizers"
import { OpenAi } from "@dspex/providers"
import { Optimizable } from "@dspex/simulator"
import { Effect, Layer, Redacted } from "effect"
import { report, round, spawnSimulator } from "./util.ts"

const { devset, trainset } = Optimizable.operatorDataset({ trainSize: 40, devSize: 100, seed: 7 })
const toExamples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const metric = function exactAnswer(ex: Example.Example, pred: { get: (k: string) => unknown }) {
  return String(pred.get("answer")).trim() === ex.get("answer")
}

// Each compile gets a simulator of its own: the simulator numbers repeated identical proposal requests
// as successive samples, so a second compile on the same one would be asked different questions.
const compile = async (concurrency: number) => {
  const sim = await spawnSimulator(["--latency-ms", "50", "--rate-429", "0"])
  try {
    return await compileOn(sim.openaiBaseUrl, concurrency)
  } finally {
    await sim.close()
  }
}

const compileOn = async (baseURL: string, concurrency: number) => {
  const services = Layer.mergeAll(
    LanguageModel.layer({ maxConcurrency: 256 }).pipe(
      Layer.provide([
        Providers.layer(OpenAi.provider({ apiKey: Redacted.make("sk-bench"), baseURL })),
        Cache.layerNone
      ])
    ),
    Executor.layerLocal({ concurrency })
  )
  const t0 = performance.now()
  const result = await Effect.runPromise(
    MIPROv2.make({ auto: "light" }).compile(Predict.make("question -> answer"), {
      trainset: toExamples(trainset),
      valset: toExamples(devset),
      metric,
      numThreads: concurrency,
      trialConcurrency: concurrency
    }).pipe(
      Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })),
      Effect.provide(services)
    )
  )
  return { ms: performance.now() - t0, result }
}

{
  const parallel = await compile(32)
  const sequential = await compile(1)
  report({
    bench: "mipro-concurrency",
    figure: "MIPROv2 light, 1 predictor, 100 validation examples, 50 ms latency: wall time at concurrency 32",
    value: round(parallel.ms / 1000, 2),
    unit: "s",
    baseline: { name: "the same compile at concurrency 1", value: round(sequential.ms / 1000, 2) },
    ratio: round(parallel.ms / sequential.ms),
    target: "≤ 0.1x",
    pass: parallel.ms / sequential.ms <= 0.1,
    bestScore: parallel.result.log.best?.score,
    sameProgram:
      JSON.stringify(parallel.result.program.dumpState()) === JSON.stringify(sequential.result.program.dumpState())
  })
  const numTrials = MIPROv2.numTrialsFor({
    predictors: 1,
    zeroshot: false,
    numCandidates: MIPROv2.AUTO_RUN_SETTINGS.light.n
  })
  const estimate = MIPROv2.estimateLmCalls({
    predictors: 1,
    numInstructCandidates: Math.trunc(0.5 * MIPROv2.AUTO_RUN_SETTINGS.light.n),
    programAwareProposer: true,
    numTrials,
    minibatch: devset.length > 50,
    minibatchSize: 35,
    minibatchFullEvalSteps: 5,
    valsetSize: Math.min(MIPROv2.AUTO_RUN_SETTINGS.light.valSize, devset.length)
  })
  const made = parallel.result.log.usage.lmCalls
  report({
    bench: "mipro-concurrency",
    figure: "MIPROv2 light: LM calls made (bootstrapping included) vs DSPy's projection for the same settings",
    value: made,
    unit: "calls",
    baseline: {
      name: "DSPy's estimate (prompt model + task model, bootstrapping not counted)",
      value: estimate.promptModel + estimate.taskModel
    },
    ratio: round(made / (estimate.promptModel + estimate.taskModel)),
    numTrials,
    estimate,
    bootstrapCalls: parallel.result.log.trials.filter((t) => t.kind === "bootstrap").reduce(
      (n, t) => n + t.usage.lmCalls,
      0
    ),
    proposalCalls: parallel.result.log.trials.filter((t) => t.kind === "proposal").reduce(
      (n, t) => n + t.usage.lmCalls,
      0
    ),
    evaluationCalls: parallel.result.log.trials.filter((t) => t.kind === "evaluation").reduce(
      (n, t) => n + t.usage.lmCalls,
      0
    )
  })
}
