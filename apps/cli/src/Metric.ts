/**
 * The metrics `dspex optimize --metric` names: DSPy's built-in answer metrics from core's Metrics under
 * DSPy's own names, or a function the program file exports (`export const metric = ...`).
 */
import type { Evaluate, Example, Prediction } from "@dspex/core"
import * as Metrics from "@dspex/core/Metrics"
import { Effect } from "effect"
import { UsageError } from "./Usage.ts"

/** The references of `example.answer`: a string or a list of strings, as DSPy's metrics take them. */
const answersOf = (example: Example.Example): ReadonlyArray<string> => {
  const answer = example.get("answer")
  return Array.isArray(answer) ? answer.map(String) : [String(answer ?? "")]
}

const predicted = (prediction: Prediction.Prediction) => {
  const answer = prediction.get("answer")
  return answer === undefined || answer === null ? "" : String(answer)
}

/** Built-in metrics by CLI name (DSPy's, without the `answer_` prefix). */
export const builtinMetrics: Readonly<Record<string, { readonly metric: Evaluate.Metric; readonly about: string }>> = {
  exact_match: {
    metric: Metrics.answerExactMatch,
    about: "answer_exact_match: pred.answer equals example.answer after DSPy's normalisation"
  },
  f1: {
    metric: (example, prediction) => Metrics.F1(predicted(prediction), answersOf(example)),
    about: "token F1 of pred.answer against example.answer (the best over a list of answers)"
  },
  hotpot_f1: {
    metric: (example, prediction) => Metrics.HotPotF1(predicted(prediction), answersOf(example)),
    about: "HotPotQA's F1 (yes/no answers must match exactly)"
  },
  passage_match: {
    metric: Metrics.answerPassageMatch,
    about: "answer_passage_match: some passage of pred.context contains example.answer"
  }
}

/** The built-in names, for the help. */
export const metricNames: ReadonlyArray<string> = Object.keys(builtinMetrics)

/** The metric chosen, and the name it goes by (the checkpoint key and the report use it). */
export interface ChosenMetric {
  readonly name: string
  readonly metric: Evaluate.Metric<any>
}

/**
 * Resolves `--metric`: a built-in name, else a function the program file exports under that name. Without
 * `--metric`, the file's `metric` export when it has one, else exact_match.
 *
 * For example (the command's own internals, not a library API):
 * chooseMetric(undefined, { metric: myMetric }) // { name: "metric", metric: myMetric }
 * chooseMetric("bleu", {})                      // fails: UsageError listing exact_match, f1, hotpot_f1, passage_match
 */
export const chooseMetric = (
  name: string | undefined,
  exported: Readonly<Record<string, (...args: Array<any>) => unknown>>
): Effect.Effect<ChosenMetric, UsageError> => {
  if (name === undefined) {
    return Effect.succeed(
      exported.metric === undefined
        ? { name: "exact_match", metric: builtinMetrics.exact_match!.metric }
        : { name: "metric", metric: exported.metric as Evaluate.Metric<any> }
    )
  }
  const builtin = builtinMetrics[name]
  if (builtin !== undefined) return Effect.succeed({ name, metric: builtin.metric })
  const own = exported[name]
  if (own !== undefined) return Effect.succeed({ name, metric: own as Evaluate.Metric<any> })
  const fromFile = Object.keys(exported)
  return Effect.fail(
    new UsageError({
      command: "dspex optimize",
      problems: [`--metric: unknown metric "${name}"`],
      hint: `Use one of ${metricNames.join(", ")}${
        fromFile.length === 0 ? "" : `, or a function the program file exports (${fromFile.join(", ")})`
      }; or export your own from the --program file (\`export const metric = (example, prediction) => ...\`).`
    })
  )
}
