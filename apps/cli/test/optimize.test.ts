/**
 * `dspex optimize` as a user runs it: the real binary against a simulator of the test's own (optimizable
 * mode, so only a working compile raises the score), on the example datasets the README uses. What it
 * prints (progress on stderr, one JSON report on stdout), what it saves (DSPy's layout, read back by core),
 * resuming from a checkpoint without a single new request, budgets, and its usage errors.
 */
import { Evaluate, ProgramState } from "@dspex/core"
import { Optimizable, Simulator } from "@dspex/simulator"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import SecretCodes from "../examples/codes.ts"
import { noKeys, run } from "./support.ts"

const slow = { timeout: 90_000 }
const examples = fileURLToPath(new URL("../examples/", import.meta.url))
const programs = fileURLToPath(new URL("./programs/", import.meta.url))
const codes = join(examples, "codes.ts")
const train = join(examples, "codes.train.jsonl")
const dev = join(examples, "codes.dev.jsonl")
const model = "openai/gpt-4o-mini:optimizable"
const dir = mkdtempSync(join(tmpdir(), "dspex-optimize-"))

let sim: Simulator.Simulator
beforeAll(async () => {
  sim = await Simulator.start({})
})
afterAll(() => sim.close())

const envFor = (server: Simulator.Simulator) => ({
  ...noKeys,
  OPENAI_API_KEY: "sk-test",
  OPENAI_BASE_URL: server.openaiBaseUrl
})

const codesArgs = (optimizer: string, out: string, ...more: ReadonlyArray<string>) => [
  "optimize",
  "--program",
  codes,
  "--optimizer",
  optimizer,
  "--trainset",
  train,
  "--valset",
  dev,
  "--model",
  model,
  "--out",
  out,
  ...more
]

/** The score the simulator's rule gives a saved program on the devset: a code is right when a same-kind demo shows it. */
const expectedScore = (saved: { answer: { demos: ReadonlyArray<Optimizable.Item> } }) => {
  const items = readFileSync(dev, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Optimizable.Item)
  const right = items.filter((i) => Optimizable.answerCode(i.question, saved.answer.demos)?.correct === true)
  return Evaluate.percentage(right.length, items.length)
}

describe.concurrent("compiling the secret-code program", () => {
  it(
    "bootstrap raises the score from the zero-shot 0; the saved program is DSPy's layout, read back by core, and scores what the report says",
    slow,
    async () => {
      const env = envFor(sim)
      // LabeledFewShot with k = 0 is the uncompiled program, scored the same way.
      const baseline = await run(codesArgs("labeled", join(dir, "zero-shot.json"), "--config", "{\"k\": 0}"), { env })
      expect(baseline.code, baseline.stderr).toBe(0)
      expect(baseline.json()).toMatchObject({ optimizer: "LabeledFewShot", score: 0, scoredOn: "valset" })

      const out = join(dir, "bootstrap.json")
      const r = await run(codesArgs("bootstrap", out), { env })
      expect(r.code, r.stderr).toBe(0)
      // stdout is one JSON document and nothing else.
      expect(r.stdout.trimStart().startsWith("{")).toBe(true)
      const report = r.json()
      expect(report).toMatchObject({
        optimizer: "BootstrapFewShot",
        program: codes,
        model,
        metric: "metric",
        trainset: 20,
        valset: 20,
        scoredOn: "valset",
        stopReason: { _tag: "Completed" },
        stopped: "completed",
        resumedSteps: 0,
        out
      })
      expect(report.score).toBeGreaterThanOrEqual(60)
      expect(report.trials).toBeGreaterThan(0)
      expect(report.usage[model].calls).toBeGreaterThan(0)
      // Progress on stderr: the header, Progress.render's stop line, the final score.
      expect(r.stderr).toContain("Compiling")
      expect(r.stderr).toContain("with BootstrapFewShot on 20 trainset and 20 valset examples")
      expect(r.stderr).toMatch(/■ completed · \d+ trials/)
      expect(r.stderr).toContain(`score ${report.score}%`)

      const saved = JSON.parse(readFileSync(out, "utf8"))
      expect(Object.keys(saved).sort()).toEqual(["answer", "metadata"])
      expect(saved.metadata.dependency_versions.dspy).toBe("3.3.1")
      expect(saved.answer.demos.length).toBe(report.predictors.answer.demos)
      expect(saved.answer.demos.some((d: { augmented?: boolean }) => d.augmented === true)).toBe(true)
      expect(expectedScore(saved)).toBe(report.score)

      const loaded = new SecretCodes()
      await Effect.runPromise(ProgramState.load(loaded, out))
      expect(loaded.answer.demos).toHaveLength(saved.answer.demos.length)
      expect(ProgramState.dumpState(loaded).answer).toEqual(saved.answer)
    }
  )

  it(
    "--signature compiles a Predict with exact_match by default; --module chain-of-thought a ChainOfThought",
    slow,
    async () => {
      const out = join(dir, "cot.json")
      const r = await run([
        "optimize",
        "--signature",
        "question -> answer",
        "--module",
        "chain-of-thought",
        "--optimizer",
        "labeled",
        "--config",
        "{\"k\": 3}",
        "--trainset",
        train,
        "--model",
        model,
        "--out",
        out
      ], { env: envFor(sim) })
      expect(r.code, r.stderr).toBe(0)
      expect(r.json()).toMatchObject({
        program: "ChainOfThought(\"question -> answer\")",
        metric: "exact_match",
        valset: null,
        scoredOn: "trainset",
        predictors: { "predict": { demos: 3 } }
      })
      expect(Object.keys(JSON.parse(readFileSync(out, "utf8")))).toContain("predict")
    }
  )

  it("a .mjs file's `program` export, and --metric naming a function it exports", slow, async () => {
    const r = await run([
      "optimize",
      "--program",
      join(programs, "instance.mjs"),
      "--metric",
      "strict",
      "--optimizer",
      "labeled",
      "--trainset",
      train,
      "--valset",
      dev,
      "--model",
      model,
      "--out",
      join(dir, "instance.json")
    ], { env: envFor(sim) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json()).toMatchObject({ metric: "strict", predictors: { self: { demos: 16 } } })
    expect(r.json().score).toBeGreaterThan(0)
  })
})

const operatorArgs = (optimizer: string, out: string, ...more: ReadonlyArray<string>) => [
  "optimize",
  "--signature",
  "question -> answer",
  "--optimizer",
  optimizer,
  "--trainset",
  join(examples, "operator.train.jsonl"),
  "--valset",
  join(examples, "operator.dev.jsonl"),
  "--model",
  model,
  "--out",
  out,
  ...more
]

describe.concurrent("the instruction optimizers find the ⊕ rule (zero-shot: 20%)", () => {
  it("mipro (MIPROv2, auto light) raises the valset score and saves the instruction it found", slow, async () => {
    const env = envFor(sim)
    const baseline = await run(operatorArgs("labeled", join(dir, "op-zero.json"), "--config", "{\"k\": 0}"), { env })
    expect(baseline.json().score).toBe(20)
    const out = join(dir, "mipro.json")
    const r = await run(operatorArgs("mipro", out, "--config", "{\"auto\": \"light\"}"), { env })
    expect(r.code, r.stderr).toBe(0)
    const report = r.json()
    expect(report).toMatchObject({ optimizer: "MIPROv2", scoredOn: "valset", stopReason: { _tag: "Completed" } })
    expect(report.score).toBeGreaterThanOrEqual(60)
    // Its own full evaluation on the valset is the score: the CLI scores nothing again.
    expect(report.best.score).toBe(report.score)
    expect(r.stderr).not.toContain("scoring the compiled program")
    expect(r.stderr).toContain("★ new best")
    const saved = JSON.parse(readFileSync(out, "utf8"))
    expect(saved.signature.instructions).toBe(report.predictors.self.instructions)
    expect(Optimizable.operatorScore(saved.signature.instructions)).toBeGreaterThan(0.2)
  })

  it(
    "copro scores its candidates on the trainset, so the CLI scores the result on the given valset; a prompt model by id",
    slow,
    async () => {
      const r = await run(
        operatorArgs(
          "copro",
          join(dir, "copro.json"),
          "--config",
          JSON.stringify({ breadth: 4, depth: 2, prompt_model: model })
        ),
        { env: envFor(sim) }
      )
      expect(r.code, r.stderr).toBe(0)
      const report = r.json()
      expect(report).toMatchObject({ optimizer: "COPRO", scoredOn: "valset", stopReason: { _tag: "Completed" } })
      expect(r.stderr).toContain("▶ scoring the compiled program on 20 examples")
      expect(report.score).toBeGreaterThan(20)
      expect(report.best).not.toBeNull()
      expect(Optimizable.operatorScore(report.predictors.self.instructions)).toBeGreaterThan(0.2)
    }
  )
})

describe.concurrent("knn", () => {
  it(
    "embeds with --embedder (the simulator's embeddings here), scores the per-call program, and says the file lacks the trainset",
    slow,
    async () => {
      const r = await run(codesArgs("knn", join(dir, "knn.json"), "--config", "{\"k\": 5}"), { env: envFor(sim) })
      expect(r.code, r.stderr).toBe(0)
      const report = r.json()
      expect(report).toMatchObject({ optimizer: "KNNFewShot", scoredOn: "valset", best: null })
      expect(report.score).toBeGreaterThanOrEqual(60)
      expect(report.embeddingUsage["openai/text-embedding-3-small"].calls).toBeGreaterThan(0)
      expect(r.stderr).toContain("note: KNNFewShot picks each call's demos from the trainset")
    }
  )

  it("k has no default (as in DSPy): a UsageError saying so", slow, async () => {
    const r = await run(codesArgs("knn", join(dir, "knn-no-k.json")), { env: noKeys })
    expect(r.code).toBe(1)
    expect(r.json().error).toMatchObject({ _tag: "UsageError" })
    expect(r.json().error.message).toContain("KNNFewShot needs k")
    expect(r.json().error.suggestion).toContain("--config '{\"k\": 3}'")
  })
})

describe("resuming from a checkpoint", () => {
  it(
    "the same command run twice with --checkpoint: the second replays every step and sends no request",
    slow,
    async () => {
      const own = await Simulator.start({})
      try {
        const checkpoint = join(dir, "resume.sqlite")
        const args = codesArgs("random-search", join(dir, "resume.json"), "--checkpoint", checkpoint, "--config")
        const config = "{\"numCandidatePrograms\": 2, \"maxBootstrappedDemos\": 2, \"maxLabeledDemos\": 2}"
        const first = await run([...args, config], { env: envFor(own) })
        expect(first.code, first.stderr).toBe(0)
        const requests = own.stats().totalRequests
        expect(requests).toBeGreaterThan(0)
        expect(first.json().resumedSteps).toBe(0)
        const saved = readFileSync(join(dir, "resume.json"), "utf8")

        const second = await run([...args, config], { env: envFor(own) })
        expect(second.code, second.stderr).toBe(0)
        expect(own.stats().totalRequests).toBe(requests)
        const report = second.json()
        expect(report.resumedSteps).toBeGreaterThan(0)
        expect(report.usage[model]?.calls ?? 0).toBe(0)
        expect(report.score).toBe(first.json().score)
        expect(second.stderr).toContain("steps from checkpoint")
        expect(readFileSync(join(dir, "resume.json"), "utf8")).toBe(saved)
      } finally {
        await own.close()
      }
    }
  )

  it(
    "the final scoring of a compiled program is a checkpointed step too (bootstrap twice: no new request)",
    slow,
    async () => {
      const own = await Simulator.start({})
      try {
        const args = codesArgs("bootstrap", join(dir, "resume-bootstrap.json"), "--checkpoint", join(dir, "b.sqlite"))
        const first = await run(args, { env: envFor(own) })
        expect(first.code, first.stderr).toBe(0)
        const requests = own.stats().totalRequests
        const second = await run(args, { env: envFor(own) })
        expect(own.stats().totalRequests).toBe(requests)
        // Every bootstrap attempt and every scored devset example.
        expect(second.json().resumedSteps).toBe(first.json().trials + 20)
        expect(second.json().score).toBe(first.json().score)
        expect(second.stderr).toContain("20 from checkpoint")
      } finally {
        await own.close()
      }
    }
  )
})

describe.concurrent("budgets", () => {
  it(
    "--max-lm-calls stops the run cleanly, with the reason, and still saves the best program so far",
    slow,
    async () => {
      const out = join(dir, "budget.json")
      const r = await run(codesArgs("bootstrap", out, "--max-lm-calls", "2"), { env: envFor(sim) })
      expect(r.code, r.stderr).toBe(0)
      const report = r.json()
      expect(report.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "lmCalls", max: 2 })
      expect(report.stopped).toContain("budget exhausted")
      expect(report.score).toBeNull()
      expect(report.usage[model].calls).toBeLessThanOrEqual(3)
      expect(r.stderr).toContain("■ budget exhausted")
      expect(existsSync(out)).toBe(true)
    }
  )

  it("--max-metric-calls also bounds the final scoring", slow, async () => {
    const r = await run(codesArgs("labeled", join(dir, "metric-budget.json"), "--max-metric-calls", "5"), {
      env: envFor(sim)
    })
    expect(r.code, r.stderr).toBe(0)
    const report = r.json()
    expect(report.stopReason).toMatchObject({ _tag: "BudgetExhausted", limit: "metricCalls", max: 5 })
    expect(report.metricCalls).toBe(5)
    expect(report.score).toBeNull()
  })
})

const failsWith = async (args: ReadonlyArray<string>, tag: string) => {
  const r = await run(args, { env: noKeys })
  expect(r.code, r.stderr).toBe(1)
  const error = r.json().error
  expect(error._tag).toBe(tag)
  expect(error.suggestion).toMatch(/\w{3,}/)
  expect(r.stderr).toContain(`suggestion: ${error.suggestion}`)
  // A mistake costs nothing: it is found before any provider is set up.
  expect(r.stderr).not.toContain("Compiling")
  return error
}

const base = ["optimize", "--trainset", train, "--out", join(dir, "never.json")]

describe.concurrent("usage errors are JSON with a suggestion, before anything is paid for", () => {
  it("an unknown optimizer lists the known ones", slow, async () => {
    const error = await failsWith([...base, "--signature", "question -> answer", "--optimizer", "gepa"], "UsageError")
    expect(error.message).toContain("--optimizer")
    for (const name of ["labeled", "bootstrap", "random-search", "knn", "copro", "mipro"]) {
      expect(error.message).toContain(name)
    }
  })

  it("an unknown metric lists the built-in ones and the program file's functions", slow, async () => {
    const error = await failsWith(
      [...base, "--program", codes, "--optimizer", "bootstrap", "--metric", "bleu"],
      "UsageError"
    )
    expect(error.message).toContain("unknown metric \"bleu\"")
    for (const name of ["exact_match", "f1", "passage_match", "metric"]) expect(error.suggestion).toContain(name)
  })

  it("a bad JSONL line is a DatasetError naming the file and the line", slow, async () => {
    const file = join(dir, "bad.jsonl")
    writeFileSync(file, "{\"question\": \"q1\", \"answer\": \"a\"}\n\n{\"question\": \"q2\", \"answer\": \n")
    const error = await failsWith(
      ["optimize", "--signature", "question -> answer", "--optimizer", "bootstrap", "--trainset", file, "--out", "x"],
      "DatasetError"
    )
    expect(error).toMatchObject({ flag: "trainset", path: file, line: 3 })
    expect(error.message).toContain(`${file}, line 3: invalid JSON`)
  })

  it("a row without an input key is a DatasetError naming its line", slow, async () => {
    const file = join(dir, "missing-input.jsonl")
    writeFileSync(file, "{\"question\": \"q1\", \"answer\": \"a\"}\n{\"answer\": \"b\"}\n")
    const error = await failsWith(
      ["optimize", "--signature", "question -> answer", "--optimizer", "labeled", "--valset", file, "--trainset", train]
        .concat(["--out", "x"]),
      "DatasetError"
    )
    expect(error).toMatchObject({ flag: "valset", line: 2 })
    expect(error.suggestion).toContain("--inputs")
  })

  it("--config that is not JSON, or names a hyperparameter the optimizer lacks", slow, async () => {
    const args = [...base, "--signature", "question -> answer", "--optimizer", "bootstrap", "--config"]
    const invalid = await failsWith([...args, "{maxBootstrappedDemos: 2}"], "UsageError")
    expect(invalid.message).toContain("--config: invalid JSON")
    const unknown = await failsWith([...args, "{\"max_demos\": 2}"], "UsageError")
    expect(unknown.message).toContain("BootstrapFewShot has no hyperparameter \"max_demos\"")
    expect(unknown.suggestion).toContain("maxBootstrappedDemos")
  })

  it("neither --program nor --signature, or both", slow, async () => {
    const neither = await failsWith([...base, "--optimizer", "bootstrap"], "UsageError")
    expect(neither.message).toContain("--program or --signature is required")
    const both = await failsWith(
      [...base, "--optimizer", "bootstrap", "--program", codes, "--signature", "question -> answer"],
      "UsageError"
    )
    expect(both.message).toContain("alternatives")
  })

  it("a program file that exports no Module says what it exports and how to export one", slow, async () => {
    const error = await failsWith(
      [...base, "--program", join(programs, "no-module.ts"), "--optimizer", "bootstrap"],
      "ProgramLoadError"
    )
    expect(error.exports).toEqual(["answer", "metric"])
    expect(error.suggestion).toContain("export default")
  })

  it("a program file that fails on import, or is not there", slow, async () => {
    const throws = await failsWith(
      [...base, "--program", join(programs, "throws.mjs"), "--optimizer", "bootstrap"],
      "ProgramLoadError"
    )
    expect(throws.message).toContain("the program file failed on import")
    const missing = await failsWith(
      [...base, "--program", join(programs, "nowhere.ts"), "--optimizer", "bootstrap"],
      "ProgramLoadError"
    )
    expect(missing.message).toContain("no such file")
  })
})

describe("the example datasets", () => {
  it("are the simulator's generators' output, so the README's claims about them hold", () => {
    const read = (name: string) =>
      readFileSync(join(examples, name), "utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown)
    const codeSets = Optimizable.codeDataset({ trainSize: 20, devSize: 20, seed: 3 })
    expect(read("codes.train.jsonl")).toEqual(codeSets.trainset)
    expect(read("codes.dev.jsonl")).toEqual(codeSets.devset)
    const operatorSets = Optimizable.operatorDataset({ trainSize: 20, devSize: 20, seed: 1 })
    expect(read("operator.train.jsonl")).toEqual(operatorSets.trainset)
    expect(read("operator.dev.jsonl")).toEqual(operatorSets.devset)
  })
})

describe("start-up", () => {
  it("the command tree loads neither the optimizers nor the providers: only `optimize` itself does", () => {
    // A resolve hook lists every module the import of Cli.ts pulls in.
    const script = `
      import { registerHooks } from "node:module"
      const seen = []
      registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); seen.push(r.url); return r } })
      await import(process.argv[1])
      console.log(JSON.stringify(seen))`
    const loaded = (file: string): ReadonlyArray<string> => {
      const url = pathToFileURL(fileURLToPath(new URL(`../src/${file}`, import.meta.url))).href
      const r = spawnSync(process.execPath, ["--conditions=@dspex/source", "--input-type=module", "-e", script, url], {
        encoding: "utf8"
      })
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as ReadonlyArray<string>
    }
    const heavy = (urls: ReadonlyArray<string>) => urls.filter((u) => /packages\/(optimizers|providers)\//.test(u))
    expect(heavy(loaded("Cli.ts"))).toEqual([])
    // The hook sees what a static import would load: Optimize.ts does load them.
    expect(heavy(loaded("Optimize.ts")).length).toBeGreaterThan(0)
  })
})
