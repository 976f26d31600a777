/**
 * Saving and loading programs in DSPy's JSON layout (`module.save("x.json")`), so programs move between
 * DSPy and DSPex in both directions, and a content hash of a program's state that optimizers and the
 * cluster use as a candidate id.
 */
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { StateLoadError } from "./Errors.ts"
import { isPlainObject } from "./internal/moduleTree.ts"
import { dumpModule, loadModule } from "./internal/stateCodec.ts"
import type { Module } from "./Module.ts"

/** How a saved state is applied (`load`, `loadState`, `Module.loadState`). */
export interface LoadOptions {
  /** Keep `api_base`, `base_url` and `model_list` from saved LM state (only for trusted files). */
  readonly allowUnsafeLmState?: boolean
}

/**
 * The versions written to `metadata.dependency_versions`. DSPy compares them with its own environment
 * on load (and only warns); we write the DSPy release whose format we follow. Only these three keys:
 * DSPy's loader looks every saved key up in its own table.
 */
export const dependencyVersions = { python: "3.11", dspy: "3.3.1", cloudpickle: "2.1" } as const

/** Reading or writing a saved program file failed. */
export class ProgramFileError extends Schema.TaggedError<ProgramFileError>()("ProgramFileError", {
  path: Schema.String,
  operation: Schema.Literals(["read", "write"]),
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `Cannot ${this.operation} program file ${this.path}: ${this.reason}`
  }
  get suggestion(): string {
    return this.operation === "read"
      ? "Check that the file exists and is readable."
      : "Check that the directory exists and is writable."
  }
}

/**
 * The saved-program JSON object: DSPy's `dump_state` plus `metadata`. A bare Predict's state sits at the
 * top level (like DSPy's predict.json); any other program has one key per named predictor.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Module, Predict, ProgramState } from "@dspex/core"
 *
 * class MultiHop extends Module.Module {
 *   generate_query = ChainOfThought.make("question -> query")
 *   generate_answer = Predict.make("context, question -> answer")
 *   forward(inputs: { question: string }) {
 *     return this.generate_query.call(inputs)
 *   }
 * }
 * const json = ProgramState.dumpState(new MultiHop())
 * Object.keys(json) // ["generate_query.predict", "generate_answer", "metadata"]
 * ```
 */
export const dumpState = (
  program: Module,
  options: { readonly metadata?: Readonly<Record<string, unknown>> } = {}
): Record<string, unknown> => ({
  ...dumpModule(program),
  metadata: options.metadata ?? { dependency_versions: { ...dependencyVersions } }
})

/**
 * Applies a saved state positionally to an already built program, all or nothing: every named
 * predictor must be present with as many fields as the program's signature; on any problem the program
 * is untouched and the StateLoadError names the key. `metadata` and unknown keys are ignored.
 *
 * @example
 * ```ts
 * import { Predict, ProgramState } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const trained = Predict.make("question -> answer", { instructions: "Answer in one word." })
 * const fresh = Predict.make("question -> answer")
 * await Effect.runPromise(ProgramState.loadState(fresh, ProgramState.dumpState(trained)))
 * fresh.signature.instructions // "Answer in one word."
 * ```
 */
export const loadState = (
  program: Module,
  state: unknown,
  options: LoadOptions = {}
): Effect.Effect<void, StateLoadError> => loadModule(program, state, options)

/**
 * Writes the program as DSPy does (2-space indented JSON with a final newline).
 *
 * @example
 * ```ts
 * import { Predict, ProgramState } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer")
 * await Effect.runPromise(ProgramState.save(program, "program.json")) // fails with ProgramFileError if it cannot write
 * ```
 */
export const save = (program: Module, path: string): Effect.Effect<void, ProgramFileError> =>
  Effect.tryPromise({
    try: () => writeFile(path, `${JSON.stringify(dumpState(program), null, 2)}\n`, "utf8"),
    catch: (e) => new ProgramFileError({ path, operation: "write", reason: e instanceof Error ? e.message : String(e) })
  })

/**
 * Reads a saved program (DSPy's or ours) into `program`.
 *
 * @example
 * ```ts
 * import { Predict, ProgramState } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Predict.make("question -> answer")
 * await Effect.runPromise(ProgramState.load(program, "program.json")) // a file saved by DSPy works too
 * ```
 */
export const load = (
  program: Module,
  path: string,
  options: LoadOptions = {}
): Effect.Effect<void, ProgramFileError | StateLoadError> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) =>
        new ProgramFileError({ path, operation: "read", reason: e instanceof Error ? e.message : String(e) })
    })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) =>
        new StateLoadError({
          key: "(root)",
          reason: `${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`
        })
    })
    yield* loadModule(program, json, options)
  })

/** JSON with object keys sorted at every level, so equal states print identically. */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`
  if (isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/**
 * SHA-256 (hex) of the canonical JSON of the program's state, without metadata: equal instructions,
 * prefixes, descriptions, demos and LMs give equal hashes.
 *
 * @example
 * ```ts
 * import { Predict, ProgramState } from "@dspex/core"
 *
 * const a = Predict.make("question -> answer", { instructions: "Be brief." })
 * const b = Predict.make("question -> answer", { instructions: "Be brief." })
 * ProgramState.stateHash(a) === ProgramState.stateHash(b) // true: same state, same hash
 * ```
 */
export const stateHash = (program: Module): string => hashState(dumpModule(program))

/** SHA-256 (hex) of the canonical JSON of an already dumped state (without metadata). */
export const hashState = (state: unknown): string => createHash("sha256").update(canonicalJson(state)).digest("hex")
