/**
 * An `Embedder.EmbeddingProvider` over an `openai` client's embeddings endpoint. As for chat, the SDK
 * never retries (the Embedder does), the request owns its deadline and is aborted when the caller is
 * interrupted (sdkCall + abortWith), and every failure becomes a typed LM error through the chat
 * provider's own mapping.
 */
import { type Embedder, Tracing } from "@dspex/core"
import type OpenAI from "openai"
import { abortWith } from "./abortLink.ts"
import { type CallContext, toLMError } from "./errors.ts"
import { clientSettings } from "./notSent.ts"
import { describeOpenAiError } from "./openaiChat.ts"
import { sdkCall } from "./sdkCall.ts"

export interface EmbeddingProviderSettings {
  readonly name: string
  readonly client: OpenAI
  readonly baseURL: string
  readonly secrets: ReadonlyArray<string>
  readonly cost?: ((model: string, usage: Embedder.EmbeddingUsage) => number | undefined) | undefined
}

/** OpenAI's limit on the inputs of one request. */
export const maxInputs = 2048

/** Keys of kwargs that the request body sets itself, or that are client settings. */
const reserved = new Set([...clientSettings, "input", "dimensions", "encoding_format"])

const headerRequestId = (headers: Headers | undefined): string | undefined =>
  headers?.get("x-request-id") ?? headers?.get("request-id") ?? undefined

/** Float32 little-endian bytes in base64 (what `encoding_format: "base64"` returns) as a fresh Float32Array. */
const decode = (text: string): Float32Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined
  const out = new Float32Array(bytes.length / 4)
  new Uint8Array(out.buffer).set(bytes)
  return out
}

type Parsed =
  | { readonly _tag: "ok"; readonly vectors: Array<Float32Array>; readonly usage: Embedder.EmbeddingUsage }
  | { readonly _tag: "malformed"; readonly detail: string }

/**
 * The vectors of a response body, by `index`, checked to be one per text; an OpenAI-compatible server
 * that ignores `encoding_format` and sends number lists is read too.
 *
 * @example
 * parseEmbeddings({ data: [{ index: 0, embedding: "AACAPw==" }], usage: { prompt_tokens: 1, total_tokens: 1 } }, 1)
 */
export const parseEmbeddings = (body: unknown, count: number): Parsed => {
  const data = typeof body === "object" && body !== null ? (body as { data?: unknown }).data : undefined
  if (!Array.isArray(data)) return { _tag: "malformed", detail: "the response has no data list" }
  if (data.length !== count) {
    return { _tag: "malformed", detail: `the response holds ${data.length} embeddings for ${count} inputs` }
  }
  const vectors: Array<Float32Array | undefined> = new Array(count)
  for (let i = 0; i < data.length; i++) {
    const item = data[i] as { index?: unknown; embedding?: unknown } | undefined
    const index = typeof item?.index === "number" ? item.index : i
    if (!Number.isInteger(index) || index < 0 || index >= count || vectors[index] !== undefined) {
      return { _tag: "malformed", detail: `embedding ${i} has the index ${String(item?.index)}` }
    }
    const embedding = item?.embedding
    const vector = typeof embedding === "string"
      ? decode(embedding)
      : Array.isArray(embedding) && embedding.length > 0 && embedding.every((x) => typeof x === "number")
      ? Float32Array.from(embedding as Array<number>)
      : undefined
    if (vector === undefined) return { _tag: "malformed", detail: `embedding ${index} is not a vector` }
    vectors[index] = vector
  }
  const usage = (body as { usage?: { prompt_tokens?: unknown; total_tokens?: unknown } }).usage
  const prompt = typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : 0
  const total = typeof usage?.total_tokens === "number" ? usage.total_tokens : prompt
  return { _tag: "ok", vectors: vectors as Array<Float32Array>, usage: { promptTokens: prompt, totalTokens: total } }
}

/**
 * An embedding provider over a configured `openai` client.
 *
 * @example
 * makeEmbeddingProvider({ name: "openai", client, baseURL, secrets: [key] })
 */
export const makeEmbeddingProvider = (settings: EmbeddingProviderSettings): Embedder.EmbeddingProvider => {
  const { client, name } = settings
  const spanName = `${name}.embed`
  const embed = (request: Embedder.EmbeddingRequest) => {
    const ctx: CallContext = {
      provider: name,
      model: request.model,
      baseURL: settings.baseURL,
      timeoutMs: request.timeoutMs,
      secrets: settings.secrets
    }
    const extra: Record<string, unknown> = {}
    const kwargs = request.kwargs ?? {}
    for (const k in kwargs) {
      if (!reserved.has(k) && kwargs[k] !== undefined) extra[k] = kwargs[k]
    }
    const body = {
      ...extra,
      model: request.model,
      input: [...request.texts],
      // Asked for explicitly, so the SDK hands the base64 text over as it is instead of turning it into
      // a number list first: it decodes straight into the Float32Array the Embedder keeps.
      encoding_format: "base64" as const,
      ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions })
    }
    const call = sdkCall(
      (controller) =>
        client.embeddings.create(body, { ...abortWith(controller), timeout: request.timeoutMs, maxRetries: 0 })
          .withResponse(),
      request.timeoutMs,
      ({ data, response, request_id }) => {
        const requestId = request_id ?? headerRequestId(response.headers)
        const parsed = parseEmbeddings(data as unknown, request.texts.length)
        if (parsed._tag === "malformed") return toLMError({ kind: "malformed", detail: parsed.detail, requestId }, ctx)
        const out: Embedder.EmbeddingResponse = {
          vectors: parsed.vectors,
          usage: parsed.usage,
          cost: settings.cost?.(request.model, parsed.usage),
          ...(typeof data.model === "string" ? { responseModel: data.model } : {}),
          ...(requestId === undefined ? {} : { requestId })
        }
        return out
      },
      (error) => toLMError(describeOpenAiError(error), ctx),
      () => toLMError({ kind: "timeout" }, ctx)
    )
    return Tracing.withSpan(call, spanName, () => ({
      "gen_ai.operation.name": "embeddings",
      "gen_ai.request.model": request.model,
      "dspex.texts": request.texts.length
    }))
  }
  return { name, endpoint: settings.baseURL, embed, handlesTimeout: true, maxBatchSize: maxInputs }
}
