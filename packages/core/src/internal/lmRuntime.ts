/**
 * The LanguageModel service's implementation. One `generate` call:
 *   resolve the LM (argument, else the fiber's CurrentLM) and its provider
 *   → cache lookup (unless the LM or the request turns caching off)
 *   → single-flight (identical concurrent misses share one provider call)
 *   → retries of retryable errors by Schedule, each attempt going through
 *       the provider's concurrency cap → its requests-per-minute limit → the per-request timeout
 *       → provider.complete
 *   → usage/cost accounting, cache write, history entry, span attributes and LMStart/LMEnd callbacks.
 */
import { Clock, Effect, type Fiber, Option, type Scope, type Tracer } from "effect"
import { RateLimiter } from "effect/persistence"
import { Cache, immutableCopy } from "../Cache.ts"
import { CurrentCallbacks, fire, nextCallId } from "../Callbacks.ts"
import type {
  LanguageModelOptions,
  LanguageModelShape,
  LMRequest,
  LMResponse,
  ModelCapabilities,
  Provider,
  ProviderRequest
} from "../LanguageModel.ts"
import { CurrentLM, type LM, splitModel } from "../LM.ts"
import { LMConfigurationError, type LMError, LMTimeout } from "../LMError.ts"
import { Providers } from "../Providers.ts"
import * as Tracing from "../Tracing.ts"
import { cacheKeyOf, dspyKwargs, namespacedKey } from "./cacheKey.ts"
import { resolveSettings } from "./lmConfig.ts"
import { PendingEntry, Ring, UsageLedger } from "./lmHistory.ts"
import { makeGate } from "./lmLimits.ts"
import { type RetryPolicy, withRetries } from "./lmRetry.ts"
import { makeSingleFlight } from "./lmSingleFlight.ts"
import { timeoutFail } from "./lmTimeout.ts"

const noStack = { captureStackTrace: false } as const

const zero = { promptTokens: 0, completionTokens: 0, totalTokens: 0 } as const

const noCapabilities: ModelCapabilities = { structuredOutputs: false, jsonObject: false, tools: false }

/** Client-side knobs that are never sent to the provider. */
const unsentKwargs = new Set(["rollout_id", "rolloutId", "cache", "num_retries", "numRetries"])

/** What one shared provider call produced. */
interface Flight {
  /** The response as the provider gave it (handed to the caller that made the call). */
  readonly response: LMResponse
  /** A frozen copy for everyone else (and for the cache). */
  readonly shared: LMResponse
  /** False when the flight found the entry already cached. */
  readonly fresh: boolean
  readonly retries: number
}

const asHit = (r: LMResponse): LMResponse => ({ ...r, usage: zero, cost: 0, cacheHit: true })

const providerKwargs = (
  kwargs: Readonly<Record<string, unknown>> | undefined
): Readonly<Record<string, unknown>> | undefined => {
  if (kwargs === undefined) return undefined
  let out: Record<string, unknown> | undefined
  for (const k in kwargs) {
    if (unsentKwargs.has(k)) {
      out ??= { ...kwargs }
      delete out[k]
    }
  }
  return out ?? kwargs
}

/** The request and the LM's defaults merged (the request wins), as one set of settings. */
const merge = (lm: LM, request: LMRequest) => ({
  temperature: request.temperature ?? lm.temperature,
  maxTokens: request.maxTokens ?? lm.maxTokens,
  n: request.n ?? lm.n,
  stop: request.stop ?? lm.stop,
  rolloutId: request.rolloutId ?? lm.rolloutId,
  responseFormat: request.responseFormat,
  tools: request.tools,
  kwargs: lm.kwargs === undefined
    ? request.kwargs
    : request.kwargs === undefined
    ? lm.kwargs
    : { ...lm.kwargs, ...request.kwargs }
})

/**
 * Builds the service over the `Providers` and `Cache` in context. Requests-per-minute limits use the
 * `RateLimiter` in context when there is one (e.g. over a cluster-wide store), else an in-memory one.
 */
export const makeRuntime = (
  options: LanguageModelOptions = {}
): Effect.Effect<LanguageModelShape, LMConfigurationError, Providers | Cache | Scope.Scope> =>
  Effect.gen(function*() {
    const providers = yield* Providers
    const cache = yield* Cache
    const scope = yield* Effect.scope
    const settings = yield* resolveSettings(options, providers.names)
    const existingLimiter = yield* Effect.serviceOption(RateLimiter.RateLimiter)
    const limiter = Option.isSome(existingLimiter)
      ? existingLimiter.value
      : yield* Effect.provide(RateLimiter.make, RateLimiter.layerStoreMemory)
    const gate = makeGate(limiter, settings.limitsOf)
    const flights = makeSingleFlight<Flight, LMError>(scope)
    const history = new Ring<PendingEntry>(settings.historySize)
    const ledger = new UsageLedger()
    const warnedRollout = new Set<string>()

    const retryPolicies = new Map<number, RetryPolicy>()
    const retryPolicy = (times: number): RetryPolicy => {
      let p = retryPolicies.get(times)
      if (p === undefined) {
        p = { times, baseDelayMs: settings.retryBaseDelayMs, maxDelayMs: settings.retryMaxDelayMs }
        retryPolicies.set(times, p)
      }
      return p
    }

    /**
     * The provider call with retries, limits and timeout, plus accounting and the cache write; `then`
     * runs in the same step as the accounting (one Effect step less per call).
     */
    const call = <B>(
      lm: LM,
      provider: Provider,
      request: ProviderRequest,
      key: string | undefined,
      then: (flight: Flight) => B
    ): Effect.Effect<B, LMError> => {
      const attemptAndRecord = Effect.suspend(() => {
        const { timeoutMs } = settings.limitsOf(provider.name)
        let attempts = 0
        const once = Effect.suspend(() => {
          attempts++
          return provider.complete(request)
        })
        // Providers that enforce the deadline themselves (the SDK providers abort the HTTP request)
        // need no second timer: the generic one forks a fiber per call.
        const attempt = gate(provider.name, lm.model)(
          provider.handlesTimeout === true ? once : timeoutFail(
            once,
            timeoutMs,
            () =>
              new LMTimeout({
                provider: provider.name,
                model: lm.model,
                timeoutMs,
                detail: `no response within ${timeoutMs} ms`
              })
          )
        )
        const recorded = (raw: Omit<LMResponse, "cacheHit" | "model">): Flight => {
          const cost = raw.cost ?? provider.cost?.(request.model, raw.usage)
          const response: LMResponse = {
            ...raw,
            model: lm.model,
            ...(cost === undefined ? {} : { cost }),
            cacheHit: false
          }
          ledger.add(lm.model, raw.usage, cost, attempts - 1)
          return {
            response,
            shared: key === undefined ? response : immutableCopy(response),
            fresh: true,
            retries: attempts - 1
          }
        }
        const retried = Effect.tapError(withRetries(attempt, retryPolicy(lm.numRetries ?? settings.numRetries)), () =>
          Effect.sync(() => ledger.failed(lm.model, Math.max(0, attempts - 1))))
        if (key === undefined) {
          return Effect.map(retried, (raw) =>
            then(recorded(raw)))
        }
        return Effect.flatMap(retried, (raw) => {
          const flight = recorded(raw)
          return Effect.map(cache.set(key, flight.shared), () => then(flight))
        })
      })
      if (key === undefined) return attemptAndRecord
      // A flight that starts just after another one finished finds its result here.
      return Effect.flatMap(cache.get(key), (cached) =>
        Option.isSome(cached)
          ? Effect.sync(() => then({ response: cached.value, shared: cached.value, fresh: false, retries: 0 }))
          : attemptAndRecord)
    }

    const run = (
      fiber: Fiber.Fiber<unknown, unknown>,
      lm: LM,
      provider: Provider,
      providerModel: string,
      request: LMRequest
    ): Effect.Effect<LMResponse, LMError> => {
      const merged = merge(lm, request)
      const spanAttributes = (): Record<string, unknown> => {
        const attributes: Record<string, unknown> = {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": provider.name,
          "gen_ai.request.model": providerModel,
          "dspex.lm": lm.model
        }
        if (merged.temperature !== undefined) attributes["gen_ai.request.temperature"] = merged.temperature
        if (merged.maxTokens !== undefined) attributes["gen_ai.request.max_tokens"] = merged.maxTokens
        return attributes
      }
      // Written as plain steps rather than a generator: this runs once per LM call, and each Effect step
      // is paid on every call (see bench/predict-cpu.ts).
      // Everything fiber-local is read from the calling fiber: the span (when there is one) changes only
      // the parent span, so the whole call starts in the caller's one step.
      const body = (span: Tracer.Span | undefined): Effect.Effect<LMResponse, LMError> => {
        const callbacks = fiber.getRef(CurrentCallbacks)
        const clock = fiber.getRef(Clock.Clock)
        const useCache = lm.cache !== false && request.cache !== false
        // DSPy's kwargs are needed up front only for the cache key and callbacks; history builds them when read.
        const kwargs = useCache || callbacks.length > 0 ? dspyKwargs(merged) : undefined
        const key = useCache
          ? namespacedKey(provider.endpoint, cacheKeyOf(lm.model, request.messages, kwargs!))
          : undefined
        const callId = callbacks.length > 0 ? nextCallId() : ""
        const main = (): Effect.Effect<LMResponse, LMError> => {
          if (callbacks.length > 0) {
            fire(callbacks, { _tag: "LMStart", callId, model: lm.model, messages: request.messages, kwargs: kwargs! })
          }
          const started = clock.currentTimeMillisUnsafe()
          const providerRequest: ProviderRequest = {
            model: providerModel,
            messages: request.messages,
            temperature: merged.temperature,
            maxTokens: merged.maxTokens,
            n: merged.n ?? 1,
            stop: merged.stop,
            responseFormat: merged.responseFormat,
            tools: merged.tools,
            kwargs: providerKwargs(merged.kwargs),
            timeoutMs: settings.limitsOf(provider.name).timeoutMs
          }
          const finish = (response: LMResponse, retries: number): LMResponse => {
            const ended = clock.currentTimeMillisUnsafe()
            history.push(
              new PendingEntry(
                ended,
                lm.model,
                request.messages,
                kwargs ?? (() => dspyKwargs(merged)),
                response,
                ended - started,
                retries
              )
            )
            if (span !== undefined && span.status._tag !== "Ended") {
              span.attribute("gen_ai.response.model", response.responseModel ?? providerModel)
              span.attribute("gen_ai.usage.input_tokens", response.usage.promptTokens)
              span.attribute("gen_ai.usage.output_tokens", response.usage.completionTokens)
              span.attribute(
                "gen_ai.response.finish_reasons",
                response.outputs.flatMap((o) => (o.finishReason === undefined ? [] : [o.finishReason]))
              )
              span.attribute("dspex.cache_hit", response.cacheHit)
              span.attribute("dspex.retries", retries)
              span.attribute("dspex.cost_usd", response.cost ?? 0)
            }
            if (callbacks.length > 0) {
              fire(callbacks, {
                _tag: "LMEnd",
                callId,
                model: lm.model,
                outputs: response.outputs,
                cacheHit: response.cacheHit
              })
            }
            return response
          }
          const hit = (response: LMResponse): LMResponse => {
            ledger.hit(lm.model)
            return finish(asHit(response), 0)
          }
          const finished: Effect.Effect<LMResponse, LMError> = key === undefined
            ? call(lm, provider, providerRequest, undefined, (f) => finish(f.response, f.retries))
            : Effect.flatMap(cache.get(key), (cached) =>
              Option.isSome(cached)
                ? Effect.sync(() => hit(cached.value))
                : Effect.map(
                  flights.run(
                    key,
                    call(lm, provider, providerRequest, key, (f) => f)
                  ),
                  ({ leader, value }) =>
                    // Only the caller whose call reached the provider is charged; the others got a shared answer.
                    leader && value.fresh ? finish(value.response, value.retries) : hit(value.shared)
                ))
          return callbacks.length === 0
            ? finished
            : Effect.tapError(
              finished,
              (error) => Effect.sync(() => fire(callbacks, { _tag: "LMEnd", callId, model: lm.model, error }))
            )
        }
        if (merged.rolloutId !== undefined && merged.temperature === 0 && !warnedRollout.has(lm.model)) {
          warnedRollout.add(lm.model)
          const warning = Effect.logWarning(
            `rollout_id has no effect on ${lm.model} at temperature 0: every rollout gets the same answer. Use a non-zero temperature.`
          )
          return Effect.andThen(warning, Effect.suspend(main))
        }
        return main()
      }
      // A span only when tracing (see Tracing.ts), without a stack trace.
      return Tracing.isTracing(fiber)
        ? Effect.useSpan(
          "LanguageModel.generate",
          { attributes: spanAttributes() },
          (span) => Effect.withParentSpan(body(span), span, noStack)
        )
        : body(undefined)
    }

    // The LM and its provider are read in the same fiber step as the call starts (no extra Effect steps).
    const generate = (lm: LM | undefined, request: LMRequest): Effect.Effect<LMResponse, LMError> =>
      Effect.withFiber((fiber) => {
        const chosen = lm ?? fiber.getRef(CurrentLM)
        if (chosen === undefined) {
          return Effect.fail(
            new LMConfigurationError({
              model: "(none)",
              detail:
                "no LM was given and none is configured; pass one or set LM.CurrentLM (e.g. Effect.provideService(LM.CurrentLM, LM.make(\"openai/gpt-4o-mini\")))"
            })
          )
        }
        const { provider, name } = splitModel(chosen.model)
        const found = providers.lookup(provider)
        return found === undefined
          ? Effect.flatMap(providers.resolve(chosen.model), (r) => run(fiber, chosen, r.provider, r.name, request))
          : run(fiber, chosen, found, name, request)
      })

    const service: LanguageModelShape = {
      generate,
      capabilities: (lm) => {
        const { provider, name } = splitModel(lm.model)
        return providers.lookup(provider)?.capabilities(name) ?? noCapabilities
      },
      history: (n) => history.last(n).map((e) => e.entry()),
      usage: () => ledger.snapshot()
    }
    return service
  })
