/**
 * Prices and context windows from `@pydantic/genai-prices`' bundled catalogue, so no provider keeps a
 * hand-written price table. Unknown models cost `undefined` (not zero): a missing price must not look free.
 */
import type { LanguageModel } from "@dspex/core"
import { calcPrice, findProvider } from "@pydantic/genai-prices"

/**
 * Cost in USD of a call, or undefined when the catalogue has no price for the model.
 *
 * @example
 * costOf("openai", "gpt-4o-mini", { promptTokens: 1000, completionTokens: 100, totalTokens: 1100 })
 */
export const costOf = (providerId: string, model: string, usage: LanguageModel.LMUsage): number | undefined => {
  try {
    const result = calcPrice({ input_tokens: usage.promptTokens, output_tokens: usage.completionTokens }, model, {
      providerId
    })
    return result === null ? undefined : result.total_price
  } catch {
    // The catalogue throws on inconsistent price data; a cost is best-effort, never a failed call.
    return undefined
  }
}

const matches = (logic: unknown, id: string): boolean => {
  if (typeof logic !== "object" || logic === null) return false
  const l = logic as Record<string, unknown>
  if (typeof l.equals === "string") return id === l.equals
  if (typeof l.starts_with === "string") return id.startsWith(l.starts_with)
  if (typeof l.ends_with === "string") return id.endsWith(l.ends_with)
  if (typeof l.contains === "string") return id.includes(l.contains)
  if (typeof l.regex === "string") {
    try {
      return new RegExp(l.regex).test(id)
    } catch {
      return false
    }
  }
  if (Array.isArray(l.or)) return l.or.some((m) => matches(m, id))
  if (Array.isArray(l.and)) return l.and.every((m) => matches(m, id))
  return false
}

/** The model's context window in tokens, when the catalogue knows it. */
export const contextWindowOf = (providerId: string, model: string): number | undefined => {
  try {
    const provider = findProvider({ providerId })
    const info = provider?.models.find((m) => m.id === model) ?? provider?.models.find((m) => matches(m.match, model))
    return info?.context_window
  } catch {
    return undefined
  }
}
