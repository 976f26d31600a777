// A program file for the tests in plain JavaScript: a Module instance as the `program` export, and a metric
// under a name of its own that `--metric strict` picks.
import { Predict } from "@dspex/core"

export const program = Predict.make("question -> answer")

export const strict = (example, prediction) => String(prediction.get("answer") ?? "").trim() === example.get("answer")
