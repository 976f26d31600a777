import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Fiber, Layer, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cache from "../src/Cache.ts"
import { type CallbackEvent, withCallbacks } from "../src/Callbacks.ts"
import * as LanguageModel from "../src/LanguageModel.ts"
import { CurrentLM, type LM, make as makeLM } from "../src/LM.ts"
import { LMAuthError, type LMError, LMProviderError, LMRateLimited } from "../src/LMError.ts"
import type { Message } from "../src/Message.ts"
import * as Providers from "../src/Providers.ts"

type Raw = Omit<LanguageModel.LMResponse, "cacheHit" | "model">
type Step = (request: LanguageModel.ProviderRequest) => Effect.Effect<Raw, LMError>

/** Our own Provider interface implemented in-test: counts calls and in-flight calls, follows a script. */
const testProvider = (
  options: { readonly name?: string; readonly script?: ReadonlyArray<Step>; readonly latency?: Duration.Input } = {}
) => {
  const name = options.name ?? "test"
  const calls: Array<LanguageModel.ProviderRequest> = []
  let inFlight = 0
  let maxInFlight = 0
  const answer = (request: LanguageModel.ProviderRequest): Raw => ({
    outputs: [{
      text: `answer ${calls.length} to ${JSON.stringify(request.messages.at(-1)?.content)}`,
      finishReason: "stop"
    }],
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    responseModel: `${request.model}-2024`
  })
  const provider: LanguageModel.Provider = {
    name,
    capabilities: (model) => ({ structuredOutputs: model.startsWith("smart"), jsonObject: true, tools: true }),
    cost: (_model, usage) => usage.promptTokens * 0.001 + usage.completionTokens * 0.002,
    complete: (request) =>
      Effect.suspend(() => {
        calls.push(request)
        const step = options.script?.[calls.length - 1]
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        const body = step === undefined ? Effect.succeed(answer(request)) : step(request)
        const delayed = options.latency === undefined ? body : Effect.delay(body, options.latency)
        return Effect.ensuring(delayed, Effect.sync(() => inFlight--))
      })
  }
  return {
    provider,
    calls,
    get maxInFlight() {
      return maxInFlight
    }
  }
}

const lmLayer = (
  provider: LanguageModel.Provider,
  options: LanguageModel.LanguageModelOptions = {},
  cache: Layer.Layer<Cache.Cache> = Cache.layerMemory()
) => LanguageModel.layer({ retryBaseDelayMs: 100, ...options }).pipe(Layer.provide([Providers.layer(provider), cache]))

const msgs = (
  text: string
): ReadonlyArray<Message> => [{ role: "system", content: "Be brief." }, { role: "user", content: text }]
const ask = (text: string, extra: Omit<LanguageModel.LMRequest, "messages"> = {}): LanguageModel.LMRequest => ({
  messages: msgs(text),
  ...extra
})
const model: LM = makeLM("test/small", { temperature: 0.7 })
const generate = (lm: LM | undefined, request: LanguageModel.LMRequest) =>
  LanguageModel.LanguageModel.use((s) => s.generate(lm, request))
const fail = (e: LMError): Step => () => Effect.fail(e)
const common = { provider: "test", model: "test/small" }

describe("LanguageModel cache", () => {
  it.effect("a repeated request is a cache hit: zero usage and cost, cacheHit set, provider not called again", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const first = yield* generate(model, ask("2+2?"))
      const second = yield* generate(model, ask("2+2?"))
      expect(t.calls.length).toBe(1)
      expect(first.cacheHit).toBe(false)
      expect(first.usage.totalTokens).toBe(15)
      expect(first.cost).toBeCloseTo(0.02)
      expect(first.model).toBe("test/small")
      expect(second.cacheHit).toBe(true)
      expect(second.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 })
      expect(second.cost).toBe(0)
      expect(second.outputs).toEqual(first.outputs)
      expect(second.responseModel).toBe("small-2024")
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("callers cannot change a cached entry", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const first = yield* generate(model, ask("q"))
      ;(first.outputs as Array<{ text: string }>).push({ text: "injected" })
      const hit = yield* generate(model, ask("q"))
      expect(hit.outputs.length).toBe(1)
      expect(() => (hit.outputs as Array<unknown>).push("x")).toThrow(TypeError)
      expect(() => ((hit.outputs[0] as { text: string }).text = "changed")).toThrow(TypeError)
      const again = yield* generate(model, ask("q"))
      expect(again.outputs[0]?.text).toBe(first.outputs[0]?.text)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("cache: false on a call neither reads nor writes the cache", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      yield* generate(model, ask("q"))
      const uncached = yield* generate(model, ask("q", { cache: false }))
      expect(uncached.cacheHit).toBe(false)
      expect(t.calls.length).toBe(2)
      yield* generate(model, ask("other", { cache: false }))
      const afterUncached = yield* generate(model, ask("other"))
      expect(afterUncached.cacheHit).toBe(false)
      expect(t.calls.length).toBe(4)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("an LM with cache: false never uses the cache", () => {
    const t = testProvider()
    const noCache = makeLM("test/small", { temperature: 0.7, cache: false })
    return Effect.gen(function*() {
      yield* generate(noCache, ask("q"))
      const again = yield* generate(noCache, ask("q"))
      expect(again.cacheHit).toBe(false)
      expect(t.calls.length).toBe(2)
      const cachedLm = yield* generate(model, ask("q"))
      expect(cachedLm.cacheHit).toBe(false)
      expect(t.calls.length).toBe(3)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("rolloutId changes the key but is never sent to the provider", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      yield* generate(makeLM("test/small", { temperature: 1, rolloutId: 1 }), ask("q"))
      yield* generate(makeLM("test/small", { temperature: 1, rolloutId: 2 }), ask("q"))
      const repeat = yield* generate(makeLM("test/small", { temperature: 1 }), ask("q", { rolloutId: 2 }))
      yield* generate(makeLM("test/small", { temperature: 1, kwargs: { rollout_id: 9, top_p: 0.5 } }), ask("q"))
      expect(repeat.cacheHit).toBe(true)
      expect(t.calls.length).toBe(3)
      for (const call of t.calls) expect(JSON.stringify(call)).not.toMatch(/rollout/i)
      expect(t.calls[2]?.kwargs).toEqual({ top_p: 0.5 })
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("a new layer instance on the same disk cache directory answers from disk", () => {
    const dir = mkdtempSync(join(tmpdir(), "dspex-lm-"))
    const a = testProvider()
    const b = testProvider()
    return Effect.gen(function*() {
      const first = yield* generate(model, ask("persist me")).pipe(
        Effect.provide(lmLayer(a.provider, {}, Cache.layerDisk({ path: dir })))
      )
      const second = yield* generate(model, ask("persist me")).pipe(
        Effect.provide(lmLayer(b.provider, {}, Cache.layerTiered({}, { path: dir })))
      )
      expect(a.calls.length).toBe(1)
      expect(b.calls.length).toBe(0)
      expect(second.cacheHit).toBe(true)
      expect(second.outputs).toEqual(first.outputs)
    }).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  })
})

describe("LanguageModel cache namespaces", () => {
  it.effect("answers are kept per endpoint: the same model name at another base URL is asked again", () => {
    const dir = mkdtempSync(join(tmpdir(), "dspex-lm-ns-"))
    const local = testProvider()
    const remote = testProvider()
    const again = testProvider()
    const at = (t: ReturnType<typeof testProvider>, endpoint: string) =>
      lmLayer({ ...t.provider, endpoint }, {}, Cache.layerDisk({ path: dir }))
    return Effect.gen(function*() {
      yield* generate(model, ask("same prompt")).pipe(Effect.provide(at(local, "http://localhost:8000/v1")))
      const fromRemote = yield* generate(model, ask("same prompt")).pipe(
        Effect.provide(at(remote, "https://api.example.com/v1"))
      )
      expect(remote.calls.length).toBe(1)
      expect(fromRemote.cacheHit).toBe(false)
      // The same endpoint (a trailing slash aside) still hits.
      const fromLocal = yield* generate(model, ask("same prompt")).pipe(
        Effect.provide(at(again, "http://localhost:8000/v1/"))
      )
      expect(again.calls.length).toBe(0)
      expect(fromLocal.cacheHit).toBe(true)
    }).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  })
})

describe("LanguageModel concurrency", () => {
  it.effect("10 concurrent identical calls make one provider call; only one caller is charged", () => {
    const t = testProvider({ latency: "1 second" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 10 }, () => generate(model, ask("same"))), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("2 seconds")
      const results = yield* Fiber.join(fiber)
      expect(t.calls.length).toBe(1)
      expect(results.filter((r) => !r.cacheHit).length).toBe(1)
      expect(new Set(results.map((r) => r.outputs[0]?.text)).size).toBe(1)
      const usage = (yield* LanguageModel.LanguageModel.useSync((s) => s.usage()))["test/small"]
      expect(usage?.calls).toBe(1)
      expect(usage?.totalTokens).toBe(15)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("interrupting the caller that started a shared call does not cancel it for the others", () => {
    const t = testProvider({ latency: "1 second" })
    return Effect.gen(function*() {
      const leader = yield* Effect.forkChild(generate(model, ask("shared")))
      yield* Effect.yieldNow
      const follower = yield* Effect.forkChild(generate(model, ask("shared")))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(leader)
      yield* TestClock.adjust("2 seconds")
      const r = yield* Fiber.join(follower)
      expect(r.outputs.length).toBe(1)
      expect(t.calls.length).toBe(1)
      const again = yield* generate(model, ask("shared"))
      expect(again.cacheHit).toBe(true)
      expect(t.calls.length).toBe(1)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("in-flight calls per provider never exceed maxConcurrency", () => {
    const t = testProvider({ latency: "1 second" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 10 }, (_, i) => generate(model, ask(`q${i}`))), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(t.calls.length).toBe(10)
      expect(t.maxInFlight).toBe(3)
    }).pipe(Effect.provide(lmLayer(t.provider, { providers: { test: { maxConcurrency: 3 } } })))
  })

  it.effect("requestsPerMinute delays calls beyond the budget", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 3 }, (_, i) => generate(model, ask(`r${i}`))), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      expect(t.calls.length).toBe(2)
      yield* TestClock.adjust("20 seconds")
      expect(t.calls.length).toBe(2)
      yield* TestClock.adjust("40 seconds")
      expect(t.calls.length).toBe(3)
      yield* Fiber.join(fiber)
    }).pipe(Effect.provide(lmLayer(t.provider, { requestsPerMinute: 2 })))
  })
})

describe("LanguageModel retries and timeouts", () => {
  it.effect("retryable errors are retried and the retries are recorded", () => {
    const t = testProvider({
      script: [
        fail(new LMProviderError({ ...common, status: 500, detail: "boom" })),
        fail(new LMProviderError({ ...common, status: 503, detail: "busy" }))
      ]
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(generate(model, ask("q")))
      yield* TestClock.adjust("1 minute")
      const r = yield* Fiber.join(fiber)
      expect(r.cacheHit).toBe(false)
      expect(t.calls.length).toBe(3)
      const [entry] = yield* LanguageModel.LanguageModel.useSync((s) => s.history(1))
      expect(entry?.retries).toBe(2)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("usage counts the retries of every call and the calls that failed after theirs", () => {
    const e500 = fail(new LMProviderError({ ...common, status: 500, detail: "boom" }))
    // First call: two faults absorbed. Second: fails after its 3 retries. Third: fails at once (auth).
    const t = testProvider({
      script: [
        e500,
        e500,
        () =>
          Effect.succeed({
            outputs: [{ text: "ok" }],
            usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 }
          }),
        e500,
        e500,
        e500,
        e500,
        fail(new LMAuthError({ ...common, status: 401, detail: "bad" }))
      ]
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.all([
          generate(model, ask("a")),
          Effect.flip(generate(model, ask("b"))),
          Effect.flip(generate(model, ask("c")))
        ])
      )
      yield* TestClock.adjust("10 minutes")
      yield* Fiber.join(fiber)
      const usage = (yield* LanguageModel.LanguageModel.useSync((s) => s.usage()))["test/small"]
      expect(usage).toMatchObject({ calls: 1, retries: 5, errors: 2, cacheHits: 0, totalTokens: 2 })
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("an unreachable endpoint (connection refused) is retried at most twice, quickly, and stays a retryable transport error", () => {
    const refused = fail(
      new LMProviderError({ ...common, transport: true, code: "ECONNREFUSED", detail: "could not connect" })
    )
    const t = testProvider({ script: Array.from({ length: 10 }, () => refused) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(generate(model, ask("q"))))
      // Two retries of at most 100 ms each: all over within a quarter of a second.
      yield* TestClock.adjust("250 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "LMProviderError", transport: true, code: "ECONNREFUSED", retryable: true })
      expect(t.calls.length).toBe(3)
    }).pipe(Effect.provide(lmLayer(t.provider, { retryBaseDelayMs: 500, numRetries: 5 })))
  })

  it.effect("a non-retryable error (auth) fails at once", () => {
    const t = testProvider({ script: [fail(new LMAuthError({ ...common, status: 401, detail: "bad key" }))] })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(generate(model, ask("q")))
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(fiber)
      expect(t.calls.length).toBe(1)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("LMAuthError")
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("retries stop after numRetries (the LM's setting wins over the layer's)", () => {
    const always500 = fail(new LMProviderError({ ...common, status: 500, detail: "down" }))
    const t = testProvider({ script: Array.from({ length: 10 }, () => always500) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(generate(makeLM("test/small", { numRetries: 2 }), ask("q"))))
      yield* TestClock.adjust("10 minutes")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("LMProviderError")
      expect(t.calls.length).toBe(3)
    }).pipe(Effect.provide(lmLayer(t.provider, { numRetries: 5 })))
  })

  it.effect("the provider's retry-after is waited out even when the backoff is shorter", () => {
    const t = testProvider({
      script: [fail(new LMRateLimited({ ...common, status: 429, detail: "slow down", retryAfterMs: 10_000 }))]
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(generate(model, ask("q")))
      yield* TestClock.adjust("9 seconds")
      expect(t.calls.length).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(t.calls.length).toBe(2)
      const r = yield* Fiber.join(fiber)
      expect(r.outputs.length).toBe(1)
    }).pipe(Effect.provide(lmLayer(t.provider, { retryBaseDelayMs: 100 })))
  })

  it.effect("a call slower than the timeout fails with LMTimeout (retried as retryable)", () => {
    const t = testProvider({ latency: "10 minutes" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(generate(makeLM("test/small", { numRetries: 1 }), ask("q"))))
      yield* TestClock.adjust("5 minutes")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("LMTimeout")
      expect(error._tag === "LMTimeout" ? error.timeoutMs : 0).toBe(1000)
      expect(t.calls.length).toBe(2)
      expect(t.calls[0]?.timeoutMs).toBe(1000)
    }).pipe(Effect.provide(lmLayer(t.provider, { timeoutMs: 1000 })))
  })
})

describe("LanguageModel accounting and configuration", () => {
  it.effect("history keeps the newest entries and usage/cost add up per model, cache hits excluded", () => {
    const t = testProvider()
    const other = makeLM("test/large")
    return Effect.gen(function*() {
      yield* generate(model, ask("a"))
      yield* generate(model, ask("b", { maxTokens: 50 }))
      yield* generate(model, ask("a"))
      yield* generate(other, ask("a"))
      const svc = yield* LanguageModel.LanguageModel
      const usage = svc.usage()
      expect(usage["test/small"]).toEqual({
        promptTokens: 20,
        completionTokens: 10,
        totalTokens: 30,
        cost: expect.closeTo(0.04, 10),
        calls: 2,
        retries: 0,
        errors: 0,
        cacheHits: 1
      })
      expect(usage["test/large"]?.calls).toBe(1)
      const history = svc.history()
      expect(history.length).toBe(3)
      expect(history.map((h) => [h.model, h.cacheHit])).toEqual([["test/small", false], ["test/small", true], [
        "test/large",
        false
      ]])
      expect(history[1]?.usage.totalTokens).toBe(0)
      expect(svc.history(1)[0]?.model).toBe("test/large")
      expect(svc.history(0)).toEqual([])
      expect(svc.history()[0]?.kwargs).toEqual({ temperature: 0.7, max_tokens: 50 })
      expect(t.calls[1]?.maxTokens).toBe(50)
      expect(t.calls[1]?.temperature).toBe(0.7)
      expect(t.calls[1]?.n).toBe(1)
      expect(t.calls[1]?.model).toBe("small")
    }).pipe(Effect.provide(lmLayer(t.provider, { historySize: 3 })))
  })

  it.effect("settings come from the environment when the layer options leave them out, per provider too", () => {
    const t = testProvider({ latency: "1 second" })
    const env = ConfigProvider.layer(
      ConfigProvider.fromUnknown({ DSPEX_LM_TIMEOUT_MS: "2500", DSPEX_LM_TEST_MAX_CONCURRENCY: "2" })
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 6 }, (_, i) => generate(model, ask(`e${i}`))), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(t.maxInFlight).toBe(2)
      expect(t.calls[0]?.timeoutMs).toBe(2500)
    }).pipe(Effect.provide(lmLayer(t.provider).pipe(Layer.provide(env))))
  })

  it.effect("an invalid setting fails the layer with an LMConfigurationError naming the variable and what it takes", () => {
    const t = testProvider()
    const build = (env: Record<string, string>) =>
      Effect.flip(
        Layer.build(lmLayer(t.provider).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))))
      )
    return Effect.gen(function*() {
      const timeout = yield* build({ DSPEX_LM_TIMEOUT_MS: "60s" })
      expect(timeout).toBeInstanceOf(Error)
      expect(timeout).toMatchObject({ _tag: "LMConfigurationError", variable: "DSPEX_LM_TIMEOUT_MS", fatal: true })
      expect(timeout.message).toContain("DSPEX_LM_TIMEOUT_MS=\"60s\" is not valid: expected a timeout in milliseconds")
      expect(timeout.suggestion).toContain("Set DSPEX_LM_TIMEOUT_MS to")
      const perProvider = yield* build({ DSPEX_LM_TEST_MAX_CONCURRENCY: "0" })
      expect(perProvider).toMatchObject({ variable: "DSPEX_LM_TEST_MAX_CONCURRENCY" })
      expect((yield* build({ DSPEX_LM_NUM_RETRIES: "2.5" })).variable).toBe("DSPEX_LM_NUM_RETRIES")
    }).pipe(Effect.scoped)
  })

  it.effect("Providers.layer registers plain, effectful and scoped providers side by side", () => {
    const a = testProvider({ name: "alpha" })
    const b = testProvider({ name: "beta" })
    const c = testProvider({ name: "gamma" })
    let released = false
    const scoped = Effect.as(Effect.addFinalizer(() => Effect.sync(() => (released = true))), c.provider)
    const providers: Layer.Layer<Providers.Providers> = Providers.layer(a.provider, Effect.succeed(b.provider), scoped)
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const registry = yield* Providers.Providers
        expect(registry.names).toEqual(["alpha", "beta", "gamma"])
        yield* generate(makeLM("alpha/x"), ask("q"))
        yield* generate(makeLM("beta/y"), ask("q"))
        yield* generate(makeLM("gamma/z"), ask("q"))
        expect([a.calls.length, b.calls.length, c.calls.length]).toEqual([1, 1, 1])
        expect(b.calls[0]?.model).toBe("y")
        expect(released).toBe(false)
      }).pipe(Effect.provide(Layer.provideMerge(LanguageModel.layer(), Layer.merge(providers, Cache.layerMemory()))))
      expect(released).toBe(true)
    })
  })

  it.effect("an unknown provider prefix is an LMConfigurationError naming the known providers", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(generate(makeLM("nope/model"), ask("q")))
      expect(error._tag).toBe("LMConfigurationError")
      expect(error.message).toContain("nope")
      expect(error.message).toContain("test")
      expect(t.calls.length).toBe(0)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("without an LM the fiber's CurrentLM is used, and with neither it is an LMConfigurationError", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(generate(undefined, ask("q")))
      expect(error._tag).toBe("LMConfigurationError")
      const r = yield* generate(undefined, ask("q")).pipe(Effect.provideService(CurrentLM, makeLM("test/ambient")))
      expect(r.model).toBe("test/ambient")
      expect(t.calls[0]?.model).toBe("ambient")
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("capabilities come from the provider of the LM's prefix", () => {
    const t = testProvider()
    return Effect.gen(function*() {
      const svc = yield* LanguageModel.LanguageModel
      expect(svc.capabilities(makeLM("test/smart-1")).structuredOutputs).toBe(true)
      expect(svc.capabilities(makeLM("test/basic")).structuredOutputs).toBe(false)
      expect(svc.capabilities(makeLM("nope/x")).tools).toBe(false)
    }).pipe(Effect.provide(lmLayer(t.provider)))
  })

  it.effect("LMStart/LMEnd callbacks pair by call id and report cache hits and errors", () => {
    const t = testProvider({ script: [fail(new LMAuthError({ ...common, detail: "no" }))] })
    const events: Array<CallbackEvent> = []
    return Effect.gen(function*() {
      yield* Effect.flip(generate(model, ask("x")))
      yield* generate(model, ask("y"))
      yield* generate(model, ask("y"))
      const tags = events.map((e) => e._tag)
      expect(tags).toEqual(["LMStart", "LMEnd", "LMStart", "LMEnd", "LMStart", "LMEnd"])
      for (let i = 0; i < events.length; i += 2) expect(events[i]?.callId).toBe(events[i + 1]?.callId)
      expect(new Set(events.map((e) => e.callId)).size).toBe(3)
      const ends = events.filter((e): e is Extract<CallbackEvent, { _tag: "LMEnd" }> => e._tag === "LMEnd")
      expect(ends[0]?.error).toBeInstanceOf(LMAuthError)
      expect(ends.map((e) => e.cacheHit)).toEqual([undefined, false, true])
      const start = events[0] as Extract<CallbackEvent, { _tag: "LMStart" }>
      expect(start.kwargs).toEqual({ temperature: 0.7 })
    }).pipe(withCallbacks([(e) => events.push(e)]), Effect.provide(lmLayer(t.provider)))
  })

  it.effect("each call is a LanguageModel.generate span with GenAI attributes", () => {
    const t = testProvider()
    const spans: Array<Tracer.NativeSpan> = []
    const tracer = Tracer.make({
      span(options) {
        const span = new Tracer.NativeSpan(options)
        spans.push(span)
        return span
      }
    })
    return Effect.gen(function*() {
      yield* generate(model, ask("span"))
      yield* generate(model, ask("span"))
      const calls = spans.filter((s) => s.name === "LanguageModel.generate")
      expect(calls.length).toBe(2)
      const [miss, hit] = calls
      expect(miss?.attributes.get("gen_ai.request.model")).toBe("small")
      expect(miss?.attributes.get("gen_ai.provider.name")).toBe("test")
      expect(miss?.attributes.get("gen_ai.usage.input_tokens")).toBe(10)
      expect(miss?.attributes.get("gen_ai.usage.output_tokens")).toBe(5)
      expect(miss?.attributes.get("dspex.cache_hit")).toBe(false)
      expect(miss?.attributes.get("dspex.retries")).toBe(0)
      expect(hit?.attributes.get("dspex.cache_hit")).toBe(true)
      expect(hit?.attributes.get("gen_ai.usage.input_tokens")).toBe(0)
    }).pipe(Effect.provide(lmLayer(t.provider)), Effect.provideService(Tracer.Tracer, tracer))
  })
})
