/**
 * The type of a signature field, as a small AST that can be rendered three ways: the Python type name
 * DSPy shows in prompts (`list[str]`, `Union[int, NoneType]`, `tuple[int, str]`), the pydantic-style JSON
 * schema DSPy puts in type notes and structured-output requests, and an Effect Schema that decodes parsed
 * outputs.
 *
 * Keeping our own AST (instead of rendering from Effect's SchemaAST directly) is what lets the prompts
 * match DSPy byte for byte: Effect's JSON schema output differs from pydantic's (integer bounds, NaN
 * handling, key order).
 */
import { Schema, SchemaAST } from "effect"
import { annotationName, pydanticSchema } from "./internal/adapterFormat.ts"

export type LiteralValue = string | number | boolean

export interface ObjectProperty {
  readonly name: string
  readonly type: FieldType
  readonly optional: boolean
  readonly description?: string | undefined
}

export type FieldType =
  | { readonly _tag: "str" }
  | { readonly _tag: "int" }
  | { readonly _tag: "float" }
  | { readonly _tag: "bool" }
  | { readonly _tag: "any" }
  | { readonly _tag: "none" }
  | { readonly _tag: "list"; readonly item: FieldType }
  | TupleType
  | { readonly _tag: "dict"; readonly key: FieldType; readonly value: FieldType }
  | { readonly _tag: "literal"; readonly values: ReadonlyArray<LiteralValue> }
  | { readonly _tag: "optional"; readonly inner: FieldType }
  | { readonly _tag: "union"; readonly members: ReadonlyArray<FieldType> }
  | { readonly _tag: "object"; readonly name: string; readonly properties: ReadonlyArray<ObjectProperty> }

/**
 * Python's `tuple[...]`: `items` are the positions of a fixed-length tuple (`tuple[int, str]`; none for
 * `tuple[()]`); `rest` makes it variadic (`tuple[int, ...]` has no items and rest int). `bare` marks the
 * unsubscripted `tuple` (any items), which DSPy names `tuple` rather than `tuple[Any, Ellipsis]`.
 * Parsed values are arrays (pydantic returns a Python tuple).
 */
export interface TupleType {
  readonly _tag: "tuple"
  readonly items: ReadonlyArray<FieldType>
  readonly rest?: FieldType | undefined
  readonly bare?: boolean | undefined
}

export const str: FieldType = { _tag: "str" }
export const int: FieldType = { _tag: "int" }
export const float: FieldType = { _tag: "float" }
export const bool: FieldType = { _tag: "bool" }
export const any: FieldType = { _tag: "any" }
export const list = (item: FieldType): FieldType => ({ _tag: "list", item })
export const dict = (value: FieldType, key: FieldType = str): FieldType => ({ _tag: "dict", key, value })
export const literal = (...values: ReadonlyArray<LiteralValue>): FieldType => ({ _tag: "literal", values })
export const optional = (inner: FieldType): FieldType => ({ _tag: "optional", inner })

/**
 * A fixed-length tuple, Python's `tuple[int, str]` (`tuple()` is `tuple[()]`).
 *
 * @example
 * ```ts
 * import { FieldType } from "@dspex/core"
 *
 * FieldType.typeName(FieldType.tuple(FieldType.int, FieldType.str)) // "tuple[int, str]"
 * ```
 */
export const tuple = (...items: ReadonlyArray<FieldType>): FieldType => ({ _tag: "tuple", items })

/**
 * A variadic tuple, Python's `tuple[int, ...]` (DSPy names it `tuple[int, Ellipsis]`).
 *
 * @example
 * ```ts
 * import { FieldType } from "@dspex/core"
 *
 * FieldType.jsonSchema(FieldType.tupleOf(FieldType.int)) // { items: { type: "integer" }, type: "array" }
 * ```
 */
export const tupleOf = (item: FieldType): FieldType => ({ _tag: "tuple", items: [], rest: item })

/**
 * The annotation name DSPy prints in `1. \`answer\` (float):` and in the output reminder.
 *
 * @example
 * ```ts
 * import { FieldType } from "@dspex/core"
 *
 * FieldType.typeName(FieldType.list(FieldType.str)) // "list[str]"
 * FieldType.typeName(FieldType.optional(FieldType.int)) // "Union[int, NoneType]"
 * ```
 */
export const typeName = (t: FieldType): string => annotationName(t)

/**
 * The type as a signature string writes it, which `Signature.make` (and DSPy) parse back: `typeName`
 * except for tuples (`tuple[int, ...]` and `tuple[()]`, where DSPy's names read `Ellipsis` and `tuple[]`).
 *
 * @example
 * ```ts
 * import { FieldType } from "@dspex/core"
 *
 * FieldType.sourceName(FieldType.tupleOf(FieldType.int)) // "tuple[int, ...]" (typeName gives "tuple[int, Ellipsis]")
 * ```
 */
export const sourceName = (t: FieldType): string => annotationName(t, true)

/** True when the field is rendered verbatim (no type note, no JSON parsing). */
export const isString = (t: FieldType): boolean => t._tag === "str"

/** Fields that may be left out of a reply (DSPy fills them with None). */
export const isNullable = (t: FieldType): boolean =>
  t._tag === "optional" || t._tag === "none" || t._tag === "any" ||
  (t._tag === "union" && t.members.some(isNullable))

/**
 * The JSON schema pydantic gives this type (nested models under `$defs`), as DSPy shows it in type notes
 * and sends it for structured outputs.
 */
export const jsonSchema = (t: FieldType): Record<string, unknown> => pydanticSchema(t)

/** An Effect Schema that decodes an already JSON-parsed value of this type. */
export const toSchema = (t: FieldType): Schema.Top => {
  switch (t._tag) {
    case "str":
      return Schema.String
    case "int":
      return Schema.Int
    case "float":
      return Schema.Number
    case "bool":
      return Schema.Boolean
    case "any":
      return Schema.Unknown
    case "none":
      return Schema.Null
    case "list":
      return Schema.Array(toSchema(t.item))
    case "tuple":
      // Effect has no separate variadic tuple: `tuple[int, ...]` decodes as an array of ints.
      return t.rest === undefined ? Schema.Tuple(t.items.map(toSchema)) : Schema.Array(toSchema(t.rest))
    case "dict":
      return Schema.Record(Schema.String, toSchema(t.value))
    case "literal":
      return Schema.Literals(t.values as ReadonlyArray<string>)
    case "optional":
      return Schema.NullOr(toSchema(t.inner))
    case "union":
      return Schema.Union(t.members.map(toSchema))
    case "object": {
      const fields: Record<string, Schema.Top> = {}
      for (const p of t.properties) {
        fields[p.name] = p.optional ? Schema.optionalKey(toSchema(p.type)) : toSchema(p.type)
      }
      return Schema.Struct(fields)
    }
  }
}

/** The error raised when an Effect Schema cannot be expressed as a prompt-level field type. */
export class UnsupportedSchemaError extends Schema.TaggedError<UnsupportedSchemaError>()("UnsupportedSchemaError", {
  path: Schema.String,
  astTag: Schema.String,
  message: Schema.String
}) {}

const isIntCheck = (ast: SchemaAST.AST): boolean =>
  (ast.checks ?? []).some((c) => (c.annotations as { expected?: string } | undefined)?.expected === "an integer")

/** Human-readable constraints of an Effect Schema's checks, for DSPy's "Constraints:" note. */
export const constraintsOf = (ast: SchemaAST.AST): string | undefined => {
  const texts = (ast.checks ?? [])
    .map((c) => (c.annotations as { expected?: string } | undefined)?.expected)
    .filter((e): e is string => e !== undefined && e !== "an integer")
  return texts.length === 0 ? undefined : texts.join(", ")
}

/**
 * Reads the prompt-level type from an Effect Schema, so Schema-built signatures render like string ones.
 *
 * @example
 * ```ts
 * import { FieldType } from "@dspex/core"
 * import { Schema } from "effect"
 *
 * FieldType.fromSchema(Schema.Array(Schema.String)) // FieldType.list(FieldType.str)
 * FieldType.fromSchema(Schema.Tuple([Schema.Int, Schema.String])) // FieldType.tuple(FieldType.int, FieldType.str)
 * ```
 */
export const fromSchema = (schema: Schema.Top, path = "field"): FieldType => fromAst(schema.ast, path)

const fromAst = (ast: SchemaAST.AST, path: string): FieldType => {
  switch (ast._tag) {
    case "String":
      return str
    case "Number":
      return isIntCheck(ast) ? int : float
    case "Boolean":
      return bool
    case "Unknown":
    case "Any":
      return any
    case "Null":
    case "Undefined":
    case "Void":
      return { _tag: "none" }
    case "Literal":
      return literal(ast.literal as LiteralValue)
    case "Enum":
      return literal(...ast.enums.map(([, v]) => v as LiteralValue))
    case "Union": {
      const members = ast.types
      const nonNull = members.filter((m) => m._tag !== "Null" && m._tag !== "Undefined")
      if (nonNull.length > 0 && nonNull.every((m) => m._tag === "Literal")) {
        const lit = literal(...nonNull.map((m) => (m as SchemaAST.Literal).literal as LiteralValue))
        return nonNull.length === members.length ? lit : optional(lit)
      }
      if (nonNull.length === 1 && members.length > 1) return optional(fromAst(nonNull[0]!, path))
      const mapped = nonNull.map((m, i) => fromAst(m, `${path}|${i}`))
      return nonNull.length === members.length
        ? { _tag: "union", members: mapped }
        : { _tag: "union", members: [...mapped, { _tag: "none" }] }
    }
    case "Arrays":
      if (ast.elements.length === 0 && ast.rest.length === 1) return list(fromAst(ast.rest[0]!, `${path}[]`))
      // Schema.Tuple: a fixed-length tuple. Optional elements and a rest after elements have no
      // counterpart among DSPy's string types, so they are refused below.
      if (ast.rest.length === 0 && ast.elements.every((e) => !SchemaAST.isOptional(e))) {
        return tuple(...ast.elements.map((e, i) => fromAst(e, `${path}[${i}]`)))
      }
      break
    case "Objects": {
      if (ast.propertySignatures.length === 0 && ast.indexSignatures.length === 1) {
        return dict(fromAst(ast.indexSignatures[0]!.type, `${path}{}`))
      }
      if (ast.indexSignatures.length === 0) {
        const ident = ast.annotations as { identifier?: string; title?: string } | undefined
        return {
          _tag: "object",
          name: ident?.identifier ?? ident?.title ?? "Model",
          properties: ast.propertySignatures.map((p) => {
            const description = (p.type.annotations as { description?: string } | undefined)?.description
            return {
              name: String(p.name),
              type: fromAst(p.type, `${path}.${String(p.name)}`),
              optional: SchemaAST.isOptional(p.type),
              ...(description === undefined ? {} : { description })
            }
          })
        }
      }
      break
    }
    case "Suspend":
      return fromAst(ast.thunk(), path)
    case "Declaration":
      break
  }
  throw new UnsupportedSchemaError({
    path,
    astTag: ast._tag,
    message:
      `Schema at ${path} (${ast._tag}) has no prompt-level type; use String, Number, Int, Boolean, Literals, Array, Tuple (without optional or rest elements), Record, NullOr, Union or Struct`
  })
}
