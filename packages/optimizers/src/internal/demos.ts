/** Demos as DSPy builds them: from labeled examples, and from the steps of a successful traced run. */
import { type Adapter, type Example, ProgramState, type Trace } from "@dspex/core"
import { PyRandom } from "../PyRandom.ts"

/** A labeled example as a demo: all its fields (DSPy keeps the Example; its saved form is the same dict). */
export const labeled = (example: Example.Example): Adapter.Demo => ({ ...example.data })

/** DSPy's `Example(augmented=True, **inputs, **outputs)` for one trace step. */
export const augmented = (step: Trace.TraceStep): Adapter.Demo => ({
  augmented: true,
  ...step.inputs,
  ...step.outputs.toJSON()
})

/** DSPy compares a demo with an example by their fields (`Example.__eq__` compares the stores). */
export const sameFields = (demo: Adapter.Demo, example: Example.Example): boolean =>
  ProgramState.canonicalJson(demo) === ProgramState.canonicalJson(example.data)

/**
 * The demos of one successful run, per predictor name. A predictor that ran several times keeps one of
 * its steps, as DSPy does: with a generator seeded from the steps themselves, the last step half of the
 * time, else a random earlier one. (DSPy seeds with `datasets`' pickle hash of the demos, which has no
 * equivalent outside Python; DSPex seeds with the demos' canonical JSON, so a predictor that runs once —
 * the common case — gets exactly DSPy's demo.)
 */
export const demosOfTrace = (steps: ReadonlyArray<Trace.TraceStep>): Record<string, Array<Adapter.Demo>> => {
  const byName: Record<string, Array<Adapter.Demo>> = {}
  for (const step of steps) (byName[step.path] ??= []).push(augmented(step))
  for (const [name, demos] of Object.entries(byName)) {
    if (demos.length > 1) {
      const rng = new PyRandom(ProgramState.canonicalJson(demos))
      byName[name] = [rng.random() < 0.5 ? rng.choice(demos.slice(0, -1)) : demos[demos.length - 1]!]
    }
  }
  return byName
}
