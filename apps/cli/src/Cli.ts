/**
 * The `dspex` command tree (effect/cli): `prompt format`, `prompt parse`, `run-example`, `optimize`. Every flag's help
 * shows its default; invalid values are usage errors (see Usage.ts), printed as JSON like any other error.
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { normalizeArgs } from "./Args.ts"
import { exampleCount } from "./Dataset.ts"
import { metricNames } from "./Metric.ts"
import { optimizerNames, optimizers } from "./Optimizers.ts"
import { printError, printJson } from "./Output.ts"
import { formatPrompt, parsePrompt } from "./Prompt.ts"
import { fromShowHelp, layerPresenter } from "./Usage.ts"

export const version = "0.1.0"

const adapter = Flag.Literals("adapter", ["chat", "json", "xml"]).pipe(
  Flag.withDefault("chat" as const),
  Flag.withDescription("Adapter that renders or parses: chat (DSPy's ChatAdapter), json, xml (default: chat)")
)
const signature = Flag.String("signature").pipe(
  Flag.withDescription("DSPy signature string, e.g. \"context: list[str], question -> answer: float\" (required)")
)
const instructions = Flag.String("instructions").pipe(
  Flag.optional,
  Flag.withDescription("Task instructions (default: DSPy's, from the signature's fields)")
)

const format = Command.make("format", {
  adapter,
  signature,
  instructions,
  demos: Flag.String("demos").pipe(
    Flag.optional,
    Flag.withDescription("JSON file with an array of demo objects, or - for stdin (default: no demos)")
  ),
  inputs: Flag.String("inputs").pipe(Flag.withDescription("JSON file with the input fields, or - for stdin (required)"))
}, (cfg) =>
  printJson(formatPrompt({
    adapter: cfg.adapter,
    signature: cfg.signature,
    instructions: Option.getOrUndefined(cfg.instructions),
    demos: Option.getOrUndefined(cfg.demos),
    inputs: cfg.inputs
  }))).pipe(Command.withDescription("Print, as JSON, the exact messages the adapter renders"))

const parse = Command.make("parse", {
  adapter,
  signature,
  instructions,
  completion: Flag.String("completion").pipe(
    Flag.withDescription("Text file with the LM completion, or - for stdin (required)")
  )
}, (cfg) =>
  printJson(parsePrompt({
    adapter: cfg.adapter,
    signature: cfg.signature,
    instructions: Option.getOrUndefined(cfg.instructions),
    completion: cfg.completion
  }))).pipe(Command.withDescription("Print the outputs the adapter parses from a completion, or its typed error"))

const prompt = Command.make("prompt").pipe(
  Command.withDescription("See exactly what is sent to the LM and what comes back"),
  Command.withSubcommands([format, parse])
)

const defaults = { limit: 20, threads: 8 } as const

const runExampleCommand = Command.make("run-example", {
  model: Flag.String("model").pipe(
    Flag.optional,
    Flag.withDescription(
      "provider/model (default: openai/gpt-4o-mini with OPENAI_API_KEY or OPENAI_BASE_URL set, else anthropic/claude-haiku-4-5 with ANTHROPIC_API_KEY, else openai/dspex-sim on the simulated provider)"
    )
  ),
  limit: Flag.Int("limit").pipe(
    Flag.withDefault(defaults.limit),
    Flag.filter(
      (n) => n >= 1 && n <= exampleCount,
      () => `1 to ${exampleCount} (the built-in dataset has ${exampleCount} examples)`
    ),
    Flag.withDescription(`Number of examples, 1 to ${exampleCount} (default: ${defaults.limit})`)
  ),
  threads: Flag.Int("threads").pipe(
    Flag.withDefault(defaults.threads),
    Flag.filter((n) => n >= 1, () => "a whole number of at least 1"),
    Flag.withDescription(`Concurrent examples, at least 1 (default: ${defaults.threads})`)
  ),
  cache: Flag.Boolean("cache").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Use the LM cache: memory and disk at DSPEX_CACHE_DIR, as DSPEX_CACHE says (default: off)")
  ),
  simulate: Flag.Boolean("simulate").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Run against the simulated provider even when API keys are set (default: only when none is)")
  )
}, (cfg) =>
  // Loaded only here: the providers, their SDKs and the simulator are what make the other commands slow to start.
  printJson(Effect.flatMap(Effect.promise(() => import("./RunExample.ts")), ({ runExample }) =>
    runExample({
      model: Option.getOrUndefined(cfg.model),
      limit: cfg.limit,
      threads: cfg.threads,
      cache: cfg.cache,
      simulate: cfg.simulate
    })))).pipe(
    Command.withDescription(
      "Evaluate an example program on a small dataset (simulated provider unless an API key is set)"
    )
  )

const optionalPositive = (flag: Flag.Flag<number>, what: string, description: string) =>
  flag.pipe(
    Flag.filter((n) => n > 0, () => `${what} above 0`),
    Flag.optional,
    Flag.withDescription(description)
  )

const optimizeCommand = Command.make("optimize", {
  program: Flag.String("program").pipe(
    Flag.optional,
    Flag.withDescription(
      "Module file (.ts, .js, .mjs) whose default export, or `program` export, is a DSPex Module (this or --signature)"
    )
  ),
  signature: Flag.String("signature").pipe(
    Flag.optional,
    Flag.withDescription(
      "Compile a single module over this DSPy signature, e.g. \"question -> answer\" (this or --program)"
    )
  ),
  module: Flag.Literals("module", ["predict", "chain-of-thought"]).pipe(
    Flag.withDefault("predict" as const),
    Flag.withDescription("The module --signature builds (default: predict)")
  ),
  optimizer: Flag.Literals("optimizer", optimizerNames).pipe(
    Flag.withDescription(
      `The optimizer (required): ${optimizerNames.map((n) => `${n} (${optimizers[n].dspy})`).join(", ")}`
    )
  ),
  trainset: Flag.String("trainset").pipe(
    Flag.withDescription("JSONL file, one example object per line (required)")
  ),
  valset: Flag.String("valset").pipe(
    Flag.optional,
    Flag.withDescription(
      "JSONL file the candidates are scored on (default: each optimizer's DSPy default, the trainset)"
    )
  ),
  metric: Flag.String("metric").pipe(
    Flag.optional,
    Flag.withDescription(
      `${
        metricNames.join(", ")
      }, or a function the --program file exports (default: its \`metric\` export, else exact_match)`
    )
  ),
  inputs: Flag.String("inputs").pipe(
    Flag.optional,
    Flag.withDescription(
      "Comma-separated input keys of the examples, e.g. question,context (default: the program's input fields found in the data)"
    )
  ),
  out: Flag.String("out").pipe(
    Flag.withDescription("Where to save the compiled program, in DSPy's JSON layout (required)")
  ),
  model: Flag.String("model").pipe(
    Flag.optional,
    Flag.withDescription(
      "provider/model, as for run-example (default: openai/gpt-4o-mini with OPENAI_API_KEY or OPENAI_BASE_URL set, else anthropic/claude-haiku-4-5 with ANTHROPIC_API_KEY, else openai/dspex-sim on the simulated provider)"
    )
  ),
  simulate: Flag.Boolean("simulate").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Run against the simulated provider even when API keys are set (default: only when none is)")
  ),
  cache: Flag.Boolean("cache").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Use the LM cache: memory and disk at DSPEX_CACHE_DIR, as DSPEX_CACHE says (default: off)")
  ),
  threads: Flag.Int("threads").pipe(
    Flag.withDefault(defaults.threads),
    Flag.filter((n) => n >= 1, () => "a whole number of at least 1"),
    Flag.withDescription(`Concurrent examples, at least 1 (default: ${defaults.threads})`)
  ),
  seed: Flag.Int("seed").pipe(
    Flag.optional,
    Flag.withDescription("Seed of the optimizer's random choices (default: the optimizer's DSPy default)")
  ),
  config: Flag.String("config").pipe(
    Flag.optional,
    Flag.withDescription(
      "The optimizer's hyperparameters as a JSON object, e.g. '{\"maxBootstrappedDemos\": 2}' (default: DSPy's)"
    )
  ),
  embedder: Flag.String("embedder").pipe(
    Flag.withDefault("openai/text-embedding-3-small"),
    Flag.withDescription(
      "Embedding model of knn, on OpenAI's API as configured, or the simulator's (default: openai/text-embedding-3-small)"
    )
  ),
  maxLmCalls: optionalPositive(
    Flag.Int("max-lm-calls"),
    "a whole number",
    "Stop after this many LM calls (default: no limit)"
  ),
  maxMetricCalls: optionalPositive(
    Flag.Int("max-metric-calls"),
    "a whole number",
    "Stop after this many examples scored (default: no limit)"
  ),
  maxCost: optionalPositive(
    Flag.Finite("max-cost"),
    "an amount in USD",
    "Stop once this many USD are spent (default: no limit)"
  ),
  checkpoint: Flag.String("checkpoint").pipe(
    Flag.optional,
    Flag.withDescription(
      "SQLite file keeping every paid step, so the same command run again resumes where it stopped (default: none)"
    )
  )
}, (cfg) =>
  // Loaded only here: the optimizers, the providers, their SDKs and the simulator.
  printJson(Effect.flatMap(Effect.promise(() => import("./Optimize.ts")), ({ optimize }) =>
    optimize({
      program: Option.getOrUndefined(cfg.program),
      signature: Option.getOrUndefined(cfg.signature),
      module: cfg.module,
      optimizer: cfg.optimizer,
      trainset: cfg.trainset,
      valset: Option.getOrUndefined(cfg.valset),
      metric: Option.getOrUndefined(cfg.metric),
      inputs: Option.getOrUndefined(
        Option.map(cfg.inputs, (s) => s.split(",").map((k) => k.trim()).filter((k) => k !== ""))
      ),
      out: cfg.out,
      model: Option.getOrUndefined(cfg.model),
      simulate: cfg.simulate,
      cache: cfg.cache,
      threads: cfg.threads,
      seed: Option.getOrUndefined(cfg.seed),
      config: Option.getOrUndefined(cfg.config),
      embedder: cfg.embedder,
      budget: {
        maxLmCalls: Option.getOrUndefined(cfg.maxLmCalls),
        maxMetricCalls: Option.getOrUndefined(cfg.maxMetricCalls),
        maxCost: Option.getOrUndefined(cfg.maxCost)
      },
      checkpoint: Option.getOrUndefined(cfg.checkpoint)
    })))).pipe(
    Command.withDescription(
      "Compile a program with one of DSPy's optimizers on a JSONL trainset and save it in DSPy's JSON layout"
    )
  )

export const dspex = Command.make("dspex").pipe(
  Command.withDescription("DSPex: DSPy-style LM programming for TypeScript, on Effect"),
  Command.withSubcommands([prompt, runExampleCommand, optimizeCommand])
)

/**
 * Runs the CLI on the given arguments (the process's, without node and the script). A usage error is
 * printed as the JSON error it is, with the help on stderr.
 *
 * For example (the command's own internals, not a library API):
 * main(["prompt", "format", "--signature", "question -> answer", "--inputs", "-"])
 */
export const main = (argv: ReadonlyArray<string>) =>
  Command.runWith(dspex, { version })(normalizeArgs(argv)).pipe(
    Effect.catch((error) => {
      const usage = fromShowHelp(error)
      return usage === undefined ? Effect.fail(error) : printError(usage)
    }),
    Effect.provide(layerPresenter)
  )
