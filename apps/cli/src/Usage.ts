/**
 * Usage errors (an unknown flag, a missing or invalid value, no subcommand) follow the CLI's one error
 * convention: `{"error": {...}}` JSON on stdout, the message on stderr, exit code 1. The help that goes
 * with them is written to stderr, so stdout stays JSON whatever happens; help asked for with `--help`
 * (and `--version`) is the command's output and goes to stdout.
 */
import { Console, Effect, Layer, Schema } from "effect"
import { CliError, CliOutput } from "effect/cli"

/**
 * The command line does not fit the command: what is wrong, for which command. `hint` is what to change,
 * when the command knows better than its help (the valid names, the keys a JSON flag takes).
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  command: Schema.String,
  problems: Schema.Array(Schema.String),
  hint: Schema.optional(Schema.String)
}) {
  readonly retryable = false
  override get message(): string {
    return this.problems.length === 0
      ? `${this.command} needs a subcommand`
      : `${this.command}: ${this.problems.join("; ")}`
  }
  get suggestion(): string {
    return this.hint === undefined
      ? `Run \`${this.command} --help\` for its flags, their defaults and subcommands (the help is also on stderr above).`
      : `${this.hint} (\`${this.command} --help\` lists every flag.)`
  }
}

/**
 * Help on stderr for a usage error (and for help shown because no subcommand was given); help and version
 * asked for go to stdout.
 */
export const layerPresenter: Layer.Layer<never> = CliOutput.layerPresenter({
  present: (event) =>
    Effect.gen(function*() {
      const formatter = yield* CliOutput.Formatter
      switch (event._tag) {
        case "Help":
          return yield* (event.reason === "Requested" ? Console.log : Console.error)(
            formatter.formatHelpDoc(event.helpDoc)
          )
        case "InvalidInvocation":
          return yield* Console.error(formatter.formatHelpDoc(event.helpDoc))
        case "Version":
          return yield* Console.log(formatter.formatVersion(event.name, event.version))
      }
    })
})

/**
 * The usage error for effect/cli's `ShowHelp` failure, or undefined for any other value.
 *
 * For example (the command's own internals, not a library API):
 * const usage = fromShowHelp(error) // UsageError { command: "dspex run-example", problems: ["Unrecognized flag: --bogus ..."] }
 */
export const fromShowHelp = (error: unknown): UsageError | undefined =>
  CliError.isCliError(error) && error._tag === "ShowHelp"
    ? new UsageError({ command: error.commandPath.join(" "), problems: error.errors.map((e) => e.message) })
    : undefined
