/**
 * DSPy's GroundedProposer (`dspy/propose/grounded_proposer.py`) as MIPROv2 configures it: for each
 * predictor and each of the first N demo sets, one `GenerateSingleModuleInstruction` call on the prompt
 * model, grounded in a dataset summary, a description of the program and of the predictor's role, up to
 * three bootstrapped demos and a random prompting tip. Instruction history is off (MIPROv2 sets
 * `use_instruct_history=False`). Signatures, instructions, field descriptions and tips are DSPy's.
 *
 * Each proposal (with its program and module descriptions) is a checkpointed step of the session, run in
 * DSPy's order, so the random draws (tip, rollout id) and a resumed run's replays line up with DSPy's.
 */
import { type Adapter, type Example, LM, type Module, Predict, ProgramState, PyText, Signature } from "@dspex/core"
import { Effect } from "effect"
import { ProposalFailed } from "../Errors.ts"
import type { PyRandom } from "../PyRandom.ts"
import { createDatasetSummary, isBudgetStop, stripPrefix } from "./datasetSummary.ts"
import type { Session } from "./session.ts"

/** DSPy's prompting tips, in its dict order (the order `rng.choice` draws from). */
export const TIPS: ReadonlyArray<readonly [string, string]> = [
  ["none", ""],
  ["creative", "Don't be afraid to be creative when creating the new instruction!"],
  ["simple", "Keep the instruction clear and concise."],
  ["description", "Make sure your instruction is very informative and descriptive."],
  ["high_stakes", "The instruction should include a high stakes scenario in which the LM must solve the task!"],
  ["persona", "Include a persona that is relevant to the task in the instruction (ie. \"You are a ...\")"]
]

const DESCRIBE_PREAMBLE = "Below is some pseudo-code for a pipeline that solves tasks with calls to language models."
const PSEUDOCODE = "Pseudocode for a language model program designed to solve a particular task."
const PROGRAM_SUMMARY = "Summary of the task the program is designed to solve, and how it goes about solving it."

const DescribeProgram = Signature.fromFields({
  name: "DescribeProgram",
  instructions:
    `${DESCRIBE_PREAMBLE} Please describe what type of task this program appears to be designed to solve, and how it appears to work.`,
  inputs: {
    program_code: { desc: PSEUDOCODE },
    program_example: { desc: "An example of the program in use." }
  },
  outputs: {
    program_description: {
      desc: "Describe what task the program is designed to solve, and how it goes about solving this task."
    }
  }
})

const DescribeModule = Signature.fromFields({
  name: "DescribeModule",
  instructions: `${DESCRIBE_PREAMBLE} Please describe the purpose of one of the specified module in this pipeline.`,
  inputs: {
    program_code: { desc: PSEUDOCODE },
    program_example: { desc: "An example of the program in use." },
    program_description: { desc: PROGRAM_SUMMARY },
    module: { desc: "The module in the program that we want to describe." }
  },
  outputs: { module_description: { desc: "Description of the module's role in the broader program." } }
})

/** DSPy's `generate_instruction_class`: the fields present depend on what the proposer is aware of. */
const generateInstruction = (flags: { readonly dataset: boolean; readonly program: boolean; readonly tip: boolean }) =>
  Signature.fromFields({
    name: "GenerateSingleModuleInstruction",
    instructions:
      "Use the information below to learn about a task that we are trying to solve using calls to an LM, then generate a new instruction that will be used to prompt a Language Model to better solve the task.",
    inputs: {
      ...(flags.dataset ? { dataset_description: { desc: "A description of the dataset that we are using." } } : {}),
      ...(flags.program
        ? {
          program_code: { desc: "Language model program designed to solve a particular task." },
          program_description: { desc: PROGRAM_SUMMARY },
          module: { desc: "The module to create an instruction for." },
          module_description: { desc: "Description of the module to create an instruction for." }
        }
        : {}),
      task_demos: { desc: "Example inputs/outputs of our module." },
      basic_instruction: { desc: "Basic instruction." },
      ...(flags.tip ? { tip: { desc: "A suggestion for how to go about generating the new instruction." } } : {})
    },
    outputs: {
      proposed_instruction: {
        desc: "Propose an instruction that will be used to prompt a Language Model to perform this task."
      }
    }
  })

/**
 * What the proposer shows as `program_code`. DSPy sends the program's Python source (and its signatures'
 * sources); a DSPex program is TypeScript with no source at hand, so this is a faithful textual description
 * instead: the module tree in DSPy's attribute paths, each predictor with its signature string and
 * instructions.
 */
export const programCode = (program: Module.Module): string => {
  const predictors = new Map<Module.Module, Predict.Predict>(program.namedPredictors().map(([, p]) => [p, p]))
  const lines = [
    `# The module tree of a DSPex program (TypeScript: no Python source to show), one line per module.`
  ]
  for (const [path, module] of program.namedSubModules()) {
    const depth = path.split(".").length - 1
    const indent = "    ".repeat(depth)
    const predictor = predictors.get(module)
    if (predictor === undefined) {
      lines.push(`${indent}${path} = ${module.constructor.name}(...)`)
    } else {
      lines.push(`${indent}${path} = Predict(${JSON.stringify(predictor.signature.toString())})`)
      lines.push(`${indent}    instructions = ${JSON.stringify(predictor.signature.instructions)}`)
    }
  }
  return lines.join("\n")
}

/** DSPy's `create_example_string`: one "Prefix: value" line per signature field. */
const exampleString = (signature: Signature.Signature, demo: Adapter.Demo): string =>
  signature.fields.map((f) => `${f.prefix} ${f.name in demo ? PyText.str(demo[f.name]) : "None"}`).join("\n")

/** DSPy's task demos: up to `max` augmented demos from set `setI`, then the sets after it, then those before. */
const taskDemos = (
  signature: Signature.Signature,
  sets: ReadonlyArray<ReadonlyArray<Adapter.Demo>>,
  setI: number,
  max: number
): string => {
  const ordered = [sets[setI] ?? [], ...sets.slice(setI + 1), ...sets.slice(0, setI)]
  const strings: Array<string> = []
  for (const set of ordered) {
    for (const demo of set) {
      if (strings.length >= max) break
      if ("augmented" in demo) strings.push(exampleString(signature, demo))
    }
  }
  return strings.join("\n\n") + "\n\n"
}

export interface ProposerOptions {
  /** The prompt model (MIPROv2's `prompt_model`, else the fiber's CurrentLM). */
  readonly promptModel: LM.LM
  readonly initTemperature: number
  readonly viewDataBatchSize: number
  readonly programAware: boolean
  readonly dataAware: boolean
  readonly fewshotAware: boolean
  readonly tipAware: boolean
  /** Augmented demos shown per proposal (MIPROv2: BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT = 3). */
  readonly demosInContext: number
  /** Proposals made at once (default 1). */
  readonly concurrency?: number | undefined
}

/** One prompt-model call under the proposal's rollout LM (DSPy's `dspy.context(lm=rollout_lm)`). */
const predict = (
  signature: Signature.Signature,
  inputs: Record<string, string>,
  output: string,
  lm: LM.LM
): Effect.Effect<string, any, any> =>
  Predict.make(signature).call(inputs, { lm }).pipe(
    Effect.map((prediction) => String(prediction.get(output) ?? ""))
  )

/** DSPy's module string for DescribeModule, e.g. `Predict(question) -> reasoning, answer`. */
const moduleString = (predictor: Predict.Predict): string =>
  `${predictor.constructor.name}(${predictor.signature.inputNames.join(", ")}) -> ${
    predictor.signature.outputNames.join(", ")
  }`

/** What one proposal is grounded in, besides the LM's own descriptions. */
interface ProposalInputs {
  readonly predictor: Predict.Predict
  readonly code: string
  readonly summary: string | undefined
  readonly demos: string
  readonly tip: string | undefined
  readonly programAware: boolean
  readonly lm: LM.LM
  /** Names the proposal in a ProposalFailed. */
  readonly step: string
}

/**
 * DSPy's `GenerateModuleInstruction.forward`: program and module descriptions (a failure leaves DSPy's
 * placeholders, and the fields stay in the signature, as in DSPy), then the proposal, its "Label:" prefix
 * stripped (twice, as DSPy strips it in `forward` and again in the proposer).
 */
const proposeOne = (p: ProposalInputs): Effect.Effect<string, any, any> =>
  Effect.gen(function*() {
    let programDescription = "Not available"
    let module = "Not provided"
    let moduleDescription = "Not provided"
    if (p.programAware) {
      yield* Effect.gen(function*() {
        programDescription = stripPrefix(
          yield* predict(
            DescribeProgram,
            { program_code: p.code, program_example: p.demos },
            "program_description",
            p.lm
          )
        )
        module = moduleString(p.predictor)
        moduleDescription = yield* predict(
          DescribeModule,
          { program_code: p.code, program_example: p.demos, program_description: programDescription, module },
          "module_description",
          p.lm
        )
      }).pipe(
        Effect.catch((e) => Effect.logWarning(`Could not describe the program (${String(e)}); proposing without.`))
      )
    }
    const signature = generateInstruction({
      dataset: p.summary !== undefined,
      program: p.programAware,
      tip: p.tip !== undefined && p.tip !== ""
    })
    const inputs: Record<string, string> = {
      ...(p.summary !== undefined ? { dataset_description: p.summary } : {}),
      ...(p.programAware
        ? {
          program_code: p.code,
          program_description: programDescription,
          module,
          module_description: moduleDescription
        }
        : {}),
      task_demos: p.demos,
      basic_instruction: p.predictor.signature.instructions,
      ...(p.tip !== undefined && p.tip !== "" ? { tip: p.tip } : {})
    }
    const proposed = yield* predict(signature, inputs, "proposed_instruction", p.lm).pipe(
      Effect.mapError((error) => new ProposalFailed({ optimizer: "MIPROv2", step: p.step, error }))
    )
    return stripPrefix(stripPrefix(proposed))
  })

/**
 * DSPy's `propose_instructions_for_program`: per predictor, one proposal for each of the first
 * `min(n, number of demo sets)` demo sets (n without demo sets). `demoSets[i]` are predictor i's sets.
 * Each proposal draws its tip (when tip-aware) and then its rollout id from `rng`, as DSPy does.
 */
export const proposeInstructions = (
  session: Session,
  program: Module.Module,
  trainset: ReadonlyArray<Example.Example>,
  demoSets: ReadonlyArray<ReadonlyArray<ReadonlyArray<Adapter.Demo>>> | undefined,
  n: number,
  rng: PyRandom,
  options: ProposerOptions
): Effect.Effect<Array<Array<string>>, any, any> =>
  Effect.gen(function*() {
    const code = options.programAware ? programCode(program) : ""
    let summary: string | undefined
    if (options.dataAware) {
      summary = yield* createDatasetSummary(session, trainset, options.viewDataBatchSize, options.promptModel).pipe(
        Effect.catchIf((e) => !isBudgetStop(e), (e) =>
          Effect.as(
            Effect.logWarning(`Could not summarize the dataset (${String(e)}); proposing without a summary.`),
            undefined
          ))
      )
    }
    const haveDemos = demoSets !== undefined && demoSets.length > 0 && demoSets[0]!.length > 0
    const useTaskDemos = options.fewshotAware && haveDemos
    const numDemos = haveDemos ? Math.max(demoSets[0]!.length, 1) : n
    const candidate = ProgramState.stateHash(program)
    // Every random draw happens first, in DSPy's order (tip, then rollout id, proposal by proposal); the
    // proposals themselves are independent prompt-model calls, so they then run concurrently.
    const planned: Array<{ readonly predI: number; readonly inputs: ProposalInputs; readonly key: string }> = []
    const predictors = program.namedPredictors()
    for (let predI = 0; predI < predictors.length; predI++) {
      const [path, predictor] = predictors[predI]!
      for (let setI = 0; setI < Math.min(n, numDemos); setI++) {
        const tip = options.tipAware ? rng.choice(TIPS)[1] : undefined
        const rolloutId = rng.randint(0, 10 ** 9)
        // A fresh rollout id per proposal, so a cache never serves one proposal for another (DSPy's words).
        const lm = LM.copy(options.promptModel, { rolloutId, temperature: options.initTemperature })
        let demos = useTaskDemos ? taskDemos(predictor.signature, demoSets![predI]!, setI, options.demosInContext) : ""
        if (demos.trim() === "" || setI === 0) demos = "No task demos provided."
        const step = `instruction proposal ${setI} for predictor ${predI} (${path})`
        const inputs: ProposalInputs = {
          step,
          predictor,
          code,
          summary,
          demos,
          tip,
          programAware: options.programAware,
          lm
        }
        const key = ProgramState.hashState({
          predI,
          setI,
          code,
          summary: summary ?? null,
          demos,
          tip: tip ?? null,
          basic: predictor.signature.instructions,
          lm
        })
        planned.push({ predI, inputs, key })
      }
    }
    const instructions = yield* Effect.forEach(
      planned,
      ({ inputs, key }) => session.step("proposal", inputs.step, candidate, `instruction/${key}`, proposeOne(inputs)),
      { concurrency: options.concurrency ?? 1 }
    )
    const proposals: Array<Array<string>> = predictors.map(() => [])
    planned.forEach(({ predI }, i) => proposals[predI]!.push(instructions[i] as string))
    return proposals
  })
