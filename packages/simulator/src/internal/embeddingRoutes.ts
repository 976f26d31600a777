/**
 * OpenAI embeddings wire format (`POST /v1/embeddings`), shaped after the `openai` SDK's
 * CreateEmbeddingResponse and the API's error bodies. It goes through the same admission as chat
 * (authentication, the fault triggers, the latency), so every fault a chat request can get, an
 * embeddings request gets too; the content faults take an embeddings form (`truncated`: the last
 * embedding missing, `empty`: no embeddings at all).
 */
import { MAX_INPUT_TOKENS, MAX_INPUTS, nativeDimensions, vectorOfWords, words } from "../Embeddings.ts"
import { estimateTokens } from "../TextTools.ts"
import {
  admit,
  type ErrorInfo,
  type Json,
  latencyFor,
  type PipelineState,
  type RequestContext,
  sendError
} from "./completion.ts"
import { sendText } from "./http.ts"
import { openAiProvider } from "./openAiRoutes.ts"

/** One input: a text, or token ids (hashed as `#<id>` words). */
type Input = { readonly text: string } | { readonly tokens: ReadonlyArray<number> }

const invalidInput = (detail: string): ErrorInfo => ({
  message:
    `'$.input' is invalid: ${detail}. Please check the API reference: https://platform.openai.com/docs/api-reference.`,
  param: "input",
  code: "invalid_value"
})

const isTokenList = (x: unknown): x is ReadonlyArray<number> =>
  Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === "number" && Number.isInteger(n) && n >= 0)

/** The inputs of a body, or the 400 the real API answers. */
const inputsOf = (input: unknown): ReadonlyArray<Input> | ErrorInfo => {
  if (input === undefined || input === null) {
    return { message: "Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter" }
  }
  if (typeof input === "string") return input === "" ? invalidInput("an input cannot be empty") : [{ text: input }]
  if (!Array.isArray(input) || input.length === 0) return invalidInput("expected a string or a non-empty array")
  if (input.length > MAX_INPUTS) return invalidInput(`an array holds at most ${MAX_INPUTS} inputs`)
  if (isTokenList(input)) return [{ tokens: input }]
  const out: Array<Input> = []
  for (const item of input as Array<unknown>) {
    if (typeof item === "string" && item !== "") out.push({ text: item })
    else if (isTokenList(item)) out.push({ tokens: item })
    else return invalidInput("each input must be a non-empty string or a non-empty array of token ids")
  }
  return out
}

const tokensOf = (input: Input): ReadonlyArray<string> =>
  "text" in input ? words(input.text) : input.tokens.map((t) => `#${t}`)

const tokenCount = (input: Input): number => ("text" in input ? estimateTokens(input.text) : input.tokens.length)

const validate = (body: Json): ErrorInfo | undefined => {
  const model = body["model"]
  if (typeof model !== "string" || model === "") {
    return { message: "you must provide a model parameter", code: "missing_required_parameter", param: "model" }
  }
  const inputs = inputsOf(body["input"])
  if (!Array.isArray(inputs)) return inputs as ErrorInfo
  const format = body["encoding_format"]
  if (format !== undefined && format !== null && format !== "float" && format !== "base64") {
    return {
      message: `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      param: "encoding_format",
      code: "invalid_value"
    }
  }
  const dimensions = body["dimensions"]
  if (dimensions !== undefined && dimensions !== null) {
    const base = model.replace(/:fault=[\w-]+$/, "")
    if (base === "text-embedding-ada-002") {
      return { message: "This model does not support specifying dimensions.", param: "dimensions" }
    }
    const native = nativeDimensions(base)
    if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > native) {
      return {
        message: `Invalid value for 'dimensions' = ${String(dimensions)}. Must be an integer between 1 and ${native}.`,
        param: "dimensions",
        code: "invalid_value"
      }
    }
  }
  return undefined
}

const base64Of = (vector: Float32Array): string =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64")

/** Runs one embeddings request end to end. */
export const runEmbeddings = async (ctx: RequestContext, state: PipelineState): Promise<void> => {
  const spec = openAiProvider
  const admitted = await admit(ctx, spec, state, validate)
  if (admitted === undefined) return
  const { arrived, body, model, fault } = admitted
  const inputs = inputsOf(body["input"]) as ReadonlyArray<Input>
  const counts = inputs.map(tokenCount)
  const longest = Math.max(...counts)

  if (fault === "401") return sendError(ctx, spec, "auth_invalid", { key: spec.apiKey(ctx.req) ?? "" })
  if (fault === "429") {
    return sendError(ctx, spec, "rate_limit", { model, retryAfterSeconds: state.faults.retryAfterSeconds ?? 1 })
  }
  if (fault === "quota") return sendError(ctx, spec, "quota", { model })
  if (fault === "context" || longest > MAX_INPUT_TOKENS) {
    const requested = Math.max(longest, MAX_INPUT_TOKENS + 1)
    return sendError(ctx, spec, "invalid", {
      message:
        `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${requested} tokens (${requested} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
      param: "input",
      code: "context_length_exceeded"
    })
  }
  if (fault === "hang") return state.hang(ctx.res)
  if (fault === "stall") {
    ctx.res.writeHead(200, { "content-type": "application/json" })
    ctx.res.write("{\"object\": ")
    return state.hang(ctx.res)
  }

  // Built before the wait: the latency is the server's whole time on the request, its own work included.
  const answered = fault !== "500" && fault !== "overloaded" && fault !== "malformed"
  const text = answered ? responseText(body, model, inputs, counts, fault) : ""
  const waitMs = latencyFor(ctx, state)
  const remainingMs = waitMs - (performance.now() - arrived)
  if (waitMs > 0 && remainingMs > 0 && !(await state.sleep(ctx.res, remainingMs))) return
  if (waitMs > 0 && ctx.res.destroyed) return

  if (fault === "500") return sendError(ctx, spec, "server", { model })
  if (fault === "overloaded") return sendError(ctx, spec, "overloaded", { model })
  const headers = { "x-request-id": ctx.requestId, "openai-model": model }
  if (fault === "malformed") {
    return sendText(
      ctx,
      200,
      "application/json",
      "{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", \"ind",
      headers
    )
  }
  sendText(ctx, 200, "application/json", text, headers)
}

/** The response body; `truncated` leaves the last embedding out, `empty` all of them. */
const responseText = (
  body: Json,
  model: string,
  inputs: ReadonlyArray<Input>,
  counts: ReadonlyArray<number>,
  fault: string | undefined
): string => {
  const dimensions = typeof body["dimensions"] === "number" ? body["dimensions"] : nativeDimensions(model)
  const base64 = body["encoding_format"] === "base64"
  const kept = fault === "empty" ? [] : fault === "truncated" ? inputs.slice(0, -1) : inputs
  const data = kept.map((input, index) => {
    const vector = vectorOfWords(tokensOf(input), dimensions)
    return { object: "embedding", index, embedding: base64 ? base64Of(vector) : Array.from(vector) }
  })
  const promptTokens = counts.reduce((a, b) => a + b, 0)
  return JSON.stringify({
    object: "list",
    data,
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens }
  })
}
