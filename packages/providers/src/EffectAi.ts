/**
 * Any `effect/ai` LanguageModel as a DSPex provider, so every Effect AI integration (OpenAI, Anthropic,
 * Bedrock, OpenRouter, a hand-written one) plugs into DSPex unchanged. The layer is built once, in the
 * scope that creates the provider; each call runs `generateText` with tool call resolution disabled
 * (DSPex's modules run tools themselves).
 *
 * Effect AI's generic API has no temperature, max tokens or stop sequences: those live in each provider's
 * own config service, so `configure` lets a caller apply them per request.
 */
import { type LanguageModel, LMError, Providers } from "@dspex/core"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import { AiError, LanguageModel as AiLanguageModel, Prompt, Tool, Toolkit } from "effect/ai"
import { fromAiError, metadataOf, toOutput, toPromptMessages, usageOf } from "./internal/effectAiMapping.ts"
import { scrub } from "./internal/errors.ts"

export interface Options {
  /** Default: no structured outputs or JSON mode (JSON formats are asked for in the prompt), tools on. */
  readonly capabilities?: Partial<LanguageModel.ModelCapabilities> | undefined
  readonly cost?: ((model: string, usage: LanguageModel.LMUsage) => number | undefined) | undefined
  /**
   * Wraps each `generateText` call, e.g. to provide the Effect AI provider's config service with the
   * request's temperature and max tokens.
   */
  readonly configure?:
    | ((request: LanguageModel.ProviderRequest) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>)
    | undefined
}

const toolkitOf = (tools: ReadonlyArray<LanguageModel.ToolDefinition>) =>
  Toolkit.make(
    ...tools.map((t) => Tool.dynamic(t.name, { description: t.description, parameters: t.parameters as never }))
  )

/**
 * A provider named `name` over an `effect/ai` LanguageModel layer.
 *
 * @example
 * ```ts
 * import { Providers } from "@dspex/core"
 * import { EffectAi } from "@dspex/providers"
 * import { Effect, Layer, Stream } from "effect"
 * import { LanguageModel } from "effect/ai"
 *
 * // any effect/ai LanguageModel layer: an Effect AI integration's, or one of your own
 * const FixedModel = Layer.effect(LanguageModel.LanguageModel, LanguageModel.make({
 *   generateText: () => Effect.succeed([{ type: "text", text: "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]" }]),
 *   streamText: () => Stream.empty
 * }))
 * const ProvidersLive = Providers.layer(EffectAi.provider("fixed", FixedModel)) // models "fixed/<any name>"
 * ```
 */
export const provider = <E, R>(
  name: string,
  layer: Layer.Layer<AiLanguageModel.LanguageModel, E, R>,
  options: Options = {}
): Effect.Effect<LanguageModel.Provider, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layer)
    const model = Context.get(context, AiLanguageModel.LanguageModel)

    const once = (request: LanguageModel.ProviderRequest) => {
      const prompt = Prompt.make(toPromptMessages(request.messages, request.responseFormat))
      const tools = request.tools ?? []
      const generate = tools.length === 0
        ? model.generateText({ prompt })
        : model.generateText({
          prompt,
          toolkit: toolkitOf(tools) as never,
          disableToolCallResolution: true,
          toolCallValidation: "deferred"
        } as never)
      const configured = options.configure === undefined ? generate : options.configure(request)(generate)
      return (configured as Effect.Effect<AiLanguageModel.GenerateTextResponse<any, any>, unknown>).pipe(
        Effect.mapError((error) =>
          AiError.isAiError(error)
            ? fromAiError(error, name, request.model)
            : new LMError.LMProviderError({
              provider: name,
              model: request.model,
              detail: scrub(`the effect/ai model failed with a non-AiError: ${String(error)}`, [])
            })
        ),
        Effect.timeoutOrElse({
          duration: Duration.millis(request.timeoutMs),
          orElse: () =>
            Effect.fail(
              new LMError.LMTimeout({
                provider: name,
                model: request.model,
                timeoutMs: request.timeoutMs,
                detail: `no response from the effect/ai model within ${request.timeoutMs} ms`
              })
            )
        }),
        Effect.flatMap((response) => {
          const out = toOutput(response)
          const meta = metadataOf(response)
          if (out._tag === "malformed") {
            const withId = meta.requestId === undefined ? {} : { requestId: meta.requestId }
            return Effect.fail(
              new LMError.LMMalformedResponse({ provider: name, model: request.model, detail: out.detail, ...withId })
            )
          }
          return Effect.succeed({ output: out.output, usage: usageOf(response), ...meta })
        })
      )
    }

    const complete = Effect.fn(`${name}.complete`)(function*(request: LanguageModel.ProviderRequest) {
      const results = yield* Effect.all(Array.from({ length: Math.max(1, request.n) }, () => once(request)), {
        concurrency: "unbounded"
      })
      const usage = results.reduce(
        (sum, r) => ({
          promptTokens: sum.promptTokens + r.usage.promptTokens,
          completionTokens: sum.completionTokens + r.usage.completionTokens,
          totalTokens: sum.totalTokens + r.usage.totalTokens
        }),
        { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
      )
      const first = results[0]
      return {
        outputs: results.map((r) => r.output),
        usage,
        cost: options.cost?.(request.model, usage),
        ...(first?.responseModel === undefined ? {} : { responseModel: first.responseModel }),
        ...(first?.requestId === undefined ? {} : { requestId: first.requestId })
      }
    })

    const capabilities: LanguageModel.ModelCapabilities = {
      structuredOutputs: false,
      jsonObject: false,
      tools: true,
      ...options.capabilities
    }
    return {
      name,
      complete,
      capabilities: (_model: string) => capabilities,
      ...(options.cost === undefined ? {} : { cost: options.cost })
    }
  })

/**
 * A `Providers` layer with the `effect/ai` model as its only provider; the model's layer lives as long
 * as this layer.
 *
 * @example
 * ```ts
 * import { Cache, LanguageModel } from "@dspex/core"
 * import { EffectAi } from "@dspex/providers"
 * import { Effect, Layer, Stream } from "effect"
 * import { LanguageModel as AiLanguageModel } from "effect/ai"
 *
 * const FixedModel = Layer.effect(AiLanguageModel.LanguageModel, AiLanguageModel.make({
 *   generateText: () => Effect.succeed([{ type: "text", text: "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]" }]),
 *   streamText: () => Stream.empty
 * }))
 * const LmLive = LanguageModel.layer().pipe(Layer.provide([EffectAi.layer("fixed", FixedModel), Cache.layerConfig]))
 * ```
 */
export const layer = <E, R>(
  name: string,
  model: Layer.Layer<AiLanguageModel.LanguageModel, E, R>,
  options: Options = {}
): Layer.Layer<Providers.Providers, E, Exclude<R, Scope.Scope>> =>
  // Providers.layer builds its providers inside the layer's own scope (Layer.effect), so the Scope
  // requirement of `provider` is met there even though Providers.layer's type still lists it.
  Providers.layer(provider(name, model, options)) as Layer.Layer<Providers.Providers, E, Exclude<R, Scope.Scope>>
