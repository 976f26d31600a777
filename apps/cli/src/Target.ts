/**
 * Which provider `run-example` and `optimize` talk to. A real provider when the model asks for one (and its key is set),
 * or when no model is given and a key is; the simulated provider when nothing is configured or when asked
 * for with `--simulate`. A model whose provider cannot be used is an LMConfigurationError naming what to
 * set, before any example runs: never a run that fails example after example.
 */
import { type Embedder, LM, LMError, Providers } from "@dspex/core"
import { Anthropic, OpenAi, OpenAiEmbeddings } from "@dspex/providers"
import { Simulator } from "@dspex/simulator"
import { Config, Effect, Option, Redacted, type Scope } from "effect"

export interface Target {
  /** Where the requests go, for the header and the report: "OpenAI at https://api.openai.com/v1". */
  readonly description: string
  readonly model: string
  readonly providers: Providers.ProvidersShape
  readonly simulated: boolean
  /**
   * OpenAI's embeddings endpoint beside it (the simulator's, when simulated), for optimizers that embed
   * (KNNFewShot); built only when one asks, so a missing OPENAI_API_KEY fails only then.
   */
  readonly embeddings: Effect.Effect<Embedder.EmbeddingProvider, LMError.LMConfigurationError>
}

export interface TargetArgs {
  readonly model?: string | undefined
  readonly simulate: boolean
}

export const defaultModels = {
  openai: "openai/gpt-4o-mini",
  anthropic: "anthropic/claude-haiku-4-5",
  simulated: "openai/dspex-sim"
} as const

/** The providers the CLI knows, for the unknown-provider error. */
const supported =
  "openai/<model> (OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server) or anthropic/<model> (ANTHROPIC_API_KEY)"

const variable = (name: string) =>
  Effect.map(
    Effect.orElseSucceed(Config.option(Config.String(name)), () => Option.none<string>()),
    (v) => (Option.isSome(v) && v.value.trim() !== "" ? v.value.trim() : undefined)
  )

const unknownProvider = (model: string, provider: string) =>
  new LMError.LMConfigurationError({
    model,
    detail: `dspex has no provider "${provider}"`,
    fix: `Use ${supported}, or add --simulate to run the model name against the simulated provider`
  })

const missingKey = (model: string, provider: string, name: string, alternative: string) =>
  new LMError.LMConfigurationError({
    model,
    provider,
    variable: name,
    detail: `${name} is not set, so ${model} cannot be called`,
    fix: `Set ${name}${alternative}, or add --simulate to run against the simulated provider (or leave out --model)`
  })

/** The simulated provider, started for this run (closed with the scope), serving both APIs. */
const simulated = (model: string) =>
  Effect.gen(function*() {
    const { provider } = LM.splitModel(model)
    if (provider !== "openai" && provider !== "anthropic") return yield* unknownProvider(model, provider)
    const sim = yield* Effect.acquireRelease(
      Effect.promise(() => Simulator.start({ latency: { fixedMs: 20, jitterMs: 20 } })),
      (s) => Effect.promise(() => s.close())
    )
    const apiKey = Redacted.make("sk-simulated")
    const providers = Providers.make(
      yield* OpenAi.provider({ apiKey, baseURL: sim.openaiBaseUrl }),
      yield* Anthropic.provider({ apiKey, baseURL: sim.anthropicBaseUrl })
    )
    const url = provider === "openai" ? sim.openaiBaseUrl : sim.anthropicBaseUrl
    return {
      description: `the simulated provider at ${url}`,
      model,
      providers,
      simulated: true,
      embeddings: OpenAiEmbeddings.provider({ apiKey, baseURL: sim.openaiBaseUrl })
    } satisfies Target
  })

/**
 * Picks the target of a run from the flags and the environment.
 *
 * For example (the command's own internals, not a library API):
 * const target = yield* chooseTarget({ model: "anthropic/claude-haiku-4-5", simulate: false })
 * // fails without ANTHROPIC_API_KEY: LMConfigurationError { variable: "ANTHROPIC_API_KEY", ... }
 */
export const chooseTarget = (args: TargetArgs): Effect.Effect<Target, LMError.LMConfigurationError, Scope.Scope> =>
  Effect.gen(function*() {
    if (args.simulate) return yield* simulated(args.model ?? defaultModels.simulated)
    const openaiKey = yield* variable("OPENAI_API_KEY")
    const openaiBase = yield* variable("OPENAI_BASE_URL")
    const anthropicKey = yield* variable("ANTHROPIC_API_KEY")
    const provider = args.model === undefined
      ? openaiKey !== undefined || openaiBase !== undefined
        ? "openai"
        : anthropicKey !== undefined
        ? "anthropic"
        : undefined
      : LM.splitModel(args.model).provider
    if (provider === undefined) return yield* simulated(defaultModels.simulated)
    switch (provider) {
      case "openai": {
        const model = args.model ?? defaultModels.openai
        if (openaiKey === undefined && openaiBase === undefined) {
          return yield* missingKey(
            model,
            "openai",
            "OPENAI_API_KEY",
            " (or OPENAI_BASE_URL for an OpenAI-compatible server)"
          )
        }
        // A local OpenAI-compatible server usually wants no key; the SDK insists on one.
        const openai = yield* OpenAi.provider(openaiKey === undefined ? { apiKey: Redacted.make("not-needed") } : {})
        const where = openaiBase === undefined
          ? `OpenAI at ${openai.endpoint}`
          : `the OpenAI-compatible server at ${openai.endpoint}`
        return {
          description: where,
          model,
          providers: Providers.make(openai),
          simulated: false,
          embeddings: OpenAiEmbeddings.provider(openaiKey === undefined ? { apiKey: Redacted.make("not-needed") } : {})
        } satisfies Target
      }
      case "anthropic": {
        const model = args.model ?? defaultModels.anthropic
        if (anthropicKey === undefined) return yield* missingKey(model, "anthropic", "ANTHROPIC_API_KEY", "")
        const anthropic = yield* Anthropic.provider()
        return {
          description: `Anthropic at ${anthropic.endpoint}`,
          model,
          providers: Providers.make(anthropic),
          simulated: false,
          // Anthropic has no embeddings API: OpenAI's, as configured (its missing key fails only if used).
          embeddings: OpenAiEmbeddings.provider()
        } satisfies Target
      }
      default:
        return yield* unknownProvider(args.model!, provider)
    }
  })
