/**
 * DSPy's BootstrapFewShotWithRandomSearch (`BootstrapRS`): candidates for seeds -3 … numCandidatePrograms-1
 * — the zero-shot program (-3), LabeledFewShot (-2), BootstrapFewShot on the trainset as given (-1), and for
 * each seed ≥ 0 BootstrapFewShot on the trainset shuffled by `random.Random(seed)` with
 * `random.Random(seed).randint(1, maxBootstrappedDemos)` demos — each scored on the valset (default: the
 * trainset); the best score wins, ties keeping the earlier seed, and `stopAtScore` ends the search early.
 *
 * Candidates are independent, so up to `trialConcurrency` are bootstrapped and evaluated at once; they are
 * ranked in seed order, so the result is the one DSPy's sequential loop picks.
 */
import type { Example, Module } from "@dspex/core"
import { Effect, Exit } from "effect"
import * as BootstrapFewShot from "./BootstrapFewShot.ts"
import { InvalidOption } from "./Errors.ts"
import { define } from "./internal/define.ts"
import type { Evaluation } from "./internal/session.ts"
import * as LabeledFewShot from "./LabeledFewShot.ts"
import type { Optimizer } from "./Optimizer.ts"
import { PyRandom } from "./PyRandom.ts"

export interface Config extends BootstrapFewShot.Config {
  /** Shuffled bootstrap candidates on top of the three fixed ones (DSPy default 16: 19 in all). */
  readonly numCandidatePrograms: number
  /** A candidate scoring at least this ends the search. */
  readonly stopAtScore?: number | undefined
  /** Only these seeds (DSPy's `restrict`). */
  readonly restrict?: ReadonlyArray<number> | undefined
  /** LabeledFewShot's draw for seed -2 (DSPy's `labeled_sample`, default true). */
  readonly labeledSample: boolean
}

const name = "BootstrapFewShotWithRandomSearch"

const describeSeed = (seed: number, size?: number) =>
  seed === -3
    ? "seed -3 (zero-shot)"
    : seed === -2
    ? "seed -2 (labeled demos)"
    : seed === -1
    ? "seed -1 (bootstrapped, trainset as given)"
    : `seed ${seed} (bootstrapped, shuffled, ${size} demos)`

/**
 * @example
 * ```ts
 * import { Example, Metrics, Predict } from "@dspex/core"
 * import { RandomSearch } from "@dspex/optimizers"
 *
 * const trainset = [Example.make({ question: "2+2?", answer: "4" }).withInputs("question")]
 * const compiled = RandomSearch.make({ numCandidatePrograms: 8, maxBootstrappedDemos: 3 }).compile(
 *   Predict.make("question -> answer"),
 *   { trainset, metric: Metrics.answerExactMatch }
 * )
 * ```
 */
export const make = (options: Partial<Config> = {}): Optimizer<Config> => {
  const config: Config = {
    metricThreshold: options.metricThreshold,
    teacherSettings: options.teacherSettings,
    maxBootstrappedDemos: options.maxBootstrappedDemos ?? 4,
    maxLabeledDemos: options.maxLabeledDemos ?? 16,
    maxRounds: options.maxRounds ?? 1,
    maxErrors: options.maxErrors,
    numCandidatePrograms: options.numCandidatePrograms ?? 16,
    stopAtScore: options.stopAtScore,
    restrict: options.restrict,
    labeledSample: options.labeledSample ?? true
  }
  return define(name, config, (session, student, compile) =>
    Effect.gen(function*() {
      if (!Number.isInteger(config.numCandidatePrograms) || config.numCandidatePrograms < 0) {
        return yield* new InvalidOption({
          optimizer: name,
          option: "numCandidatePrograms",
          value: String(config.numCandidatePrograms),
          expected: "an integer ≥ 0"
        })
      }
      if (config.maxBootstrappedDemos < 1) {
        return yield* new InvalidOption({
          optimizer: name,
          option: "maxBootstrappedDemos",
          value: String(config.maxBootstrappedDemos),
          expected: "an integer ≥ 1 (each shuffled candidate draws 1 to maxBootstrappedDemos demos)"
        })
      }
      // Checks the trainset, program and config once, as the first bootstrap would.
      yield* BootstrapFewShot.prepare(student, compile, config)
      const valset = compile.valset ?? compile.trainset
      const seeds = Array.from({ length: config.numCandidatePrograms + 3 }, (_, i) => i - 3)
        .filter((seed) => config.restrict === undefined || config.restrict.includes(seed))
      let stopAfter = Number.POSITIVE_INFINITY

      const candidate = (seed: number): Effect.Effect<{ program: Module.Module; label: string }, any, any> => {
        if (seed === -3) return Effect.succeed({ program: student.resetCopy(), label: describeSeed(seed) })
        if (seed === -2) {
          return Effect.succeed({
            program: LabeledFewShot.apply(student, compile.trainset, {
              k: config.maxLabeledDemos,
              sample: config.labeledSample
            }),
            label: describeSeed(seed)
          })
        }
        const trainset: Array<Example.Example> = [...compile.trainset]
        let size = config.maxBootstrappedDemos
        if (seed >= 0) {
          new PyRandom(seed).shuffle(trainset)
          size = new PyRandom(seed).randint(1, config.maxBootstrappedDemos)
        }
        const label = describeSeed(seed, size)
        const inner: BootstrapFewShot.Config = { ...config, maxBootstrappedDemos: size }
        // Each candidate's bootstrap is DSPy's BootstrapFewShot with its own (seed 0) draws.
        const options = { ...compile, trainset, seed: 0 }
        return Effect.gen(function*() {
          const { student: fresh, teacher } = yield* BootstrapFewShot.prepare(student, options, inner)
          const result = yield* BootstrapFewShot.bootstrap(session, teacher, trainset, inner, options, `${label}: `)
          return { program: BootstrapFewShot.train(fresh, result, inner, 0), label }
        })
      }

      // Candidates finish in any order but are ranked in seed order, as DSPy's loop sees them: each one is
      // offered as soon as every earlier seed has been, so NewBest events and a budget stop's best program
      // are DSPy's. Strictly better wins, so ties keep the earlier seed.
      type Done = {
        readonly seed: number
        readonly label: string
        readonly program: Module.Module
        readonly evaluation: Evaluation
      }
      const done = new Map<number, Done | undefined>()
      let next = 0
      let best: Module.Module = student.resetCopy()
      const offerReady = Effect.gen(function*() {
        while (next < seeds.length && done.has(seeds[next]!)) {
          const r = done.get(seeds[next]!)
          next++
          if (r !== undefined && r.seed <= stopAfter && (yield* session.offerBest(r.evaluation, r.label, r.program))) {
            best = r.program
          }
        }
      })
      session.fallback = () => best.deepCopy()
      // Each candidate ends on its own: a spent budget stops the others gracefully (no new example starts,
      // running ones finish and are checkpointed) instead of interrupting work already paid for.
      const exits = yield* Effect.forEach(
        seeds,
        (seed) =>
          Effect.suspend(() => {
            // A candidate after one that reached stopAtScore is never started (DSPy's loop has ended by then).
            if (seed > stopAfter) return Effect.andThen(Effect.sync(() => done.set(seed, undefined)), offerReady)
            return Effect.gen(function*() {
              const { label, program } = yield* candidate(seed)
              const evaluation: Evaluation = yield* session.evaluate(program, valset, {
                label,
                metric: compile.metric,
                metricName: compile.metricName,
                numThreads: compile.numThreads,
                maxErrors: compile.maxErrors
              })
              if (config.stopAtScore !== undefined && evaluation.score >= config.stopAtScore) {
                stopAfter = Math.min(stopAfter, seed)
              }
              done.set(seed, { seed, label, program, evaluation })
              yield* offerReady
            })
          }).pipe(Effect.exit),
        { concurrency: compile.trialConcurrency ?? 4 }
      )
      const failed = exits.find(Exit.isFailure)
      if (failed !== undefined) return yield* Effect.failCause(failed.cause)
      if (stopAfter !== Number.POSITIVE_INFINITY) {
        const score = done.get(stopAfter)!.evaluation.score
        session.stopReason = { _tag: "StopScore", score, stopAtScore: config.stopAtScore! }
      }
      return best
    }))
}
