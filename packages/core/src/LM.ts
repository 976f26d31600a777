/**
 * An LM is plain data: a model id ("openai/gpt-4o-mini") and its default request settings, like DSPy's
 * `dspy.LM(...)`. It is what predictors hold and what saved programs store; the LanguageModel service
 * turns it into provider calls. Being data, it travels to cluster workers and is copied freely.
 */
import { Context } from "effect"

export interface LM {
  /** "provider/model", e.g. "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama/llama3.2". */
  readonly model: string
  readonly modelType?: "chat" | undefined
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly n?: number | undefined
  readonly stop?: ReadonlyArray<string> | undefined
  /** Part of the cache key, never sent: distinct rollout ids give distinct cached samples. */
  readonly rolloutId?: number | string | undefined
  /** false: neither read nor write the cache for this LM. */
  readonly cache?: boolean | undefined
  readonly numRetries?: number | undefined
  /** Extra provider request options, sent as they are (and saved with the program). */
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined
}

/**
 * @example
 * ```ts
 * import { LM, Predict } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const lm = LM.make("openai/gpt-4o-mini", { temperature: 0 })
 * const answer = Predict.make("question -> answer").call({ question: "What is 2 + 2?" }).pipe(
 *   Effect.provideService(LM.CurrentLM, lm) // the LM of every predictor that has none of its own
 * )
 * ```
 */
export const make = (model: string, options: Omit<LM, "model"> = {}): LM => ({ model, ...options })

/** DSPy's `lm.copy(**kwargs)`: same model, some settings replaced. */
export const copy = (lm: LM, overrides: Partial<LM>): LM => ({ ...lm, ...overrides })

/** Splits "openai/gpt-4o-mini" into provider and provider-side model name (no prefix means "openai"). */
export const splitModel = (model: string): { readonly provider: string; readonly name: string } => {
  const i = model.indexOf("/")
  return i < 0 ? { provider: "openai", name: model } : { provider: model.slice(0, i), name: model.slice(i + 1) }
}

/** The LM used by predictors that have none of their own (DSPy's `dspy.configure(lm=...)`), per fiber. */
export const CurrentLM = Context.Reference<LM | undefined>("@dspex/core/CurrentLM", { defaultValue: () => undefined })
