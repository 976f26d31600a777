/**
 * A compile run as its own process, so a test or a benchmark can SIGKILL it half-way and start it again:
 * RandomSearch on the simulator's secret-code task, checkpointed in a SQLite file. Prints each progress
 * event as a JSON line on stdout and writes the compiled program and its log to --out when it finishes.
 *
 *   node --conditions=@dspex/source tests/faults/scripts/compileRun.ts --base-url URL --store FILE --out FILE
 */
import { Cache, Example, Executor, LanguageModel, LM, Predict, ProgramState, Providers } from "@dspex/core"
import { Checkpoint, RandomSearch } from "@dspex/optimizers"
import { OpenAi } from "@dspex/providers"
import { Optimizable } from "@dspex/simulator"
import { Effect, Layer, Redacted, Stream } from "effect"
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    "base-url": { type: "string" },
    store: { type: "string" },
    out: { type: "string" },
    candidates: { type: "string", default: "8" },
    threads: { type: "string", default: "4" }
  }
})

const { trainset: items } = Optimizable.codeDataset({ trainSize: 20, devSize: 0, seed: 5 })
const trainset = items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const metric = function exactCode(ex: Example.Example, pred: { get: (k: string) => unknown }) {
  return String(pred.get("answer")).trim() === ex.get("answer")
}

const services = Layer.mergeAll(
  LanguageModel.layer().pipe(
    Layer.provide([
      Providers.layer(OpenAi.provider({ apiKey: Redacted.make("sk-compile-run"), baseURL: values["base-url"]! })),
      Cache.layerNone
    ])
  ),
  Executor.layerLocal({ concurrency: Number(values.threads) }),
  Checkpoint.layerSqlite(values.store!)
)

const optimizer = RandomSearch.make({
  numCandidatePrograms: Number(values.candidates),
  maxBootstrappedDemos: 4,
  maxLabeledDemos: 2
})

const program = optimizer.stream(Predict.make("question -> answer"), {
  trainset,
  metric,
  trialConcurrency: 1
}).pipe(
  Stream.runForEach((event) =>
    Effect.sync(() => {
      if (event._tag === "Finished") {
        writeFileSync(
          values.out!,
          JSON.stringify({ state: ProgramState.dumpState(event.result.program), log: event.result.log })
        )
      } else {
        process.stdout.write(
          `${
            JSON.stringify(
              event._tag === "TrialScored" ? { _tag: event._tag, kind: event.trial.kind } : { _tag: event._tag }
            )
          }\n`
        )
      }
    })
  ),
  Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })),
  Effect.provide(services)
)

await Effect.runPromise(program)
