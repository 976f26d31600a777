/**
 * `tuple[...]` outputs over HTTP: Predict → adapter → the official SDKs → the simulated provider, which
 * reads the tuple's type from the prompt (type note or structured-output schema) and answers with one.
 */
import { Adapter, JSONAdapter, LM, Predict, XMLAdapter } from "@dspex/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { simulator, stack } from "./support.ts"

const gpt = LM.make("openai/gpt-4o-mini", { temperature: 0 })
const claude = LM.make("anthropic/claude-haiku-4-5", { temperature: 0 })

describe("a Predict whose output is a tuple", () => {
  for (const lm of [gpt, claude]) {
    it.live(`ChatAdapter: tuple[int, str] comes back typed via ${lm.model}`, () =>
      Effect.gen(function*() {
        const sim = yield* simulator()
        const pred = yield* Predict.make("question -> answer: tuple[int, str]").call({ question: "What is 12 + 30?" })
          .pipe(
            Effect.provideService(LM.CurrentLM, lm),
            Effect.provide(stack(sim))
          )
        expect(pred.get("answer")).toEqual([42, "42"])
        expect(sim.stats().totalRequests).toBe(1)
      }).pipe(Effect.scoped))
  }

  it.live("JSONAdapter sends the tuple's prefixItems schema as a strict structured output and decodes the reply", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const sim = yield* simulator({ answers: (r) => (seen.push(r.body.response_format), undefined) })
      const pred = yield* Predict.make("question -> answer: tuple[int, str], parts: tuple[float, ...]").call({
        question: "What is 12 + 30?"
      }).pipe(
        Effect.provideService(Adapter.CurrentAdapter, JSONAdapter.defaultAdapter),
        Effect.provideService(LM.CurrentLM, gpt),
        Effect.provide(stack(sim))
      )
      expect(pred.get("answer")).toEqual([42, "42"])
      expect(pred.get("parts")).toEqual([12, 30])
      expect(seen).toHaveLength(1)
      expect(seen[0]).toMatchObject({
        type: "json_schema",
        json_schema: {
          strict: true,
          schema: {
            properties: {
              answer: {
                maxItems: 2,
                minItems: 2,
                prefixItems: [{ type: "integer" }, { type: "string" }],
                type: "array"
              },
              parts: { items: { type: "number" }, type: "array" }
            }
          }
        }
      })
    }).pipe(Effect.scoped))

  it.live("XMLAdapter: a tuple inside Optional and a list of tuples", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const pred = yield* Predict.make("question -> answer: Optional[tuple[int, str]], pairs: list[tuple[str, int]]")
        .call({ question: "What is 12 + 30?" }).pipe(
          Effect.provideService(Adapter.CurrentAdapter, XMLAdapter.defaultAdapter),
          Effect.provideService(LM.CurrentLM, gpt),
          Effect.provide(stack(sim))
        )
      expect(pred.get("answer")).toEqual([42, "42"])
      expect(pred.get("pairs")).toEqual([["42", 42]])
      expect(sim.stats().totalRequests).toBe(1)
    }).pipe(Effect.scoped))
})
