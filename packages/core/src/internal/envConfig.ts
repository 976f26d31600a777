/**
 * DSPex's own settings read from Config (the environment by default). Effect's ConfigError is not an
 * `Error` (an escaped one prints as "[object Object]") and its messages name a schema, not a setting, so
 * every read here fails with LMConfigurationError naming the variable, the value and what it takes.
 * An empty value counts as unset, as shells and `.env` files often leave a variable set to "".
 */
import { Config, Effect, Option } from "effect"
import { LMConfigurationError } from "../LMError.ts"

/** A variable's raw text, or undefined when it is unset or empty. */
export const optionalString = (variable: string): Effect.Effect<string | undefined, LMConfigurationError> =>
  Effect.mapError(
    Effect.map(Config.option(Config.String(variable)), (value) => {
      const text = Option.getOrUndefined(value)
      return text === undefined || text.trim() === "" ? undefined : text
    }),
    (e) => new LMConfigurationError({ variable, detail: `${variable} could not be read (${e.message})` })
  )

export interface NumberRule {
  readonly integer?: boolean | undefined
  readonly min: number
  /** What the variable takes, for the error: "a timeout in milliseconds (e.g. 60000)". */
  readonly expected: string
}

/** A numeric variable, or undefined when unset; anything else than a number within the rule is an error. */
export const optionalNumber = (
  variable: string,
  rule: NumberRule
): Effect.Effect<number | undefined, LMConfigurationError> =>
  Effect.flatMap(optionalString(variable), (text) => {
    if (text === undefined) return Effect.succeed(undefined)
    const n = Number(text.trim())
    const ok = Number.isFinite(n) && n >= rule.min && (rule.integer !== true || Number.isInteger(n))
    return ok ? Effect.succeed(n) : Effect.fail(invalid(variable, text, rule.expected))
  })

/** A variable that takes one of `choices`, or undefined when unset. */
export const optionalChoice = <const C extends string>(
  variable: string,
  choices: ReadonlyArray<C>
): Effect.Effect<C | undefined, LMConfigurationError> =>
  Effect.flatMap(optionalString(variable), (text) => {
    if (text === undefined) return Effect.succeed(undefined)
    const choice = choices.find((c) => c === text.trim().toLowerCase())
    return choice !== undefined
      ? Effect.succeed(choice)
      : Effect.fail(invalid(variable, text, `one of ${choices.join(", ")}`))
  })

/**
 * The error for a value that does not fit its variable.
 *
 * @example
 * invalid("DSPEX_LM_TIMEOUT_MS", "abc", "a timeout in milliseconds (e.g. 60000)")
 */
export const invalid = (variable: string, value: string, expected: string): LMConfigurationError =>
  new LMConfigurationError({
    variable,
    detail: `${variable}=${JSON.stringify(value)} is not valid: expected ${expected}`,
    fix: `Set ${variable} to ${expected}, or unset it to use the default`
  })
