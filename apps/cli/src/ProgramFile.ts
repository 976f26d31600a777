/**
 * The program `dspex optimize` compiles: a module file of the user's (`.ts`, `.js`, `.mjs`) whose default
 * export, or `program` export, is a DSPex Module (an instance, or a Module class built with no arguments),
 * or a Predict / ChainOfThought over a signature given on the command line. The file is loaded with a
 * dynamic import of its URL: Node 22.19+ strips TypeScript types itself, so a `.ts` program needs no build.
 */
import { ChainOfThought, type Module, Predict, Signature } from "@dspex/core"
import type { Errors } from "@dspex/core"
import { Effect, Schema } from "effect"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"

/** The program file cannot be imported, or exports no Module. */
export class ProgramLoadError extends Schema.TaggedError<ProgramLoadError>()("ProgramLoadError", {
  path: Schema.String,
  reason: Schema.String,
  /** The file's exports, when it was imported but none is a Module. */
  exports: Schema.optional(Schema.Array(Schema.String)),
  fix: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `--program ${this.path}: ${this.reason}`
  }
  get suggestion(): string {
    return this.fix
  }
}

/** A loaded program with what its file exports besides (metrics, by export name). */
export interface LoadedProgram {
  readonly program: Module.Module
  /** How the report names it: the file, or `Predict("question -> answer")`. */
  readonly description: string
  /** The file's function exports other than the program, which `--metric` may name. */
  readonly functions: Readonly<Record<string, (...args: Array<any>) => unknown>>
}

/** A Module by shape rather than `instanceof`: a program file may reach core through another copy of it. */
const isModule = (u: unknown): u is Module.Module =>
  typeof u === "object" && u !== null && typeof (u as Module.Module).forward === "function" &&
  typeof (u as Module.Module).namedPredictors === "function" && typeof (u as Module.Module).dumpState === "function"

const isModuleClass = (u: unknown): u is new() => Module.Module =>
  typeof u === "function" && isModule((u as { prototype?: unknown }).prototype)

const exportFix =
  "Export the program as the default export or as `program`: `export default new MyProgram()` (or the class itself, built with no arguments), or `export const program = Predict.make(\"question -> answer\")`."

/**
 * Imports `path` (relative to the current directory) and finds its program.
 *
 * For example (the command's own internals, not a library API):
 * const { program, functions } = yield* loadProgramFile("apps/cli/examples/codes.ts")
 */
export const loadProgramFile = (path: string): Effect.Effect<LoadedProgram, ProgramLoadError> =>
  Effect.gen(function*() {
    const absolute = resolve(path)
    if (!existsSync(absolute)) {
      return yield* new ProgramLoadError({
        path,
        reason: `no such file (looked for ${absolute})`,
        fix: "Give --program the path of a .ts, .js or .mjs file, relative to the current directory."
      })
    }
    const exported = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(absolute).href) as Promise<Record<string, unknown>>,
      catch: (e) =>
        new ProgramLoadError({
          path,
          reason: `cannot be imported: ${e instanceof Error ? e.message : String(e)}`,
          fix: /strip|typescript|ERR_UNKNOWN_FILE_EXTENSION/i.test(String(e))
            ? "Node 22.19+ runs .ts files by stripping their types, so only erasable TypeScript works (no enums, namespaces or parameter properties); or give a .js/.mjs file."
            : "Fix the error in the file (or in what it imports); the file must be an ES module."
        })
    })
    const candidate = [exported.program, exported.default].find((v) => isModule(v) || isModuleClass(v))
    if (candidate === undefined) {
      return yield* new ProgramLoadError({
        path,
        reason: "exports no DSPex Module as its default export or as `program`",
        exports: Object.keys(exported),
        fix: exportFix
      })
    }
    const program = isModuleClass(candidate) ? yield* construct(path, candidate) : candidate as Module.Module
    const functions = Object.fromEntries(
      Object.entries(exported).filter(([name, v]) => typeof v === "function" && !isModuleClass(v) && name !== "default")
    ) as Record<string, (...args: Array<any>) => unknown>
    return { program, description: path, functions }
  })

const construct = (path: string, Program: new() => Module.Module) =>
  Effect.try({
    try: () => new Program(),
    catch: (e) =>
      new ProgramLoadError({
        path,
        reason: `its Module class ${Program.name} could not be built with no arguments: ${
          e instanceof Error ? e.message : String(e)
        }`,
        fix:
          "Export an instance instead (`export default new MyProgram(...)`), or give the class a constructor without arguments."
      })
  })

/**
 * A Predict or ChainOfThought over a signature string (`--signature` with `--module`).
 *
 * For example (the command's own internals, not a library API):
 * fromSignature("question -> answer", "chain-of-thought") // ChainOfThought("question -> answer")
 */
export const fromSignature = (
  source: string,
  module: "predict" | "chain-of-thought"
): Effect.Effect<LoadedProgram, Errors.SignatureParseError> =>
  Effect.map(Signature.parse(source), (signature) => ({
    program: module === "predict" ? Predict.make(signature) : ChainOfThought.make(signature),
    description: `${module === "predict" ? "Predict" : "ChainOfThought"}(${JSON.stringify(source)})`,
    functions: {}
  }))

/**
 * The input field names of a program's predictors, in order, without repeats: the default input keys.
 *
 * For example (the command's own internals, not a library API):
 * programInputs(ChainOfThought.make("context, question -> answer")) // ["context", "question"]
 */
export const programInputs = (program: Module.Module): ReadonlyArray<string> => [
  ...new Set(program.namedPredictors().flatMap(([, p]) => p.signature.inputNames))
]
