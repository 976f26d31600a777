/**
 * The main job's built-in dataset: arithmetic and capital-city questions with gold answers (the
 * simulator's facts, so the simulated provider answers them all). A module of its own, light to load: the
 * command line checks `--limit` against its size before anything else is loaded.
 */
import * as Example from "@dspex/core/Example"
import * as Facts from "@dspex/simulator/Facts"

const arithmetic = Facts.datasets.arithmetic
const capitals = Facts.datasets.capitals

/** How many examples the built-in dataset has (the most `--limit` can ask for). */
export const exampleCount = arithmetic.length + capitals.length

/**
 * The first `limit` examples: half arithmetic, half capitals where it can (the larger set makes up what
 * the smaller one lacks).
 *
 * For example (the command's own internals, not a library API):
 * exampleDevset(4).map((e) => e.get("question")) // two arithmetic questions, then two capitals
 */
export const exampleDevset = (limit: number): ReadonlyArray<Example.Example> => {
  const n = Math.max(0, Math.min(limit, exampleCount))
  const fromCapitals = Math.min(capitals.length, n - Math.min(arithmetic.length, Math.ceil(n / 2)))
  const rows = [...arithmetic.slice(0, n - fromCapitals), ...capitals.slice(0, fromCapitals)]
  return rows.map((r) => Example.make({ question: r.question, answer: r.answer }).withInputs("question"))
}
