/**
 * Signatures: the typed input/output contract of a predictor, with its instructions. Parsed from DSPy's
 * string syntax or built from Effect Schema fields; immutable, every edit returns a new Signature.
 */
import { Effect, Schema } from "effect"
import { SignatureEditError, SignatureParseError } from "./Errors.ts"
import * as T from "./FieldType.ts"
import { parseSignatureString } from "./internal/signatureParser.ts"

export type FieldIO = "input" | "output"

export interface Field {
  readonly name: string
  readonly io: FieldIO
  readonly type: T.FieldType
  /** DSPy's `desc`; `${name}` when none was given (and then not rendered). */
  readonly desc: string
  /** DSPy's legacy prefix (`Question:`); kept because saved programs carry it. */
  readonly prefix: string
  /** A "Constraints:" note rendered after the description. */
  readonly constraints?: string | undefined
  /** The decoder for parsed values; derived from `type` unless the field was built from a Schema. */
  readonly schema: Schema.Top
}

/** What a caller supplies for a field: a FieldType, an Effect Schema, or either with extras. */
export type FieldInit =
  | T.FieldType
  | Schema.Top
  | {
    readonly type?: T.FieldType | Schema.Top
    readonly desc?: string
    readonly prefix?: string
    readonly constraints?: string
  }

const isSchema = (u: unknown): u is Schema.Top => Schema.isSchema(u)
const isFieldType = (u: unknown): u is T.FieldType =>
  typeof u === "object" && u !== null && "_tag" in u && typeof (u as { _tag: unknown })._tag === "string" &&
  !isSchema(u)

/** DSPy's `infer_prefix`: `next_tool_args` → `Next Tool Args:`. */
export const inferPrefix = (name: string): string => {
  const s1 = name.replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
  const snake = s1.replace(/([a-z0-9])([A-Z])/g, "$1_$2")
  const words = snake.split("_").filter((w) => w.length > 0)
  const titled = words.map((
    w
  ) => (w === w.toUpperCase() && /[A-Z]/.test(w) ? w : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()))
  return `${titled.join(" ")}:`
}

/** Builds a Field from a name and what the caller gave for it. */
export const makeField = (name: string, io: FieldIO, init: FieldInit = T.str): Field => {
  let type: T.FieldType = T.str
  let schema: Schema.Top | undefined
  let desc: string | undefined
  let prefix: string | undefined
  let constraints: string | undefined
  const fromSchema = (s: Schema.Top) => {
    type = T.fromSchema(s, name)
    schema = s
    desc = (s.ast.annotations as { description?: string } | undefined)?.description
    constraints = T.constraintsOf(s.ast)
  }
  if (isSchema(init)) fromSchema(init)
  else if (isFieldType(init)) type = init
  else {
    if (init.type !== undefined) {
      if (isSchema(init.type)) fromSchema(init.type)
      else type = init.type
    }
    desc = init.desc ?? desc
    prefix = init.prefix
    constraints = init.constraints ?? constraints
  }
  return {
    name,
    io,
    type,
    desc: desc ?? `\${${name}}`,
    prefix: prefix ?? inferPrefix(name),
    ...(constraints === undefined ? {} : { constraints }),
    schema: schema ?? T.toSchema(type)
  }
}

/** DSPy's default instructions for a field list. */
export const defaultInstructions = (inputs: ReadonlyArray<string>, outputs: ReadonlyArray<string>): string =>
  `Given the fields ${inputs.map((n) => `\`${n}\``).join(", ")}, produce the fields ${
    outputs.map((n) => `\`${n}\``).join(", ")
  }.`

/**
 * An immutable signature; build one with `make`, `parse` or `fromFields`.
 *
 * @example
 * ```ts
 * import { Signature } from "@dspex/core"
 *
 * const qa = Signature.make("context: list[str], question -> answer")
 * const cot = qa.prepend("reasoning", "output", { desc: "${reasoning}" }) // a new signature; qa is unchanged
 * cot.outputs.map((f) => f.name) // ["reasoning", "answer"]
 * ```
 */
export class Signature {
  readonly inputs: ReadonlyArray<Field>
  readonly outputs: ReadonlyArray<Field>
  readonly instructions: string
  /** An optional name (DSPy's class name), used only in messages. */
  readonly name: string | undefined

  constructor(
    args: {
      inputs: ReadonlyArray<Field>
      outputs: ReadonlyArray<Field>
      instructions?: string | undefined
      name?: string | undefined
    }
  ) {
    this.inputs = args.inputs
    this.outputs = args.outputs
    this.instructions = args.instructions ??
      defaultInstructions(args.inputs.map((f) => f.name), args.outputs.map((f) => f.name))
    this.name = args.name
  }

  /** All fields, inputs first, in order (the order of saved `signature.fields`). */
  get fields(): ReadonlyArray<Field> {
    return [...this.inputs, ...this.outputs]
  }

  get inputNames(): ReadonlyArray<string> {
    return this.inputs.map((f) => f.name)
  }

  get outputNames(): ReadonlyArray<string> {
    return this.outputs.map((f) => f.name)
  }

  field(name: string): Field | undefined {
    return this.inputs.find((f) => f.name === name) ?? this.outputs.find((f) => f.name === name)
  }

  withInstructions(instructions: string): Signature {
    return new Signature({ inputs: this.inputs, outputs: this.outputs, instructions, name: this.name })
  }

  appendInstructions(extra: string): Signature {
    return this.withInstructions(`${this.instructions}\n${extra}`)
  }

  /** Inserts a field at `index` among the inputs or outputs (negative counts from the end; -1 appends). */
  insert(index: number, name: string, io: FieldIO, init: FieldInit = T.str): Signature {
    const field = makeField(name, io, init)
    const list = io === "input" ? [...this.inputs] : [...this.outputs]
    const at = index < 0 ? list.length + 1 + index : index
    if (at < 0 || at > list.length) {
      throw new SignatureEditError({
        operation: "insert",
        field: name,
        reason: `index ${index} is out of range for ${list.length} ${io} fields`
      })
    }
    list.splice(at, 0, field)
    const inputs = io === "input" ? list : this.inputs
    const outputs = io === "output" ? list : this.outputs
    checkNames(inputs, outputs, "insert")
    return new Signature({ inputs, outputs, instructions: this.instructions, name: this.name })
  }

  prepend(name: string, io: FieldIO, init?: FieldInit): Signature {
    return this.insert(0, name, io, init)
  }

  append(name: string, io: FieldIO, init?: FieldInit): Signature {
    return this.insert(-1, name, io, init)
  }

  delete(name: string): Signature {
    if (this.field(name) === undefined) {
      throw new SignatureEditError({
        operation: "delete",
        field: name,
        reason: `no such field (fields: ${this.fields.map((f) => f.name).join(", ")})`
      })
    }
    return new Signature({
      inputs: this.inputs.filter((f) => f.name !== name),
      outputs: this.outputs.filter((f) => f.name !== name),
      instructions: this.instructions,
      name: this.name
    })
  }

  /** Changes a field's type, description, prefix or constraints, keeping its place. */
  withUpdatedField(
    name: string,
    patch: { type?: T.FieldType | Schema.Top; desc?: string; prefix?: string; constraints?: string }
  ): Signature {
    const old = this.field(name)
    if (old === undefined) {
      throw new SignatureEditError({
        operation: "update",
        field: name,
        reason: `no such field (fields: ${this.fields.map((f) => f.name).join(", ")})`
      })
    }
    const base = patch.type === undefined
      ? makeField(name, old.io, { type: old.type })
      : makeField(name, old.io, { type: patch.type })
    const updated: Field = {
      ...base,
      schema: patch.type === undefined ? old.schema : base.schema,
      desc: patch.desc ??
        (patch.type !== undefined && isSchema(patch.type) && base.desc !== `\${${name}}` ? base.desc : old.desc),
      prefix: patch.prefix ?? old.prefix,
      ...(patch.constraints ?? old.constraints) === undefined
        ? {}
        : { constraints: patch.constraints ?? old.constraints }
    }
    const swap = (fs: ReadonlyArray<Field>) => fs.map((f) => (f.name === name ? updated : f))
    return new Signature({
      inputs: swap(this.inputs),
      outputs: swap(this.outputs),
      instructions: this.instructions,
      name: this.name
    })
  }

  /** Same instructions and the same fields (name, io, type, desc, prefix) in the same order. */
  equals(other: Signature): boolean {
    if (this.instructions !== other.instructions) return false
    const a = this.fields
    const b = other.fields
    return a.length === b.length && a.every((f, i) => {
      const g = b[i]!
      return f.name === g.name && f.io === g.io && f.desc === g.desc && f.prefix === g.prefix &&
        T.typeName(f.type) === T.typeName(g.type) && f.constraints === g.constraints
    })
  }

  /** The typed string form, e.g. `context: list[str], question -> answer`. */
  toString(): string {
    const side = (fs: ReadonlyArray<Field>) =>
      fs.map((f) => (f.type._tag === "str" ? f.name : `${f.name}: ${stringTypeName(f.type)}`)).join(", ")
    return `${side(this.inputs)} -> ${side(this.outputs)}`
  }
}

const stringTypeName = (
  t: T.FieldType
): string => (t._tag === "optional" ? `Optional[${stringTypeName(t.inner)}]` : T.sourceName(t))

const checkNames = (inputs: ReadonlyArray<Field>, outputs: ReadonlyArray<Field>, operation: string) => {
  const seen = new Set<string>()
  for (const f of [...inputs, ...outputs]) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) {
      throw new SignatureEditError({
        operation,
        field: f.name,
        reason: "field names must be identifiers ([A-Za-z_][A-Za-z0-9_]*)"
      })
    }
    if (seen.has(f.name)) {
      throw new SignatureEditError({ operation, field: f.name, reason: "a field with this name already exists" })
    }
    seen.add(f.name)
  }
}

/**
 * Parses DSPy's string syntax; a syntax error is a typed SignatureParseError naming text and position.
 *
 * @example
 * ```ts
 * import { Signature } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const sig = yield* Signature.parse("question -> answer: float")
 *   return sig.outputs.map((f) => f.name) // ["answer"]
 * })
 * const bad = Signature.parse("question answer") // fails with SignatureParseError (text and position)
 * ```
 */
export const parse = (source: string, instructions?: string): Effect.Effect<Signature, SignatureParseError> =>
  Effect.try({
    try: () => make(source, instructions),
    catch: (e) =>
      e instanceof SignatureParseError
        ? e
        : new SignatureParseError({ source, position: 0, found: source.slice(0, 12), reason: String(e) })
  })

/**
 * Like `parse` for signatures written in code; throws the SignatureParseError.
 *
 * @example
 * ```ts
 * import { Signature } from "@dspex/core"
 *
 * const qa = Signature.make("context: list[str], question -> answer", "Answer briefly.")
 * qa.instructions // "Answer briefly."
 * ```
 */
export const make = (source: string, instructions?: string): Signature => {
  const parsed = parseSignatureString(source)
  return new Signature({
    inputs: parsed.inputs.map((f) => makeField(f.name, "input", f.type)),
    outputs: parsed.outputs.map((f) => makeField(f.name, "output", f.type)),
    instructions
  })
}

/**
 * Builds a signature from Effect Schema fields (descriptions and checks become prompt notes).
 *
 * @example
 * ```ts
 * import { Signature } from "@dspex/core"
 * import { Schema } from "effect"
 *
 * const sig = Signature.fromFields({
 *   instructions: "Answer with a number.",
 *   inputs: { question: Schema.String },
 *   outputs: { answer: { type: Schema.Number, desc: "the numeric answer" } }
 * })
 * ```
 */
export const fromFields = (spec: {
  readonly inputs: Readonly<Record<string, FieldInit>>
  readonly outputs: Readonly<Record<string, FieldInit>>
  readonly instructions?: string
  readonly name?: string
}): Signature => {
  const inputs = Object.entries(spec.inputs).map(([n, f]) => makeField(n, "input", f))
  const outputs = Object.entries(spec.outputs).map(([n, f]) => makeField(n, "output", f))
  checkNames(inputs, outputs, "create")
  return new Signature({ inputs, outputs, instructions: spec.instructions, name: spec.name })
}

/** Accepts a Signature or DSPy's string syntax (parsed eagerly; a bad string throws SignatureParseError). */
export const ensure = (sig: Signature | string, instructions?: string): Signature =>
  typeof sig === "string"
    ? make(sig, instructions)
    : instructions === undefined
    ? sig
    : sig.withInstructions(instructions)
