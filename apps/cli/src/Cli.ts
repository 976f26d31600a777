/**
 * The `dspex` command tree (effect/cli): `prompt format`, `prompt parse`, `run-example`.
 */
import { Option } from "effect"
import { Command, Flag } from "effect/cli"
import { printJson } from "./Output.ts"
import { formatPrompt, parsePrompt } from "./Prompt.ts"
import { runExample } from "./RunExample.ts"

const adapter = Flag.Literals("adapter", ["chat", "json", "xml"]).pipe(
  Flag.withDefault("chat" as const),
  Flag.withDescription("Adapter that renders or parses: chat (DSPy's ChatAdapter), json, xml")
)
const signature = Flag.String("signature").pipe(
  Flag.withDescription("DSPy signature string, e.g. \"context: list[str], question -> answer: float\"")
)
const instructions = Flag.String("instructions").pipe(Flag.optional, Flag.withDescription("Task instructions (default: DSPy's)"))

const format = Command.make("format", {
  adapter,
  signature,
  instructions,
  demos: Flag.String("demos").pipe(Flag.optional, Flag.withDescription("JSON file with an array of demo objects, or - for stdin")),
  inputs: Flag.String("inputs").pipe(Flag.withDescription("JSON file with the input fields, or - for stdin"))
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
  completion: Flag.String("completion").pipe(Flag.withDescription("Text file with the LM completion, or - for stdin"))
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

const runExampleCommand = Command.make("run-example", {
  model: Flag.String("model").pipe(Flag.optional, Flag.withDescription("provider/model, e.g. openai/gpt-4o-mini (default depends on the provider)")),
  limit: Flag.Int("limit").pipe(Flag.withDefault(20), Flag.withDescription("Number of examples")),
  threads: Flag.Int("threads").pipe(Flag.withDefault(8), Flag.withDescription("Concurrent examples")),
  cache: Flag.Boolean("cache").pipe(Flag.withDefault(false), Flag.withDescription("Use the LM cache (DSPEX_CACHE_DIR)"))
}, (cfg) =>
  printJson(runExample({
    model: Option.getOrUndefined(cfg.model),
    limit: cfg.limit,
    threads: cfg.threads,
    cache: cfg.cache
  }))).pipe(Command.withDescription("Evaluate an example program on a small dataset (simulated provider unless an API key is set)"))

export const dspex = Command.make("dspex").pipe(
  Command.withDescription("DSPex: DSPy-style LM programming for TypeScript, on Effect"),
  Command.withSubcommands([prompt, runExampleCommand])
)

/** Runs the CLI on the process arguments. */
export const main = Command.run(dspex, { version: "0.1.0" })

