import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { cacheKey, type CacheKeyRequest } from "../src/Cache.ts"
import { canonicalJson, dspyKwargs } from "../src/internal/cacheKey.ts"

const base: CacheKeyRequest = {
  model: "openai/gpt-4o-mini",
  messages: [
    { role: "system", content: "Your input fields are:\n1. `question` (str)" },
    {
      role: "user",
      content: [{ type: "text", text: "What is 2+2?" }, {
        type: "image_url",
        image_url: { url: "data:image/png;base64,AAAA" }
      }]
    }
  ],
  temperature: 0.7,
  maxTokens: 1000,
  stop: ["\n\n"],
  responseFormat: { type: "json_object" },
  tools: [{
    name: "search",
    description: "web search",
    parameters: { type: "object", properties: { q: { type: "string" } } }
  }],
  kwargs: { top_p: 0.9, seed: 7 }
}

describe("canonicalJson", () => {
  it("sorts keys at every level, is compact, and drops undefined members like JSON", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, undefined, "x"], c: null }, e: undefined })).toBe(
      "{\"a\":{\"c\":null,\"d\":[3,null,\"x\"]},\"b\":1}"
    )
    expect(canonicalJson("é\n\"")).toBe(JSON.stringify("é\n\""))
    expect(canonicalJson([1.5, -0, true, Number.NaN])).toBe("[1.5,0,true,null]")
  })

  it("matches DSPy's sorted-key request dict layout", () => {
    const json = canonicalJson({
      ...dspyKwargs({ temperature: 0, maxTokens: 5 }),
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }]
    })
    expect(json).toBe(
      "{\"max_tokens\":5,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"openai/gpt-4o-mini\",\"temperature\":0}"
    )
    expect(
      cacheKey({
        model: "openai/gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        temperature: 0,
        maxTokens: 5
      })
    ).toBe(
      createHash("sha256").update(json).digest("hex")
    )
  })
})

describe("cacheKey", () => {
  it("is a SHA-256 hex digest, stable across calls", () => {
    const k = cacheKey(base)
    expect(k).toMatch(/^[0-9a-f]{64}$/)
    expect(cacheKey(base)).toBe(k)
  })

  it("does not depend on object key order", () => {
    const reordered: CacheKeyRequest = {
      kwargs: { seed: 7, top_p: 0.9 },
      tools: [{
        parameters: { properties: { q: { type: "string" } }, type: "object" },
        description: "web search",
        name: "search"
      }],
      responseFormat: { type: "json_object" },
      stop: ["\n\n"],
      maxTokens: 1000,
      temperature: 0.7,
      messages: [
        { content: "Your input fields are:\n1. `question` (str)", role: "system" },
        {
          content: [{ text: "What is 2+2?", type: "text" }, {
            image_url: { url: "data:image/png;base64,AAAA" },
            type: "image_url"
          }],
          role: "user"
        }
      ],
      model: "openai/gpt-4o-mini"
    }
    expect(cacheKey(reordered)).toBe(cacheKey(base))
  })

  it("changes with any message or setting", () => {
    const k = cacheKey(base)
    const variants: ReadonlyArray<CacheKeyRequest> = [
      { ...base, model: "anthropic/gpt-4o-mini" },
      { ...base, messages: [...base.messages, { role: "assistant", content: "4" }] },
      {
        ...base,
        messages: [{ role: "user", content: "Your input fields are:\n1. `question` (str)" }, base.messages[1]!]
      },
      {
        ...base,
        messages: [{ role: "system", content: "Your input fields are:\n1. `question` (str) " }, base.messages[1]!]
      },
      { ...base, temperature: 0.8 },
      { ...base, temperature: undefined },
      { ...base, maxTokens: 1001 },
      { ...base, n: 3 },
      { ...base, stop: ["\n"] },
      { ...base, rolloutId: 1 },
      { ...base, responseFormat: { type: "json_schema", json_schema: { name: "x", schema: {}, strict: true } } },
      { ...base, tools: [] },
      { ...base, kwargs: { top_p: 0.9, seed: 8 } },
      { ...base, kwargs: { top_p: 0.9 } }
    ]
    const keys = variants.map(cacheKey)
    for (const v of keys) expect(v).not.toBe(k)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it("distinguishes rollout ids from each other", () => {
    expect(cacheKey({ ...base, rolloutId: 1 })).not.toBe(cacheKey({ ...base, rolloutId: 2 }))
    expect(cacheKey({ ...base, rolloutId: 1 })).toBe(cacheKey({ ...base, kwargs: { ...base.kwargs, rollout_id: 1 } }))
  })

  it("leaves out the API key, base URL, num_retries, the cache flag and headers; n = 1 is the default", () => {
    const k = cacheKey(base)
    expect(
      cacheKey({
        ...base,
        kwargs: { ...base.kwargs, api_key: "sk-secret", api_base: "http://x", base_url: "http://y" }
      })
    ).toBe(k)
    expect(cacheKey({ ...base, kwargs: { ...base.kwargs, num_retries: 8, cache: false, headers: { a: "b" } } })).toBe(k)
    expect(cacheKey({ ...base, n: 1 })).toBe(k)
    const request = { ...base, cache: false } as CacheKeyRequest
    expect(cacheKey(request)).toBe(k)
  })

  it("keys named settings over same-named kwargs", () => {
    expect(dspyKwargs({ temperature: 0.5, kwargs: { temperature: 0.9, max_tokens: 3 } })).toEqual({
      temperature: 0.5,
      max_tokens: 3
    })
  })
})
