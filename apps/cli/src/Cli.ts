/**
 * The `dspex` command tree (effect/cli): `prompt format`, `prompt parse`, `run-example`. Every flag's help
 * shows its default; invalid values are usage errors (see Usage.ts), printed as JSON like any other error.
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { normalizeArgs } from "./Args.ts"
import { exampleCount } from "./Dataset.ts"
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

export const dspex = Command.make("dspex").pipe(
  Command.withDescription("DSPex: DSPy-style LM programming for TypeScript, on Effect"),
  Command.withSubcommands([prompt, runExampleCommand])
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
