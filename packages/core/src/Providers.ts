/**
 * The provider registry: which `Provider` serves which model prefix ("openai" in "openai/gpt-4o-mini").
 *
 * One way to combine providers: list them all in one `Providers.layer(...)`. Each provider package offers
 * `X.provider(options)`, an `Effect<Provider>` (it may read its API key from Config), and may offer
 * `X.layer(options) = Providers.layer(X.provider(options))` for the one-provider case:
 *
 *   Providers.layer(OpenAi.provider(), Anthropic.provider(), OpenAiCompatible.provider({ name: "ollama", ... }))
 *
 * Two separately built `Providers` layers do not merge (the later one replaces the earlier, as for any
 * service), so put every provider in one `Providers.layer` call.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { Provider } from "./LanguageModel.ts"
import { splitModel } from "./LM.ts"
import { LMConfigurationError } from "./LMError.ts"

export interface ResolvedModel {
  readonly provider: Provider
  /** The model name without the provider prefix, as the provider's API expects it. */
  readonly name: string
}

export interface ProvidersShape {
  /** Registered provider names, sorted. */
  readonly names: ReadonlyArray<string>
  readonly lookup: (name: string) => Provider | undefined
  /** The provider of "provider/model" (no prefix means "openai"), or LMConfigurationError naming the known ones. */
  readonly resolve: (model: string) => Effect.Effect<ResolvedModel, LMConfigurationError>
}

/**
 * A registry over `providers`; a later provider with the same name replaces an earlier one.
 *
 * @example
 * ```ts
 * import { LanguageModel, Providers } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const echo: LanguageModel.Provider = {
 *   name: "echo",
 *   complete: (request) => Effect.succeed({ outputs: [{ text: JSON.stringify(request.messages) }], usage: LanguageModel.zeroUsage }),
 *   capabilities: () => ({ structuredOutputs: false, jsonObject: false, tools: false })
 * }
 * const registry = Providers.make(echo)
 * registry.lookup("echo") // => echo
 * ```
 */
export const make = (...providers: ReadonlyArray<Provider>): ProvidersShape => {
  const byName = new Map<string, Provider>()
  for (const p of providers) byName.set(p.name, p)
  const names = [...byName.keys()].sort()
  const unknown = (model: string, provider: string) =>
    new LMConfigurationError({
      model,
      detail: names.length === 0
        ? `no provider is registered (model prefix "${provider}"); add one with Providers.layer(...)`
        : `unknown provider "${provider}"; registered providers: ${names.join(", ")}`
    })
  return {
    names,
    lookup: (name) => byName.get(name),
    resolve: (model) => {
      const { provider, name } = splitModel(model)
      const p = byName.get(provider)
      return p === undefined ? Effect.fail(unknown(model, provider)) : Effect.succeed({ provider: p, name })
    }
  }
}

type ProviderInput = Provider | Effect.Effect<Provider, any, any>
type InputError<P> = P extends Effect.Effect<Provider, infer E, infer _R> ? E : never
/** A provider may hold scoped resources (e.g. an effect/ai layer): they live as long as the registry layer. */
type InputServices<P> = Exclude<P extends Effect.Effect<Provider, infer _E, infer R> ? R : never, Scope.Scope>

export class Providers extends Context.Service<Providers, ProvidersShape>()("@dspex/core/Providers") {}

/**
 * The registry layer: every provider the program may call, each a `Provider` or an effect building one.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel, Providers } from "@dspex/core"
 * import { Anthropic, OpenAi } from "@dspex/providers"
 * import { Layer } from "effect"
 *
 * const providers = Providers.layer(OpenAi.provider(), Anthropic.provider()) // "openai/..." and "anthropic/..." models
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([providers, Cache.layerConfig]))
 * ```
 */
export const layer = <const Ps extends ReadonlyArray<ProviderInput>>(
  ...providers: Ps
): Layer.Layer<Providers, InputError<Ps[number]>, InputServices<Ps[number]>> =>
  Layer.effect(
    Providers,
    Effect.map(
      Effect.forEach(
        providers,
        (
          p: ProviderInput
        ) => (Effect.isEffect(p) ? p as Effect.Effect<Provider, any, any> : Effect.succeed(p as Provider))
      ),
      (built) => make(...built)
    )
  )
