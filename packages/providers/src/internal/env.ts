/**
 * A provider's settings from Config (the environment by default), failing with DSPex's
 * LMConfigurationError (which variable, what to set) instead of Effect's ConfigError, which is not an
 * `Error` and would escape `Effect.runPromise` as "[object Object]". An empty value counts as unset.
 */
import { LMError } from "@dspex/core"
import { Config, Effect, Option, Redacted } from "effect"

/** Who reads a setting, for the error: the provider's name and the function a user can give a key to. */
export interface Reader {
  /** "openai" */
  readonly provider: string
  /** "OpenAi.layer" (for "pass { apiKey } to OpenAi.layer"). */
  readonly call: string
}

/** A variable's text, or undefined when unset or empty. */
export const optionalString = (
  variable: string,
  reader: Reader
): Effect.Effect<string | undefined, LMError.LMConfigurationError> =>
  Effect.mapError(
    Effect.map(Config.option(Config.String(variable)), (value) => {
      const text = Option.getOrUndefined(value)
      return text === undefined || text.trim() === "" ? undefined : text.trim()
    }),
    (e) =>
      new LMError.LMConfigurationError({
        provider: reader.provider,
        variable,
        detail: `${variable} could not be read (${e.message})`
      })
  )

/** An API key from `variable`, or undefined when unset. */
export const optionalKey = (variable: string, reader: Reader) =>
  Effect.map(optionalString(variable, reader), (text) => (text === undefined ? undefined : Redacted.make(text)))

/**
 * An API key that must be set: the given one, else `variable`.
 *
 * @example
 * const key = yield* requiredKey(options.apiKey, "OPENAI_API_KEY", { provider: "openai", call: "OpenAi.layer" })
 */
export const requiredKey = (
  given: Redacted.Redacted<string> | undefined,
  variable: string,
  reader: Reader
): Effect.Effect<Redacted.Redacted<string>, LMError.LMConfigurationError> => {
  if (given !== undefined) return Effect.succeed(given)
  return Effect.flatMap(optionalKey(variable, reader), (key) =>
    key !== undefined
      ? Effect.succeed(key)
      : Effect.fail(
        new LMError.LMConfigurationError({
          provider: reader.provider,
          variable,
          detail: `${variable} is not set (the ${reader.provider} provider reads its API key from it)`,
          fix:
            `Set ${variable} to your API key (export ${variable}=...), or pass { apiKey: Redacted.make(key) } to ${reader.call}`
        })
      ))
}

/**
 * A base URL: the given one, else `variable`, else `fallback`; anything but an http(s) URL is an error
 * naming where it came from.
 *
 * @example
 * const baseURL = yield* baseUrl(options.baseURL, "OPENAI_BASE_URL", "https://api.openai.com/v1", reader)
 */
export const baseUrl = (
  given: string | undefined,
  variable: string | undefined,
  fallback: string | undefined,
  reader: Reader
): Effect.Effect<string, LMError.LMConfigurationError> =>
  Effect.flatMap(
    given !== undefined || variable === undefined ? Effect.succeed(given) : optionalString(variable, reader),
    (value) => {
      const url = value ?? fallback
      const from = value === undefined ? "the default base URL" : given !== undefined ? "the baseURL option" : variable!
      if (url !== undefined && isHttpUrl(url)) return Effect.succeed(url)
      return Effect.fail(
        new LMError.LMConfigurationError({
          provider: reader.provider,
          ...(given === undefined && variable !== undefined ? { variable } : {}),
          detail: url === undefined
            ? `no base URL for ${reader.provider}`
            : `${from} ${JSON.stringify(url)} is not an http(s) URL`,
          fix: `Give an http(s) URL such as "http://localhost:8000/v1"${
            variable === undefined ? "" : ` in ${variable}`
          }, or the baseURL option`
        })
      )
    }
  )

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}
