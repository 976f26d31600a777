/**
 * DSPy's COPRO (coordinate-ascent prompt optimization): searches each predictor's instruction and the
 * prefix of its last output field. The prompt model first proposes `breadth - 1` rewrites of each
 * predictor's instruction (one call with `n = breadth - 1` at `initTemperature`), the original joins them;
 * then, `depth` times, every candidate of every predictor is scored on the full trainset, the predictor is
 * set to its best before the next predictor is scored, and (except after the last depth) the prompt model
 * sees up to `breadth` scored attempts, worst first, and proposes `breadth` more. The best scored
 * candidate of all is returned. A program with one predictor scores only the newest proposals at each
 * depth; one with several scores every candidate so far again, in the context of the others' best.
 *
 * Scores come from `Evaluate` on the trainset (DSPy's COPRO has no valset; a `valset` is not used).
 * Candidates of one predictor are scored concurrently (`trialConcurrency`) and taken in DSPy's order;
 * a candidate whose program was already scored in the run is not scored again (DSPy scores it again,
 * which its LM cache answers with the same predictions). Under ChatAdapter a prefix never reaches the
 * prompt, so candidates that differ only in their prefix send the same requests: an LM cache answers the
 * repeats, as DSPy's does. Proposal calls are checkpointed steps, counted in the budget's LM calls.
 */
import { type Example, LM, type Module, Predict, ProgramState, Signature } from "@dspex/core"
import { Effect, Exit } from "effect"
import { InvalidDataset, InvalidOption, InvalidProgram, ProposalFailed } from "./Errors.ts"
import {
  addStats,
  attemptsOf,
  dropDuplicates,
  emptyStats,
  type Entry,
  type Proposal,
  type Stats,
  stripProposal
} from "./internal/copro.ts"
import { define } from "./internal/define.ts"
import type { Evaluation, Session } from "./internal/session.ts"
import type { CompileOptions, Optimizer } from "./Optimizer.ts"

export type { Stats } from "./internal/copro.ts"

/** One scored (instruction, prefix) of one predictor, with the program it was scored as (DSPy's candidate dict). */
export type Candidate = Entry

export interface Config {
  /** The LM that proposes instructions (DSPy's `prompt_model`); the fiber's CurrentLM when unset. */
  readonly promptModel?: LM.LM | undefined
  /** Candidates proposed per predictor and round (DSPy default 10; must be above 1). */
  readonly breadth: number
  /** Rounds of scoring and proposing (DSPy default 3). */
  readonly depth: number
  /** The prompt model's temperature for every proposal (DSPy default 1.4). */
  readonly initTemperature: number
  /** Keep DSPy's per-depth score statistics (`results(program).resultsBest` / `resultsLatest`). */
  readonly trackStats: boolean
}

const name = "COPRO"

const proposedFields = {
  proposed_instruction: { desc: "The improved instructions for the language model" },
  proposed_prefix_for_output_field: {
    desc: "The string at the end of the prompt, which will help the model start solving the task"
  }
} as const

/** The first proposal's signature, DSPy's `BasicGenerateInstruction` (instructions and fields as DSPy's). */
export const BasicGenerateInstruction: Signature.Signature = Signature.fromFields({
  name: "BasicGenerateInstruction",
  instructions:
    "You are an instruction optimizer for large language models. I will give you a ``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good language model to perform the task well. Don't be afraid to be creative.",
  inputs: { basic_instruction: { desc: "The initial instructions before optimization" } },
  outputs: proposedFields
})

/** The later proposals' signature, DSPy's `GenerateInstructionGivenAttempts` (its docstring dedented). */
export const GenerateInstructionGivenAttempts: Signature.Signature = Signature.fromFields({
  name: "GenerateInstructionGivenAttempts",
  instructions:
    "You are an instruction optimizer for large language models. I will give some task instructions I've tried, along with their corresponding validation scores. The instructions are arranged in increasing order based on their scores, where higher scores indicate better quality.\n\nYour task is to propose a new instruction that will lead a good language model to perform the task even better. Don't be afraid to be creative.",
  inputs: { attempted_instructions: {} },
  outputs: proposedFields
})

/** What DSPy attaches to the program COPRO returns. */
export interface Results {
  /** Every scored (instruction, prefix) of every predictor, best first, exact duplicates among equal scores dropped. */
  readonly candidatePrograms: ReadonlyArray<Candidate>
  /** Candidate evaluations DSPy makes (`total_calls`), those answered from earlier in the run included. */
  readonly totalCalls: number
  /** With `trackStats`: the top ten scores per predictor path at each depth. */
  readonly resultsBest?: Readonly<Record<string, Stats>> | undefined
  /** With `trackStats`: the newest candidates' scores at each depth (DSPy pools them across predictors). */
  readonly resultsLatest?: Readonly<Record<string, Stats>> | undefined
}

const attached = new WeakMap<Module.Module, Results>()

/**
 * DSPy's `candidate_programs`, `total_calls` and (with `trackStats`) `results_best` / `results_latest`
 * of a program COPRO returned; undefined for any other program (a run stopped by its budget included).
 *
 * @example
 * ```ts
 * import { Example, Metrics, Predict } from "@dspex/core"
 * import { COPRO } from "@dspex/optimizers"
 * import { Effect } from "effect"
 *
 * const trainset = [Example.make({ question: "2+2?", answer: "4" }).withInputs("question")]
 * const ranked = Effect.gen(function*() {
 *   const { program } = yield* COPRO.make({ breadth: 4, depth: 2 })
 *     .compile(Predict.make("question -> answer"), { trainset, metric: Metrics.answerExactMatch })
 *   return COPRO.results(program)?.candidatePrograms.map((c) => [c.score, c.instruction])
 * })
 * ```
 */
export const results = (program: Module.Module): Results | undefined => attached.get(program)

const checkConfig = (config: Config) => {
  const checks: ReadonlyArray<readonly [string, unknown, boolean, string]> = [
    ["breadth", config.breadth, Number.isInteger(config.breadth) && config.breadth > 1, "an integer > 1"],
    ["depth", config.depth, Number.isInteger(config.depth) && config.depth >= 1, "an integer ≥ 1"],
    [
      "initTemperature",
      config.initTemperature,
      Number.isFinite(config.initTemperature) && config.initTemperature >= 0,
      "a number ≥ 0"
    ]
  ]
  for (const [option, value, ok, expected] of checks) {
    if (!ok) return Effect.fail(new InvalidOption({ optimizer: name, option, value: String(value), expected }))
  }
  return Effect.void
}

const checkInput = (student: Module.Module, trainset: ReadonlyArray<Example.Example>) => {
  if (trainset.length === 0) {
    return Effect.fail(new InvalidDataset({ optimizer: name, dataset: "trainset", size: 0, reason: "is empty" }))
  }
  const unmarked = trainset.findIndex((e) => e.inputKeys === undefined)
  if (unmarked >= 0) {
    return Effect.fail(
      new InvalidDataset({
        optimizer: name,
        dataset: "trainset",
        size: trainset.length,
        reason: `has no input keys on example ${unmarked} (call withInputs(...))`
      })
    )
  }
  if (student.predictors().length === 0) {
    return Effect.fail(new InvalidProgram({ optimizer: name, reason: "the program has no predictors" }))
  }
  return Effect.void
}

/** The predictor's signature with DSPy's COPRO edit: new instructions, new prefix on the last field. */
const edited = (signature: Signature.Signature, instruction: string, prefix: string): Signature.Signature =>
  signature.withInstructions(instruction).withUpdatedField(signature.fields.at(-1)!.name, { prefix })

/**
 * @example
 * ```ts
 * import { Example, LM, Metrics, Predict } from "@dspex/core"
 * import { COPRO } from "@dspex/optimizers"
 *
 * const trainset = [Example.make({ question: "2+2?", answer: "4" }).withInputs("question")]
 * const compiled = COPRO.make({ breadth: 6, depth: 2, promptModel: LM.make("openai/gpt-4o") }).compile(
 *   Predict.make("question -> answer"),
 *   { trainset, metric: Metrics.answerExactMatch }
 * )
 * ```
 */
export const make = (options: Partial<Config> = {}): Optimizer<Config> => {
  const config: Config = {
    promptModel: options.promptModel,
    breadth: options.breadth ?? 10,
    depth: options.depth ?? 3,
    initTemperature: options.initTemperature ?? 1.4,
    trackStats: options.trackStats ?? false
  }
  return define(name, config, (session, student, compile) => search(session, student, compile, config))
}

const search = (
  session: Session,
  student: Module.Module,
  compile: CompileOptions<any>,
  config: Config
): Effect.Effect<Module.Module, any, any> =>
  Effect.gen(function*() {
    yield* checkConfig(config)
    yield* checkInput(student, compile.trainset)
    const { breadth, depth } = config
    const promptModel = config.promptModel ?? (yield* LM.CurrentLM)
    const module = student.deepCopy()
    const paths = module.namedPredictors().map(([path]) => path)
    const count = paths.length

    const propose = (
      signature: Signature.Signature,
      inputs: Record<string, unknown>,
      n: number,
      label: string,
      program: Module.Module
    ) => {
      const predictor = Predict.make(signature, { config: { n, temperature: config.initTemperature } })
      const call = predictor.call(inputs).pipe(
        Effect.map((prediction) =>
          prediction.completions.items.map((c): Proposal => ({
            instruction: String(c["proposed_instruction"] ?? ""),
            prefix: String(c["proposed_prefix_for_output_field"] ?? "")
          }))
        ),
        Effect.mapError((error) => new ProposalFailed({ optimizer: name, step: label, error }))
      )
      const key = ProgramState.hashState({ signature: signature.name, inputs, n }).slice(0, 32)
      return session.step<Array<Proposal>>(
        "proposal",
        label,
        ProgramState.stateHash(program),
        `${label}/${key}`,
        promptModel === undefined ? call : Effect.provideService(call, LM.CurrentLM, promptModel)
      )
    }

    // DSPy's `all_candidates` (every proposal so far) and `latest_candidates` (the newest batch), per predictor.
    const all: Array<Array<Proposal>> = []
    for (const [i, predictor] of module.predictors().entries()) {
      const signature = predictor.signature
      const proposals = yield* propose(
        BasicGenerateInstruction,
        { basic_instruction: signature.instructions },
        breadth - 1,
        `proposals for depth 1, predictor ${paths[i]}`,
        module
      )
      all.push([...proposals, { instruction: signature.instructions, prefix: signature.fields.at(-1)!.prefix }])
    }
    let latest: Array<ReadonlyArray<Proposal>> = all

    // DSPy's `evaluated_candidates`: the best score per (instruction, prefix), in first-scored order.
    const evaluated: Array<Map<string, Entry>> = paths.map(() => new Map())
    const scored = new Map<string, Evaluation>()
    const resultsBest: Record<string, Stats> = Object.fromEntries(paths.map((p) => [p, emptyStats()]))
    const resultsLatest: Record<string, Stats> = Object.fromEntries(paths.map((p) => [p, emptyStats()]))
    let totalCalls = 0
    let best: Module.Module = module.deepCopy()
    session.fallback = () => best.deepCopy()
    const working = module.deepCopy()

    for (let d = 0; d < depth; d++) {
      yield* Effect.logInfo(`Iteration Depth: ${d + 1}/${depth}.`)
      const latestScores: Array<number> = []
      for (let pi = 0; pi < count; pi++) {
        const batch = count > 1 ? all[pi]! : latest[pi]!
        const candidates = batch.map((c, ci) => {
          const instruction = stripProposal(c.instruction)
          const prefix = stripProposal(c.prefix)
          const program = working.deepCopy()
          const predictor = program.predictors()[pi]!
          predictor.signature = edited(predictor.signature, instruction, prefix)
          const label = `depth ${d + 1}/${depth}, predictor ${paths[pi]} (${pi + 1} of ${count}), candidate ${
            ci + 1
          }/${batch.length}`
          return { instruction, prefix, program, hash: ProgramState.stateHash(program), label }
        })
        // Each distinct program not scored earlier in the run is scored once, up to trialConcurrency at once.
        const firsts = candidates.filter((c, ci) =>
          !scored.has(c.hash) && candidates.findIndex((o) => o.hash === c.hash) === ci
        )
        const exits = new Map(
          yield* Effect.forEach(
            firsts,
            (c) =>
              // A spent budget starts no new candidate (rather than logging an empty trial for each).
              session.ensureBudget.pipe(
                Effect.andThen(Effect.logDebug(`Evaluating prompt candidate: ${c.label}.`)),
                Effect.andThen(session.evaluate(c.program, compile.trainset, {
                  label: c.label,
                  metric: compile.metric,
                  metricName: compile.metricName,
                  numThreads: compile.numThreads,
                  maxErrors: compile.maxErrors
                })),
                Effect.exit,
                Effect.map((exit) => [c.hash, exit] as const)
              ),
            { concurrency: compile.trialConcurrency ?? 4 }
          )
        )
        // Results are taken in DSPy's order, so the bookkeeping and the best so far are those of its loop.
        for (const [ci, c] of candidates.entries()) {
          let evaluation = scored.get(c.hash)
          if (evaluation === undefined) {
            const exit = exits.get(c.hash)!
            if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
            evaluation = exit.value
            scored.set(c.hash, evaluation)
          }
          totalCalls++
          const key = JSON.stringify([c.instruction, c.prefix])
          const known = evaluated[pi]!.get(key)
          if (known === undefined || known.score < evaluation.score) {
            evaluated[pi]!.set(key, {
              score: evaluation.score,
              instruction: c.instruction,
              prefix: c.prefix,
              depth: d,
              predictor: paths[pi]!,
              trial: evaluation.trial,
              candidate: c.hash,
              program: c.program
            })
          }
          if (yield* session.offerBest(evaluation, c.label, c.program)) best = c.program
          if (batch.length - breadth <= ci) latestScores.push(evaluation.score)
        }
        if (config.trackStats) addStats(resultsLatest[paths[pi]!]!, d, latestScores)
        // The predictor keeps its best before the next one is scored (the first best, as Python's max).
        let top: Entry | undefined
        for (const e of evaluated[pi]!.values()) if (top === undefined || e.score > top.score) top = e
        const predictor = working.predictors()[pi]!
        predictor.signature = edited(predictor.signature, top!.instruction, top!.prefix)
      }
      if (d === depth - 1) break

      const fresh: Array<ReadonlyArray<Proposal>> = []
      for (let pi = 0; pi < count; pi++) {
        const entries = [...evaluated[pi]!.values()]
        if (config.trackStats) addStats(resultsBest[paths[pi]!]!, d, topTen(entries))
        const proposals = yield* propose(
          GenerateInstructionGivenAttempts,
          { attempted_instructions: attemptsOf(entries, breadth) },
          breadth,
          `proposals for depth ${d + 2}, predictor ${paths[pi]}`,
          working
        )
        fresh.push(proposals)
        all[pi]!.push(...proposals)
      }
      latest = fresh
    }

    const entries = evaluated.flatMap((m) => [...m.values()])
    if (config.trackStats) {
      for (const [pi, m] of evaluated.entries()) addStats(resultsBest[paths[pi]!]!, depth - 1, topTen([...m.values()]))
    }
    const ranked = dropDuplicates([...entries].sort((a, b) => b.score - a.score))
    const winner = ranked[0]!
    // DSPy returns the first of the best in its candidate order, which need not be the first one scored.
    session.best = { trial: winner.trial, candidate: winner.candidate, score: winner.score, program: winner.program }
    attached.set(winner.program, {
      candidatePrograms: ranked,
      totalCalls,
      ...(config.trackStats ? { resultsBest, resultsLatest } : {})
    })
    return winner.program
  })

const topTen = (entries: ReadonlyArray<Entry>): Array<number> =>
  entries.map((e) => e.score).sort((a, b) => b - a).slice(0, 10)
