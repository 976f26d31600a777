import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { mkdtemp, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CurrentAdapter } from "../src/Adapter.ts"
import * as ChainOfThought from "../src/ChainOfThought.ts"
import { StateLoadError } from "../src/Errors.ts"
import { lmFromState, lmToState } from "../src/internal/stateCodec.ts"
import * as LM from "../src/LM.ts"
import { Module } from "../src/Module.ts"
import * as Predict from "../src/Predict.ts"
import * as ProgramState from "../src/ProgramState.ts"
import { loadChatAdapter, scriptedLM, testAdapter } from "./moduleTestKit.ts"

const fixture = (name: string) => new URL(`./fixtures/saved/${name}`, import.meta.url).pathname
const readJson = async (name: string) => JSON.parse(await readFile(fixture(name), "utf8")) as Record<string, any>

const predictJson = await readJson("predict.json")
const twoJson = await readJson("two_predictors.json")
const runs = await readJson("runs.json")
const chatAdapter = await loadChatAdapter()

class TwoPredictors extends Module {
  generate_query = ChainOfThought.make("context, question -> query")
  generate_answer = Predict.make("context: list[str], question -> answer")

  forward(inputs: { readonly question: string }) {
    return Effect.gen({ self: this }, function*() {
      const q = yield* this.generate_query.call({ context: "", question: inputs.question })
      return yield* this.generate_answer.call({ context: [String(q.get("query"))], question: inputs.question })
    })
  }
}

const failure = <A>(exit: Exit.Exit<A, StateLoadError>): StateLoadError => {
  if (Exit.isSuccess(exit)) throw new Error("expected the load to fail")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

describe("DSPy fixtures round-trip", () => {
  it.effect("predict.json: a bare Predict loads and dumps the identical JSON", () =>
    Effect.gen(function*() {
      const p = Predict.make("question -> answer")
      yield* ProgramState.loadState(p, predictJson)
      expect(p.instructions).toBe("Be brief.")
      expect(p.demos).toEqual([{ question: "2+2?", answer: "4" }, { question: "Capital of France?", answer: "Paris" }])
      expect(JSON.stringify(ProgramState.dumpState(p))).toBe(JSON.stringify(predictJson))
    }))

  it.effect("two_predictors.json: nested ChainOfThought + Predict round-trip with key order", () =>
    Effect.gen(function*() {
      const program = new TwoPredictors()
      yield* ProgramState.loadState(program, twoJson)
      expect(program.generate_query.predict.instructions).toBe("Write a search query.")
      expect(program.generate_query.predict.demos[0]).toEqual({
        context: "",
        question: "Who wrote Hamlet?",
        reasoning: "author",
        query: "Hamlet author",
        augmented: true
      })
      expect(JSON.stringify(ProgramState.dumpState(program))).toBe(JSON.stringify(twoJson))
    }))

  it.effect("save writes byte-identical files and load reads them back", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "dspex-state-")))
      const program = new TwoPredictors()
      yield* ProgramState.load(program, fixture("two_predictors.json"))
      const out = join(dir, "saved.json")
      yield* ProgramState.save(program, out)
      const written = yield* Effect.promise(() => readFile(out, "utf8"))
      const original = yield* Effect.promise(() => readFile(fixture("two_predictors.json"), "utf8"))
      expect(written).toBe(original)

      const missing = yield* Effect.exit(ProgramState.load(new TwoPredictors(), join(dir, "absent.json")))
      expect(Exit.isFailure(missing) && JSON.stringify(missing.cause)).toContain("ProgramFileError")
      yield* Effect.promise(() => writeFile(join(dir, "bad.json"), "{not json"))
      const bad = yield* Effect.exit(ProgramState.load(new TwoPredictors(), join(dir, "bad.json")))
      expect(Exit.isFailure(bad) && JSON.stringify(bad.cause)).toContain("not valid JSON")
    }))
})

describe("runs.json: loaded programs behave as in DSPy", () => {
  const lmFor = (calls: ReadonlyArray<{ outputs: ReadonlyArray<string> }>) => scriptedLM(calls.map((c) => c.outputs))

  const check = (name: "predict" | "two_predictors", program: Module & { call: (i: any) => any }, state: unknown) =>
    Effect.gen(function*() {
      const run = runs[name]
      yield* ProgramState.loadState(program, state)
      const lm = lmFor(run.calls)
      const adapter = chatAdapter ?? testAdapter
      const pred = yield* (program.call(run.inputs) as Effect.Effect<any, any, any>).pipe(
        Effect.provideService(CurrentAdapter, adapter),
        Effect.provideService(LM.CurrentLM, LM.make("openai/gpt-4o-mini")),
        Effect.provide(lm.layer)
      )
      expect(pred.toJSON()).toEqual(run.prediction)
      expect(lm.calls).toHaveLength(run.calls.length)
      if (chatAdapter !== undefined) {
        lm.calls.forEach((call, i) => expect(call.request.messages).toEqual(run.calls[i].messages))
      }
    })

  it("compares messages with the real ChatAdapter", () => expect(chatAdapter).toBeDefined())
  it.effect("predict: same messages and prediction", () =>
    check("predict", Predict.make("question -> answer"), predictJson))
  it.effect("two_predictors: same messages and prediction for both calls", () =>
    check("two_predictors", new TwoPredictors(), twoJson))
})

describe("atomic loading", () => {
  it.effect("a missing predictor key fails naming it and leaves the program untouched", () =>
    Effect.gen(function*() {
      const program = new TwoPredictors()
      program.generate_answer.demos = [{ question: "kept", answer: "yes" }]
      const before = JSON.stringify(ProgramState.dumpState(program))
      const { "generate_answer": _, ...partial } = twoJson
      const error = failure(yield* Effect.exit(ProgramState.loadState(program, partial)))
      expect(error).toBeInstanceOf(StateLoadError)
      expect(error.key).toBe("generate_answer")
      expect(error.message).toContain("generate_answer")
      expect(JSON.stringify(ProgramState.dumpState(program))).toBe(before)
    }))

  it.effect("a bad second predictor does not half-apply the first", () =>
    Effect.gen(function*() {
      const program = new TwoPredictors()
      const before = JSON.stringify(ProgramState.dumpState(program))
      const broken = structuredClone(twoJson)
      broken.generate_answer.signature.fields.pop()
      const error = failure(yield* Effect.exit(ProgramState.loadState(program, broken)))
      expect(error.key).toBe("generate_answer.signature.fields")
      expect(error.reason).toContain("2 entries")
      expect(error.reason).toContain("context, question, answer")
      expect(program.generate_query.predict.instructions).not.toBe("Write a search query.")
      expect(JSON.stringify(ProgramState.dumpState(program))).toBe(before)
    }))

  it.effect("rejects non-object demos, bad field entries and insane LM state, naming the key", () =>
    Effect.gen(function*() {
      const p = Predict.make("question -> answer")
      const cases: Array<[(s: any) => void, string]> = [
        [(s) => (s.demos = ["not an object"]), "demos[0]"],
        [(s) => (s.demos = {}), "demos"],
        [(s) => (s.signature.fields[1] = { prefix: 3, description: "x" }), "signature.fields[1].prefix"],
        [(s) => (s.signature.instructions = null), "signature.instructions"],
        [(s) => delete s.signature, "signature"],
        [(s) => (s.lm = "openai/gpt-4o"), "lm"],
        [(s) => (s.lm = { model: 42 }), "lm.model"],
        [(s) => (s.lm = { model: "openai/gpt-4o", temperature: "hot" }), "lm.temperature"],
        [(s) => (s.lm = { model: "openai/gpt-4o", _dspy_lm_class: "my.Custom" }), "lm"],
        [(s) => (s.lm = { model: "openai/gpt-4o", model_type: "responses" }), "lm.model_type"]
      ]
      for (const [mutate, key] of cases) {
        const state = structuredClone(predictJson)
        mutate(state)
        const error = failure(yield* Effect.exit(ProgramState.loadState(p, state)))
        expect(error.key).toBe(key)
        expect(p.demos).toEqual([])
      }
      const notObject = failure(yield* Effect.exit(ProgramState.loadState(new TwoPredictors(), [1, 2])))
      expect(notObject.key).toBe("(root)")
    }))

  it.effect("ignores metadata and unknown top-level keys", () =>
    Effect.gen(function*() {
      const program = new TwoPredictors()
      yield* ProgramState.loadState(program, {
        ...twoJson,
        extra: { anything: true },
        metadata: { dependency_versions: { dspy: "2.6.0" } }
      })
      expect(program.generate_answer.instructions).toBe("Answer using the context.")
    }))
})

describe("LM state", () => {
  it("dumps DSPy's LM layout without any API key", () => {
    const lm = LM.make("openai/gpt-4o-mini", {
      temperature: 0.2,
      maxTokens: 500,
      rolloutId: 3,
      kwargs: { top_p: 0.9, api_key: "sk-secret" }
    })
    const state = lmToState(lm)
    expect(Object.keys(state)).toEqual([
      "_dspy_lm_class",
      "model",
      "model_type",
      "cache",
      "num_retries",
      "temperature",
      "max_tokens",
      "rollout_id",
      "top_p",
      "finetuning_model",
      "launch_kwargs",
      "train_kwargs"
    ])
    expect(state).toMatchObject({
      model: "openai/gpt-4o-mini",
      model_type: "chat",
      cache: true,
      num_retries: 3,
      temperature: 0.2,
      max_tokens: 500
    })
    expect(JSON.stringify(state)).not.toContain("sk-secret")
    expect(lmToState(LM.make("m")).temperature).toBeNull()
    // DSPy moves max_tokens of OpenAI reasoning models to the end.
    expect(Object.keys(lmToState(LM.make("openai/o3-mini", { maxTokens: 20000 }))).at(-1)).toBe("max_tokens")
  })

  it("rebuilds LMs from DSPy state, dropping keys and unsafe endpoints", () => {
    const lm = lmFromState("lm", {
      _dspy_lm_class: "dspy.clients.lm.LM",
      model: "openai/gpt-4o-mini",
      model_type: "chat",
      cache: false,
      num_retries: 5,
      temperature: 0.0,
      max_tokens: 1000,
      n: 2,
      stop: "END",
      top_p: 0.5,
      api_key: "sk-secret",
      api_base: "http://evil.example",
      finetuning_model: null,
      launch_kwargs: {},
      train_kwargs: {}
    })
    expect(lm).toEqual({
      model: "openai/gpt-4o-mini",
      modelType: "chat",
      temperature: 0,
      maxTokens: 1000,
      n: 2,
      stop: ["END"],
      cache: false,
      numRetries: 5,
      kwargs: { top_p: 0.5 }
    })
    expect(lmFromState("lm", { model: "m", base_url: "http://local" }, { allowUnsafeLmState: true })!.kwargs).toEqual({
      base_url: "http://local"
    })
    expect(lmFromState("lm", null)).toBeUndefined()
  })

  it.effect("round-trips a predictor's LM through save and load", () =>
    Effect.gen(function*() {
      const p = Predict.make("question -> answer", {
        lm: LM.make("anthropic/claude-sonnet-4-5", { temperature: 1, maxTokens: 64, kwargs: { top_k: 5 } })
      })
      const saved = ProgramState.dumpState(p)
      const q = Predict.make("question -> answer")
      yield* ProgramState.loadState(q, saved)
      expect(q.lm).toEqual({
        model: "anthropic/claude-sonnet-4-5",
        modelType: "chat",
        temperature: 1,
        maxTokens: 64,
        cache: true,
        numRetries: 3,
        kwargs: { top_k: 5 }
      })
      expect(JSON.stringify(ProgramState.dumpState(q))).toBe(JSON.stringify(saved))
    }))
})

describe("stateHash", () => {
  it("is equal for equal states and changes with instructions, demos or LM", () => {
    const a = new TwoPredictors()
    const b = new TwoPredictors()
    const h = ProgramState.stateHash(a)
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(ProgramState.stateHash(b)).toBe(h)
    expect(ProgramState.stateHash(a.deepCopy())).toBe(h)
    b.generate_answer.demos = [{ question: "q", answer: "a" }]
    const withDemo = ProgramState.stateHash(b)
    expect(withDemo).not.toBe(h)
    b.generate_answer.signature = b.generate_answer.signature.withInstructions("other")
    expect(ProgramState.stateHash(b)).not.toBe(withDemo)
    a.setLm(LM.make("openai/gpt-4o-mini"))
    expect(ProgramState.stateHash(a)).not.toBe(h)
  })

  it("does not depend on key order or metadata", () => {
    expect(ProgramState.canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      "{\"a\":{\"c\":null,\"d\":[1,{\"x\":1,\"y\":2}]},\"b\":1}"
    )
    expect(ProgramState.hashState({ x: 1, y: 2 })).toBe(ProgramState.hashState({ y: 2, x: 1 }))
    const p = Predict.make("q -> a")
    const dumped = ProgramState.dumpState(p, { metadata: { anything: 1 } })
    const { metadata: _, ...withoutMetadata } = dumped
    expect(ProgramState.hashState(withoutMetadata)).toBe(ProgramState.stateHash(p))
  })
})
