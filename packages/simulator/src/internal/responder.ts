/**
 * Provider-neutral reply generation: from the conversation and request knobs (tools, n, stop, max tokens,
 * response format, content faults) to the assistant choices. Both provider routes share it so OpenAI and
 * Anthropic clients see the same answers for the same prompt.
 */
import { type ParsedPrompt, readPrompt, renderOutputs, type SimMessage } from "../PromptReader.ts"
import type { SimRequest } from "../Simulator.ts"
import { planToolCall, solveTask, type ToolSpec } from "../Tasks.ts"
import { estimateTokens } from "../TextTools.ts"
import { optimizableChoices, type SampleCounter } from "./optimizableReplies.ts"

export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: Record<string, unknown>
}

export interface Choice {
  readonly text: string
  readonly toolCalls: ReadonlyArray<ToolCall>
  readonly finish: "stop" | "length" | "tool_calls" | "stop_sequence"
  readonly stopSequence: string | null
  readonly outputTokens: number
}

export type ToolMode = "auto" | "none" | "required" | { readonly name: string }

export interface ReplyRequest {
  readonly provider: "openai" | "anthropic"
  readonly model: string
  readonly messages: ReadonlyArray<SimMessage>
  readonly body: Readonly<Record<string, unknown>>
  readonly headers: SimRequest["headers"]
  readonly responseFormat: unknown
  readonly tools: ReadonlyArray<ToolSpec>
  readonly toolMode: ToolMode
  readonly n: number
  readonly temperature: number
  readonly stop: ReadonlyArray<string>
  readonly maxTokens: number | undefined
  readonly fault: "truncated" | "empty" | undefined
  readonly answers: ((request: SimRequest) => string | undefined) | undefined
  /** Set when the request is in the optimizable mode. */
  readonly optimizable: SampleCounter | undefined
  readonly newId: (prefix: string) => string
}

const finishText = (
  text: string,
  req: ReplyRequest
): Pick<Choice, "text" | "finish" | "stopSequence"> => {
  let cut = text
  let finish: Choice["finish"] = "stop"
  let stopSequence: string | null = null
  let at = -1
  for (const s of req.stop) {
    const i = s === "" ? -1 : cut.indexOf(s)
    if (i >= 0 && (at < 0 || i < at)) {
      at = i
      stopSequence = s
    }
  }
  if (at >= 0) {
    cut = cut.slice(0, at)
    finish = "stop_sequence"
  }
  if (req.fault === "truncated") {
    return { text: cut.slice(0, Math.max(1, Math.floor(cut.length / 2))), finish: "length", stopSequence: null }
  }
  if (req.maxTokens !== undefined && req.maxTokens > 0 && estimateTokens(cut) > req.maxTokens) {
    return { text: cut.slice(0, req.maxTokens * 4), finish: "length", stopSequence: null }
  }
  return { text: cut, finish, stopSequence }
}

/** Builds the `n` assistant choices for a request (already past auth, validation and error faults). */
export const buildChoices = (req: ReplyRequest): { readonly prompt: ParsedPrompt; readonly choices: Array<Choice> } => {
  const prompt = readPrompt(req.messages, req.responseFormat)
  const n = Math.max(1, Math.min(req.n, 128))
  if (req.fault === "empty") {
    return {
      prompt,
      choices: Array.from(
        { length: n },
        () => ({ text: "", toolCalls: [], finish: "stop", stopSequence: null, outputTokens: 0 })
      )
    }
  }
  const last = req.messages.at(-1)
  if (req.fault === undefined && req.toolMode !== "none" && req.tools.length > 0 && last?.role === "user") {
    const plan = planToolCall(prompt.inputs, req.tools, req.toolMode)
    if (plan) {
      const choices = Array.from({ length: n }, (): Choice => {
        const call: ToolCall = {
          id: req.newId(req.provider === "anthropic" ? "toolu" : "call"),
          name: plan.name,
          arguments: plan.arguments
        }
        return {
          text: "",
          toolCalls: [call],
          finish: "tool_calls",
          stopSequence: null,
          outputTokens: estimateTokens(plan.name + JSON.stringify(plan.arguments))
        }
      })
      return { prompt, choices }
    }
  }
  const optimized = req.optimizable === undefined ? undefined : optimizableChoices({
    prompt,
    messages: req.messages,
    body: req.body,
    n,
    temperature: req.temperature,
    samples: req.optimizable
  })
  const choices: Array<Choice> = []
  for (let i = 0; i < n; i++) {
    const variant = req.temperature > 0 ? i : 0
    const custom = req.answers?.({
      provider: req.provider,
      model: req.model,
      messages: req.messages,
      prompt,
      body: req.body,
      headers: req.headers,
      choiceIndex: i
    })
    const text = custom ??
      renderOutputs(
        prompt.format,
        prompt.outputFields,
        optimized?.[i] ?? solveTask(prompt.inputs, prompt.outputFields, { instructions: prompt.instructions, variant }),
        variant
      )
    const done = finishText(text, req)
    choices.push({ ...done, toolCalls: [], outputTokens: estimateTokens(done.text) })
  }
  return { prompt, choices }
}

/** Prompt size as the simulator bills it: all message text, system included. */
export const promptTokens = (messages: ReadonlyArray<SimMessage>): number =>
  estimateTokens(messages.map((m) => m.text).join(""))
