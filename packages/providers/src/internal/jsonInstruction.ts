/**
 * For providers without a JSON mode: the response format becomes an instruction in the system prompt,
 * so DSPex's JSON adapter still gets a parseable object back.
 */
import type { LanguageModel } from "@dspex/core"

/** The instruction that stands in for `response_format`. */
export const jsonInstruction = (format: LanguageModel.ResponseFormat): string =>
  format.type === "json_object"
    ? "Respond with a single valid JSON object and nothing else."
    : `Respond with a single valid JSON object and nothing else, matching this JSON schema:\n${
      JSON.stringify(format.json_schema.schema)
    }`
