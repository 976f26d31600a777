/**
 * DSPy's dataset summary (`dspy/propose/dataset_summary_generator.py`), which grounds MIPROv2's instruction
 * proposals in the data: a prompt model writes observations about the first `viewDataBatchSize` trainset
 * examples, adds to them batch by batch (a reply starting with "COMPLETE" is a skip; five skips end it),
 * and a last call boils them down to a 2–3 sentence summary. The signatures, their instructions and field
 * descriptions are DSPy's, word for word (typos included: they are part of the prompt).
 *
 * Every call is a checkpointed step of the session, so a resumed run replays it instead of paying again.
 */
import { type Example, type LM, Predict, ProgramState, PyText, Signature } from "@dspex/core"
import { Effect } from "effect"
import type { Session } from "./session.ts"

const ObservationSummarizer = Signature.fromFields({
  name: "ObservationSummarizer",
  instructions:
    "Given a series of observations I have made about my dataset, please summarize them into a brief 2-3 sentence summary which highlights only the most important details.",
  inputs: { observations: { desc: "Observations I have made about my dataset" } },
  outputs: {
    summary: {
      desc: "Two to Three sentence summary of only the most significant highlights of my observations"
    }
  }
})

const DatasetDescriptor = Signature.fromFields({
  name: "DatasetDescriptor",
  instructions:
    "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. " +
    "Some areas you may consider in your observations: topics, content, syntax, conciseness, etc. " +
    "It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
  inputs: { examples: { desc: "Sample data points from the dataset" } },
  outputs: { observations: { desc: "Somethings that holds true for most or all of the data you observed" } }
})

const DatasetDescriptorWithPriorObservations = Signature.fromFields({
  name: "DatasetDescriptorWithPriorObservations",
  instructions:
    "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. " +
    "I will also provide you with a few observations I have already made.  Please add your own observations or if you feel the observations are comprehensive say 'COMPLETE' " +
    "Some areas you may consider in your observations: topics, content, syntax, conciceness, etc. " +
    "It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
  inputs: {
    examples: { desc: "Sample data points from the dataset" },
    prior_observations: { desc: "Some prior observations I made about the data" }
  },
  outputs: {
    observations: {
      desc: "Somethings that holds true for most or all of the data you observed or COMPLETE if you have nothing to add"
    }
  }
})

/** DSPy's `strip_prefix`: drops a leading "Label:" of up to five words, then surrounding double quotes. */
export const stripPrefix = (text: string): string =>
  text.replace(/^[*\s]*(?:[\p{L}\p{N}_'-]+\s+){0,4}[\p{L}\p{N}_'-]+:\s*/u, "").replace(/^"+|"+$/g, "")

/** DSPy's `Example.__repr__` (fields without the `dspy_` ones, then the input keys as a Python set). */
const exampleRepr = (example: Example.Example): string => {
  const data = Object.fromEntries(Object.entries(example.data).filter(([k]) => !k.startsWith("dspy_")))
  const keys = example.inputKeys === undefined
    ? "None"
    : example.inputKeys.length === 0
    ? "set()"
    : `{${example.inputKeys.map(PyText.reprString).join(", ")}}`
  return `Example(${PyText.repr(data)}) (input_keys=${keys})`
}

/** `order_input_keys_in_string(repr(examples))`: a list's repr with each set of input keys sorted. */
export const examplesRepr = (examples: ReadonlyArray<Example.Example>): string =>
  `[${examples.map(exampleRepr).join(", ")}]`.replace(
    /input_keys=\{([^}]+)\}/g,
    (_m, keys: string) => `input_keys={${keys.split(",").map((k) => k.trim()).sort().join(", ")}}`
  )

/** One prompt-model call as a checkpointed step: `n=1, temperature=1.0` as DSPy's summary predictors. */
const ask = (
  session: Session,
  label: string,
  signature: Signature.Signature,
  inputs: Record<string, string>,
  output: string,
  promptModel: LM.LM
): Effect.Effect<string, any, any> => {
  const predictor = Predict.make(signature, { config: { n: 1, temperature: 1.0 } })
  const key = ProgramState.hashState({ signature: signature.name, inputs, lm: promptModel })
  return session.step(
    "proposal",
    label,
    ProgramState.stateHash(predictor),
    `summary/${key}`,
    predictor.call(inputs, { lm: promptModel }).pipe(
      Effect.map((prediction) => String(prediction.get(output) ?? ""))
    )
  )
}

/**
 * DSPy's `create_dataset_summary`: observations on the first batch, up to nine more batches with the prior
 * observations (stopping at the fifth COMPLETE), then the summary. Observations are concatenated without a
 * separator, as DSPy does. A failure after the first call keeps the observations made so far (DSPy's
 * `except`); a failure of the first call or of the summary fails the summary (the proposer then runs
 * without it).
 */
export const createDatasetSummary = (
  session: Session,
  trainset: ReadonlyArray<Example.Example>,
  viewDataBatchSize: number,
  promptModel: LM.LM
): Effect.Effect<string, any, any> =>
  Effect.gen(function*() {
    const first = Math.min(trainset.length, viewDataBatchSize)
    let observations = yield* ask(
      session,
      "dataset summary: observations on examples 0-" + first,
      DatasetDescriptor,
      { examples: examplesRepr(trainset.slice(0, first)) },
      "observations",
      promptModel
    )
    const more = Effect.gen(function*() {
      let skips = 0
      let calls = 0
      for (let b = viewDataBatchSize; b < trainset.length; b += viewDataBatchSize) {
        calls++
        if (calls >= 10) break
        const upper = Math.min(trainset.length, b + viewDataBatchSize)
        const added = yield* ask(
          session,
          `dataset summary: observations on examples ${b}-${upper}`,
          DatasetDescriptorWithPriorObservations,
          { examples: examplesRepr(trainset.slice(b, upper)), prior_observations: observations },
          "observations",
          promptModel
        )
        if (added.length >= 8 && added.slice(0, 8).toUpperCase() === "COMPLETE") {
          skips++
          if (skips >= 5) break
          continue
        }
        observations += added
      }
    })
    yield* Effect.catchIf(more, (e) => !isBudgetStop(e), (e) =>
      Effect.logWarning(
        `Dataset summary: ${String(e)}; using the observations made so far.`
      ))
    const summary = yield* ask(
      session,
      "dataset summary: summary",
      ObservationSummarizer,
      { observations },
      "summary",
      promptModel
    )
    return stripPrefix(summary)
  })

/** A spent budget is never swallowed as a failed call: it must stop the run. */
export const isBudgetStop = (e: unknown): boolean => (e as { _tag?: unknown } | null)?._tag === "BudgetStop"
