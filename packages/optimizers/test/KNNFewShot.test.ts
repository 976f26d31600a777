/**
 * KNNFewShot over HTTP: the real OpenAI chat and embeddings clients against the simulator, whose embeddings
 * put texts sharing words close together and whose optimizable mode answers a secret-code question right
 * only when a demo of the same kind is in the prompt. The demos a call uses must be its nearest trainset
 * examples (read back from the prompts the simulator received), the trainset must be embedded once, and the
 * held-out score must beat the zero-shot program's.
 */
import {
  Cache,
  ChainOfThought,
  Embedder,
  Evaluate,
  Example,
  Executor,
  LanguageModel,
  LM,
  LMError,
  Module,
  Predict,
  ProgramState,
  Providers,
  Trace
} from "@dspex/core"
import { OpenAiEmbeddings } from "@dspex/providers"
import { Embeddings, Optimizable, type Simulator } from "@dspex/simulator"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { Errors, KNNFewShot } from "../src/index.ts"
import { simulator, stack } from "./support.ts"

const { devset: devItems, trainset: trainItems } = Optimizable.codeDataset({ trainSize: 15, devSize: 10, seed: 5 })
const toExamples = (items: ReadonlyArray<Optimizable.Item>) =>
  items.map((i) => Example.make({ question: i.question, answer: i.answer }).withInputs("question"))
const trainset = toExamples(trainItems)
const devset = toExamples(devItems)
const metric = (ex: Example.Example, pred: { get: (k: string) => unknown }) =>
  String(pred.get("answer")).trim() === ex.get("answer")
const lm = LM.make("openai/gpt-4o-mini:optimizable", { temperature: 0 })

/** The services compile asks for, for tests that make no LM call. */
const offline = Layer.mergeAll(
  LanguageModel.layer().pipe(Layer.provide([Providers.layer(), Cache.layerNone])),
  Executor.layerLocal({ concurrency: 1 })
)

/** The k nearest trainset questions by the simulator's own vectors, ranked as DSPy ranks (ties: later first). */
const expectedNeighbours = (question: string, k: number): Array<string> => {
  const query = Embeddings.embed(`question: ${question}`)
  const scores = trainItems.map((t) => Embeddings.dot(Embeddings.embed(`question: ${t.question}`), query))
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || b - a).slice(0, k).map((i) =>
    trainItems[i]!.question
  )
}

const kindOf = (question: string) => /for the (\w+) /.exec(question)?.[1]

/** The demo questions of a chat prompt: the user turns before the last one. */
const demoQuestions = (request: Simulator.SimRequest): Array<string> =>
  request.messages.filter((m) => m.role === "user").slice(0, -1).map((m) =>
    /\[\[ ## question ## \]\]\n(.*)/.exec(m.text)?.[1] ?? ""
  )

const lastQuestion = (request: Simulator.SimRequest) =>
  /\[\[ ## question ## \]\]\n(.*)/.exec(request.messages.at(-1)!.text)?.[1]

/** The OpenAI embedding provider over HTTP to the simulator, recording each batch of texts it sends. */
const embedderLayer = (sim: Simulator.Simulator, batches: Array<ReadonlyArray<string>>) =>
  Embedder.layer({ model: "openai/text-embedding-3-small" }).pipe(
    Layer.provide([
      Embedder.providers(
        Effect.map(
          OpenAiEmbeddings.provider({ apiKey: Redacted.make("sk-knn-tests"), baseURL: sim.openaiBaseUrl }),
          (provider): Embedder.EmbeddingProvider => ({
            ...provider,
            embed: (request) => {
              batches.push(request.texts)
              return provider.embed(request)
            }
          })
        )
      ),
      // No embedding cache: a trainset embedded once is the program's doing, not the cache's.
      Cache.layerNone
    ])
  )

const setup = Effect.gen(function*() {
  const requests: Array<Simulator.SimRequest> = []
  const batches: Array<ReadonlyArray<string>> = []
  const sim = yield* simulator({
    answers: (r) => {
      requests.push(r)
      return undefined
    }
  })
  const layer = Layer.mergeAll(stack(sim), embedderLayer(sim, batches))
  const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
    effect.pipe(Effect.provideService(LM.CurrentLM, lm), Effect.provide(layer)) as Effect.Effect<A, E>
  return { requests, batches, sim, run }
})

/** An embedder of three made-up features, recording the texts it is asked for. */
const toy = (texts: Array<string>) => {
  const features = (t: string) => [
    t.includes("alpha") ? 1 : 0,
    t.includes("beta") ? 1 : 0,
    t.includes("gamma") ? 1 : 0
  ]
  const provider = Embedder.fromFunction("toy", (batch) => {
    texts.push(...batch)
    return batch.map(features)
  })
  return Embedder.layer({ model: "toy" }).pipe(Layer.provide([Embedder.providers(provider), Cache.layerNone]))
}

describe("KNNFewShot over HTTP", () => {
  it.live("a call's demos are its nearest trainset examples; the trainset is embedded once; the held-out score beats zero-shot", () =>
    Effect.gen(function*() {
      const { batches, requests, run, sim } = yield* setup
      const student = Predict.make("question -> answer")
      const compile = KNNFewShot.make({ k: 3 }).compile(student, { trainset, metric })
      // Its calls need an Embedder, and the type says so.
      type Compiled = Effect.Success<typeof compile>["program"]
      const needsEmbedder: Embedder.Embedder extends Module.ContextOf<Compiled> ? true : false = true
      expect(needsEmbedder).toBe(true)
      const { log, program } = yield* run(compile)
      // Compiling pays for nothing: DSPy embeds at construction, DSPex on the first call.
      expect(sim.stats().totalRequests).toBe(0)
      expect(log.usage.lmCalls).toBe(0)

      const question = devItems[0]!.question
      const nearest = expectedNeighbours(question, 3)
      // The simulator's vectors put the three same-kind questions first.
      expect(nearest.map(kindOf)).toEqual([kindOf(question), kindOf(question), kindOf(question)])
      const neighbours = yield* run(KNNFewShot.neighbors(program, { question }))
      expect(neighbours.map((e) => e.get("question"))).toEqual(nearest)
      expect(batches).toEqual([[`question: ${question}`], trainset.map((e) => `question: ${e.get("question")}`)])

      const [first, steps] = yield* run(Trace.capture(program.call({ question })))
      expect(String(first.get("answer"))).toBe(devItems[0]!.answer)
      // The bootstrap's teacher runs are traced apart: the caller's trace has the answering call only.
      expect(steps.map((s) => [s.path, s.inputs])).toEqual([["self", { question }]])
      // Three teacher runs, one per neighbour, then the answer with the neighbours as demos, nearest first.
      expect(requests.map(lastQuestion)).toEqual([...nearest, question])
      expect(demoQuestions(requests.at(-1)!)).toEqual(nearest)
      expect(requests.at(-1)!.messages.filter((m) => m.role === "assistant").length).toBe(3)
      // The trainset was embedded by neighbors() already; the call embedded its inputs only.
      expect(batches.slice(2)).toEqual([[`question: ${question}`]])

      // The same input again: the query is embedded (no cache here), the trainset is not; no bootstrap either.
      const before = { batches: batches.length, requests: requests.length }
      const again = yield* run(program.call({ question }))
      expect(again.get("answer")).toEqual(first.get("answer"))
      expect(batches.slice(before.batches)).toEqual([[`question: ${question}`]])
      expect(requests.slice(before.requests).map(lastQuestion)).toEqual([question])
      expect(demoQuestions(requests.at(-1)!)).toEqual(nearest)

      // Held out: zero-shot scores 0 (no demo shows any code); KNN demos cover each question's kind.
      const baseline = yield* run(Evaluate.run({ program: student, devset, metric }))
      expect(baseline.score).toBe(0)
      const startRequests = requests.length
      const knn = yield* run(Evaluate.run({ program, devset, metric }))
      expect(knn.score).toBe(100)
      expect(knn.score).toBeGreaterThan(baseline.score)
      // Every question answered with its own nearest examples as demos.
      const answered = requests.slice(startRequests).filter((r) => demoQuestions(r).length === 3)
      expect(answered).toHaveLength(devItems.length)
      for (const r of answered) expect(demoQuestions(r)).toEqual(expectedNeighbours(lastQuestion(r)!, 3))
      // One bootstrap (three teacher runs) per neighbour set not seen before, even for concurrent calls.
      const sets = new Set(devItems.map((d) => JSON.stringify(expectedNeighbours(d.question, 3))))
      sets.delete(JSON.stringify(nearest))
      expect(requests.length - startRequests).toBe(devItems.length + 3 * sets.size)
      // The trainset still embedded once in all: one batch of 15 texts, every other batch one query.
      expect(batches.filter((b) => b.length > 1)).toHaveLength(1)
      // The student is untouched.
      expect(student.demos).toEqual([])
    }).pipe(Effect.scoped))

  it.live("maxCachedPrograms: 0 bootstraps on every call, as DSPy does", () =>
    Effect.gen(function*() {
      const { requests, run } = yield* setup
      const { program } = yield* run(
        KNNFewShot.make({ k: 2, maxCachedPrograms: 0 }).compile(Predict.make("question -> answer"), {
          trainset,
          metric
        })
      )
      const question = devItems[1]!.question
      yield* run(program.call({ question }))
      yield* run(program.call({ question }))
      const nearest = expectedNeighbours(question, 2)
      expect(requests.map(lastQuestion)).toEqual([...nearest, question, ...nearest, question])
    }).pipe(Effect.scoped))

  it.live("concurrent first calls embed the trainset once", () =>
    Effect.gen(function*() {
      const { batches, run } = yield* setup
      const { program } = yield* run(
        KNNFewShot.make({ k: 3 }).compile(Predict.make("question -> answer"), { trainset, metric })
      )
      const result = yield* run(Evaluate.run({ program, devset, metric, numThreads: 10 }))
      expect(result.score).toBe(100)
      expect(batches.filter((b) => b.length > 1)).toEqual([trainset.map((e) => `question: ${e.get("question")}`)])
      expect(batches.filter((b) => b.length === 1)).toHaveLength(devset.length)
    }).pipe(Effect.scoped))

  it.live("the program is the student as DSPy's is: same class, paths and saved layout; loaded state is used", () =>
    Effect.gen(function*() {
      const { requests, run } = yield* setup
      class Coder extends Module.Module {
        generate = ChainOfThought.make("question -> answer")
        forward(inputs: { question: string }) {
          return this.generate.call(inputs)
        }
      }
      const student = new Coder()
      const { program } = yield* run(KNNFewShot.make({ k: 3 }).compile(student, { trainset, metric }))
      expect(program).toBeInstanceOf(Coder)
      expect(KNNFewShot.isProgram(program)).toBe(true)
      expect(KNNFewShot.isProgram(student)).toBe(false)
      expect(program.namedPredictors().map(([path]) => path)).toEqual(["generate.predict"])
      expect(ProgramState.dumpState(program)).toEqual(ProgramState.dumpState(student.resetCopy()))

      // A saved instruction loaded into the program reaches the prompts of its calls.
      const trained = student.resetCopy()
      trained.generate.predict.signature = trained.generate.predict.signature.withInstructions("Decode the word.")
      yield* program.loadState(ProgramState.dumpState(trained))
      expect(program.generate.predict.signature.instructions).toBe("Decode the word.")
      const copy = program.deepCopy()
      expect(KNNFewShot.isProgram(copy)).toBe(true)
      const question = devItems[2]!.question
      const [prediction, steps] = yield* run(Trace.capture(copy.call({ question })))
      expect(String(prediction.get("answer"))).toBe(devItems[2]!.answer)
      expect(steps.map((s) => s.path)).toEqual(["generate.predict"])
      expect(requests.length).toBe(4)
      for (const r of requests) expect(r.messages[0]!.text).toContain("Decode the word.")
    }).pipe(Effect.scoped))
})

describe("KNNFewShot's retrieval", () => {
  it.effect("embeds the input fields as DSPy's KNN does and ranks by dot product, ties putting the later example first", () =>
    Effect.gen(function*() {
      const texts: Array<string> = []
      const examples = [
        Example.make({ topic: "alpha", tags: ["x", "y"], flag: true, answer: "1" }).withInputs("topic", "tags", "flag"),
        Example.make({ answer: "2", topic: "beta gamma", tags: [], flag: null }).withInputs("topic", "tags", "flag"),
        Example.make({ topic: "alpha beta", tags: ["it's"], flag: false, answer: "3" }).withInputs("topic", "tags"),
        Example.make({ topic: "beta", tags: [], flag: 1.5, answer: "4" }).withInputs("topic", "tags", "flag")
      ]
      const { program } = yield* KNNFewShot.make({ k: 3 }).compile(Predict.make("topic, tags, flag -> answer"), {
        trainset: examples,
        metric
      })
      const found = yield* KNNFewShot.neighbors(program, { flag: false, topic: "beta", tags: ["q"] }).pipe(
        Effect.provide(toy(texts))
      )
      // The call's inputs (all of them, in the order given), then the trainset's input fields in field order.
      expect(texts).toEqual([
        "flag: False | topic: beta | tags: ['q']",
        "topic: alpha | tags: ['x', 'y'] | flag: True",
        "topic: beta gamma | tags: [] | flag: None",
        "topic: alpha beta | tags: [\"it's\"]",
        "topic: beta | tags: [] | flag: 1.5"
      ])
      // Scores 0, 1, 1, 1: the three ties, later first; k = 3 leaves the first example out.
      expect(found.map((e) => e.get("answer"))).toEqual(["4", "3", "2"])
      // A trainset smaller than k is all used (DSPy takes min(k, n)).
      const { program: wide } = yield* KNNFewShot.make({ k: 10 }).compile(Predict.make("topic, tags, flag -> answer"), {
        trainset: examples.slice(0, 2),
        metric
      })
      const all = yield* KNNFewShot.neighbors(wide, { topic: "gamma" }).pipe(Effect.provide(toy([])))
      expect(all.map((e) => e.get("answer"))).toEqual(["2", "1"])
    }).pipe(Effect.provide(offline)))

  it.effect("an embedding failure is a typed LM error of the call", () =>
    Effect.gen(function*() {
      const failing = Embedder.fromFunction("down", () =>
        Effect.fail(new LMError.LMAuthError({ provider: "down", model: "down", detail: "no key" })))
      const { program } = yield* KNNFewShot.make({ k: 1 }).compile(Predict.make("question -> answer"), {
        trainset,
        metric
      })
      const exit = yield* Effect.exit(
        KNNFewShot.neighbors(program, { question: "x" }).pipe(
          Effect.provide(
            Embedder.layer({ model: "down", numRetries: 0 }).pipe(
              Layer.provide([Embedder.providers(failing), Cache.layerNone])
            )
          )
        )
      )
      expect(Exit.isFailure(exit) && exit.cause.toString()).toContain("LMAuthError")
    }).pipe(Effect.provide(offline)))
})

describe("KNNFewShot's typed errors", () => {
  const compile = (optimizer: KNNFewShot.KNNFewShot, student: Predict.Predict, set = trainset) =>
    Effect.flip(optimizer.compile(student, { trainset: set, metric }))

  it.effect("k below 1 or not whole, a negative cache size, a bad bootstrap setting", () =>
    Effect.gen(function*() {
      for (const k of [0, -1, 1.5]) {
        const e = yield* compile(KNNFewShot.make({ k }), Predict.make("question -> answer"))
        expect(e).toBeInstanceOf(Errors.InvalidOption)
        expect(e).toMatchObject({ optimizer: "KNNFewShot", option: "k", value: String(k) })
      }
      const cache = yield* compile(KNNFewShot.make({ k: 2, maxCachedPrograms: -1 }), Predict.make("question -> answer"))
      expect(cache).toMatchObject({ _tag: "InvalidOption", optimizer: "KNNFewShot", option: "maxCachedPrograms" })
      const rounds = yield* compile(KNNFewShot.make({ k: 2, maxRounds: 0 }), Predict.make("question -> answer"))
      expect(rounds).toMatchObject({ _tag: "InvalidOption", optimizer: "KNNFewShot", option: "maxRounds" })
    }).pipe(Effect.provide(offline)))

  it.effect("an empty trainset, examples without input keys, an already compiled student", () =>
    Effect.gen(function*() {
      const empty = yield* compile(KNNFewShot.make({ k: 2 }), Predict.make("question -> answer"), [])
      expect(empty).toBeInstanceOf(Errors.InvalidDataset)
      expect(empty).toMatchObject({ optimizer: "KNNFewShot", dataset: "trainset", size: 0 })
      const unmarked = yield* compile(KNNFewShot.make({ k: 2 }), Predict.make("question -> answer"), [
        Example.make({ question: "q", answer: "a" })
      ])
      expect(unmarked).toMatchObject({ _tag: "InvalidDataset", optimizer: "KNNFewShot", size: 1 })
      const compiled = Predict.make("question -> answer")
      compiled.compiled = true
      const program = yield* compile(KNNFewShot.make({ k: 2 }), compiled)
      expect(program).toMatchObject({ _tag: "InvalidProgram", optimizer: "KNNFewShot" })
      const notKnn = yield* Effect.flip(
        KNNFewShot.neighbors(Predict.make("question -> answer"), { question: "q" }).pipe(
          Effect.provide(toy([]))
        )
      )
      expect(notKnn).toMatchObject({ _tag: "InvalidProgram", optimizer: "KNNFewShot" })
    }).pipe(Effect.provide(offline)))
})
