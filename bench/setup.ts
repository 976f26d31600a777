/**
 * The workload every benchmark shares: a small QA signature with one demo, arithmetic questions the
 * simulator answers, the DSPex stack (OpenAI provider over HTTP, cache off unless asked) and the raw
 * `openai` SDK client pointed at the same server.
 */
import { Cache, ChatAdapter, LanguageModel, LM, type Message, Predict, Providers, Signature } from "@dspex/core"
import { OpenAi } from "@dspex/providers"
import { Facts } from "@dspex/simulator"
import { Layer, ManagedRuntime, Redacted } from "effect"
import OpenAI from "openai"

export const apiKey = "sk-bench-0000"
export const model = "gpt-4o-mini"

export const signature = Signature.make("question -> answer")
export const demos = [{ question: "What is 1 + 1?", answer: "2" }]
export const questions: ReadonlyArray<string> = Facts.datasets.arithmetic.map((e) => e.question)
export const inputsOf = (i: number) => ({ question: questions[i % questions.length]! })

/** The program under test: one Predict with a demo. */
export const makeProgram = () => Predict.make(signature, { demos })

/** The LM the program uses; `cache: false` turns caching off for the call too. */
export const lmOf = (cache: boolean) => LM.make(`openai/${model}`, cache ? {} : { cache: false })

/** The messages ChatAdapter sends for input i (what the raw SDK baseline sends, formatted up front). */
export const messagesFor = (n: number): ReadonlyArray<ReadonlyArray<Message.Message>> =>
  Array.from(
    { length: Math.min(n, questions.length) },
    (_, i) => ChatAdapter.defaultAdapter.format(signature, demos, inputsOf(i))
  )

/** A runtime with LanguageModel over the OpenAI provider at `baseURL`. */
export const dspexRuntime = (
  baseURL: string,
  options: { readonly maxConcurrency?: number; readonly cache?: Layer.Layer<Cache.Cache> } = {}
) =>
  ManagedRuntime.make(
    LanguageModel.layer({ maxConcurrency: options.maxConcurrency ?? 64 }).pipe(
      Layer.provide([
        Providers.layer(OpenAi.provider({ apiKey: Redacted.make(apiKey), baseURL })),
        options.cache ?? Cache.layerNone
      ])
    )
  )

/** The raw SDK as anyone would use it: one client, default settings. */
export const rawClient = (baseURL: string) => new OpenAI({ apiKey, baseURL })

/** One raw SDK call: send the messages, read the text. */
export const rawCall = async (client: OpenAI, messages: ReadonlyArray<Message.Message>): Promise<string> => {
  const completion = await client.chat.completions.create({
    model,
    messages: messages as Array<OpenAI.Chat.ChatCompletionMessageParam>
  })
  const text = completion.choices[0]?.message.content
  if (typeof text !== "string" || text === "") throw new Error("empty completion")
  return text
}

/** The median of a list. */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const gc = (globalThis as { gc?: (options?: { type?: string; execution?: string }) => void }).gc

/** A young-generation collection when the process runs with --expose-gc (else nothing). */
export const minorGc = (): void => {
  gc?.({ type: "minor", execution: "sync" })
}
