/**
 * Shared fixtures for provider tests: DSPy ChatAdapter prompts the simulator answers deterministically,
 * request builders, and helpers to run an effect to its typed failure.
 */
import type { LanguageModel, Message } from "@dspex/core"
import { Effect } from "effect"
import { createServer } from "node:net"

import { Simulator } from "@dspex/simulator"
import { afterAll, beforeAll } from "@effect/vitest"

export { Simulator }

/**
 * One simulator for the whole test file, started before its tests and closed after them, recording
 * every request body it receives.
 */
export const recordingSimulator = () => {
  const bodies: Array<Record<string, unknown>> = []
  let started: Simulator.Simulator | undefined
  beforeAll(async () => {
    started = await Simulator.start({
      answers: (req) => {
        bodies.push({ ...req.body })
        return undefined
      }
    })
  })
  afterAll(() => started?.close())
  return {
    bodies,
    get sim(): Simulator.Simulator {
      if (started === undefined) throw new Error("the simulator starts in beforeAll")
      return started
    }
  }
}

/** A key distinctive enough that finding it anywhere in an error is unambiguous. */
export const secretKey = "sk-invalid-DSPEX-SECRET-7d3f9b2e41c8"
export const goodKey = "sk-test-providers-0001"

const system = "Your input fields are:\n1. `question` (str):\nYour output fields are:\n1. `answer` (str):\n" +
  "All interactions will be structured in the following way, with the appropriate values filled in.\n\n" +
  "[[ ## question ## ]]\n{question}\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]\n" +
  "In adhering to this structure, your objective is: \n        Given the fields `question`, produce the fields `answer`."

const user = (question: string) =>
  `[[ ## question ## ]]\n${question}\n\nRespond with the corresponding output fields, starting with the field ` +
  "`[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."

/** DSPy's ChatAdapter rendering of `question -> answer` for one question. */
export const qa = (question: string): ReadonlyArray<Message.Message> => [
  { role: "system", content: system },
  { role: "user", content: user(question) }
]

export const request = (
  model: string,
  overrides: Partial<LanguageModel.ProviderRequest> = {}
): LanguageModel.ProviderRequest => ({
  model,
  messages: qa("What is the capital of France?"),
  n: 1,
  timeoutMs: 5_000,
  ...overrides
})

export const calculator = {
  name: "calculator",
  description: "Evaluate an arithmetic expression",
  parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] }
}

/** The typed error of an effect expected to fail (a success fails the test). */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<E, A, R> => Effect.flip(effect)

/** Everything an error exposes as text: message, JSON encoding, string form. */
export const errorText = (e: unknown): string =>
  [String((e as { message?: unknown }).message), JSON.stringify(e), String(e), (e as { stack?: string }).stack ?? ""]
    .join("\n")

/** A loopback port nothing listens on (bound, then released). */
export const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
