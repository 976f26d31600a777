/**
 * DSPy's `create_n_fewshot_demo_sets` (`dspy/teleprompt/utils.py`), MIPROv2's step 1: random search's
 * candidates, kept as demo sets per predictor instead of being scored. Seed -3 is zero-shot, -2 labeled
 * demos (when `maxLabeledDemos` > 0; otherwise it falls through to a shuffled bootstrap, as in DSPy), -1
 * BootstrapFewShot on the trainset as given, and every later seed BootstrapFewShot on the trainset shuffled
 * by the run's shared generator with `randint(1, maxBootstrappedDemos)` demos.
 *
 * The generator's draws are made first, in seed order, so the sets can then be bootstrapped concurrently
 * (`trialConcurrency`) and still be DSPy's sets.
 */
import type { Adapter, Example, Module } from "@dspex/core"
import { Effect, Exit } from "effect"
import * as BootstrapFewShot from "../BootstrapFewShot.ts"
import * as LabeledFewShot from "../LabeledFewShot.ts"
import type { CompileOptions } from "../Optimizer.ts"
import type { PyRandom } from "../PyRandom.ts"
import type { Session } from "./session.ts"

export interface DemoSetsOptions {
  /** Sets in all, the three fixed ones included (DSPy's `num_candidate_sets`). */
  readonly numCandidateSets: number
  readonly maxBootstrappedDemos: number
  readonly maxLabeledDemos: number
  readonly metricThreshold?: number | undefined
  readonly teacherSettings?: BootstrapFewShot.Config["teacherSettings"]
  readonly maxErrors?: number | undefined
}

/** One set to build, with the draws already made. */
type Plan =
  | { readonly _tag: "ZeroShot"; readonly seed: number }
  | { readonly _tag: "Labeled"; readonly seed: number }
  | {
    readonly _tag: "Bootstrap"
    readonly seed: number
    readonly trainset: ReadonlyArray<Example.Example>
    readonly size: number
  }

const describe = (plan: Plan) =>
  plan._tag === "ZeroShot"
    ? "zero-shot"
    : plan._tag === "Labeled"
    ? "labeled demos"
    : plan.seed === -1
    ? "bootstrapped, trainset as given"
    : `bootstrapped, shuffled, ${plan.size} demos`

/** The sets' plans, drawing from `rng` exactly as DSPy's loop does. */
export const planDemoSets = (
  trainset: ReadonlyArray<Example.Example>,
  options: DemoSetsOptions,
  rng: PyRandom
): Array<Plan> => {
  const plans: Array<Plan> = []
  for (let seed = -3; seed < options.numCandidateSets - 3; seed++) {
    if (seed === -3) plans.push({ _tag: "ZeroShot", seed })
    else if (seed === -2 && options.maxLabeledDemos > 0) plans.push({ _tag: "Labeled", seed })
    else if (seed === -1) {
      plans.push({ _tag: "Bootstrap", seed, trainset, size: options.maxBootstrappedDemos })
    } else {
      const shuffled = [...trainset]
      rng.shuffle(shuffled)
      const size = rng.randint(1, options.maxBootstrappedDemos)
      plans.push({ _tag: "Bootstrap", seed, trainset: shuffled, size })
    }
  }
  return plans
}

/**
 * Builds every planned set and returns them per predictor: `result[i][k]` is predictor i's demos in set k.
 * A spent budget stops each set on its own (no paid step is interrupted); the first failure, in set
 * order, is the result's.
 */
export const createDemoSets = (
  session: Session,
  student: Module.Module,
  trainset: ReadonlyArray<Example.Example>,
  options: DemoSetsOptions,
  compile: CompileOptions<any>,
  rng: PyRandom
): Effect.Effect<Array<Array<Array<Adapter.Demo>>>, any, any> =>
  Effect.gen(function*() {
    const plans = planDemoSets(trainset, options, rng)
    const build = (plan: Plan, k: number): Effect.Effect<Module.Module, any, any> => {
      if (plan._tag === "ZeroShot") return Effect.succeed(student.resetCopy())
      if (plan._tag === "Labeled") {
        return Effect.sync(() =>
          LabeledFewShot.apply(student, trainset, { k: options.maxLabeledDemos, sample: true }, 0)
        )
      }
      const config: BootstrapFewShot.Config = {
        metricThreshold: options.metricThreshold,
        teacherSettings: options.teacherSettings,
        maxBootstrappedDemos: plan.size,
        maxLabeledDemos: options.maxLabeledDemos,
        maxRounds: 1,
        maxErrors: options.maxErrors
      }
      // Each set is DSPy's BootstrapFewShot with its own seed-0 draws (teacher demos, labeled fill).
      const inner = { ...compile, trainset: plan.trainset, seed: 0 }
      return Effect.gen(function*() {
        const { student: fresh, teacher } = yield* BootstrapFewShot.prepare(student, inner, config)
        const label = `demo set ${k} (${describe(plan)}): `
        const result = yield* BootstrapFewShot.bootstrap(session, teacher, plan.trainset, config, inner, label)
        return BootstrapFewShot.train(fresh, result, config, 0)
      })
    }
    const exits = yield* Effect.forEach(plans, (plan, k) => Effect.exit(build(plan, k)), {
      concurrency: compile.trialConcurrency ?? 4
    })
    const failed = exits.find(Exit.isFailure)
    if (failed !== undefined) return yield* Effect.failCause(failed.cause)
    const programs = exits.map((exit) => (exit as Exit.Success<Module.Module>).value)
    return student.predictors().map((_, i) => programs.map((p) => p.predictors()[i]!.demos.map((d) => ({ ...d }))))
  })
