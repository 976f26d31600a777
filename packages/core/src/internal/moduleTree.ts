/**
 * Walking and copying a module tree. Lives apart from Module.ts so Predict, ProgramState and Module can
 * all use it without an import cycle: modules and parameters are recognised by symbol markers, not by
 * `instanceof`.
 */

/** Marks every Module instance (set on Module.prototype). */
export const ModuleTypeId: unique symbol = Symbol.for("dspex/Module")
/** Marks the leaves that carry learnable state (Predict), DSPy's `Parameter`. */
export const ParameterTypeId: unique symbol = Symbol.for("dspex/Parameter")
/** Set on a module an optimizer has compiled: its predictors are frozen and left out of named paths. */
export const CompiledTypeId: unique symbol = Symbol.for("dspex/Compiled")

/** A module, seen structurally (recognised by its ModuleTypeId marker). */
export type TreeNode = object

export const isModule = (u: unknown): u is TreeNode =>
  typeof u === "object" && u !== null && (u as Record<symbol, unknown>)[ModuleTypeId] === true

export const isParameter = (u: unknown): boolean =>
  isModule(u) && (u as unknown as Record<symbol, unknown>)[ParameterTypeId] === true

const isCompiled = (u: unknown): boolean => (u as Record<symbol, unknown>)[CompiledTypeId] === true

export const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** Where a named parameter sits, so it can be replaced in place (`mapNamedPredictors`). */
export interface ParameterEntry {
  readonly path: string
  readonly value: TreeNode
  /** The object or array holding it; undefined for the root itself (`self`). */
  readonly container: Record<string | number, unknown> | undefined
  readonly key: string | number | undefined
}

/**
 * DSPy's `named_parameters`: attribute paths to the parameters, in attribute order. A parameter reached
 * twice is listed once (first path wins); lists and records are followed one level, like DSPy.
 */
export const namedParameters = (root: TreeNode): ReadonlyArray<ParameterEntry> => {
  const visited = new Set<unknown>()
  const out: Array<ParameterEntry> = []

  const add = (
    path: string,
    value: unknown,
    container: ParameterEntry["container"],
    key: ParameterEntry["key"]
  ): void => {
    if (isParameter(value)) {
      if (!visited.has(value)) {
        visited.add(value)
        out.push({ path, value: value as TreeNode, container, key })
      }
    } else if (isModule(value) && !isCompiled(value)) {
      for (const sub of namedParameters(value)) {
        add(`${path}.${sub.path}`, sub.value, sub.container, sub.key)
      }
    }
  }

  // Paths are only built for modules: a call computes them for its whole tree (demos, configs and LMs
  // included), so building one per visited value showed up in the per-call cost.
  if (isParameter(root)) add("self", root, undefined, undefined)
  const record = root as Record<string, unknown>
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (isModule(value)) add(name, value, record, name)
    else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        if (isModule(item)) add(`${name}[${i}]`, item, value as unknown as Record<number, unknown>, i)
      }
    } else if (isPlainObject(value)) {
      for (const k of Object.keys(value)) {
        const item = value[k]
        if (isModule(item)) add(`${name}['${k}']`, item, value, k)
      }
    }
  }
  return out
}

/**
 * DSPy's `named_sub_modules`: breadth-first, every module once, named from `self`
 * (`self.generate.predict`, `self.progs[0]`, `self.tools[search]`).
 */
export const namedSubModules = (
  root: TreeNode,
  options: { readonly skipCompiled?: boolean } = {}
): ReadonlyArray<readonly [string, TreeNode]> => {
  const out: Array<readonly [string, TreeNode]> = []
  const queue: Array<readonly [string, unknown]> = [["self", root]]
  const seen = new Set<unknown>([root])
  // The name is only built for values that are queued (objects), not for every string or number field.
  const enqueue = (parent: string, open: string, key: string | number, close: string, item: unknown) => {
    if (typeof item === "object" && item !== null && !seen.has(item)) {
      seen.add(item)
      queue.push([`${parent}${open}${key}${close}`, item])
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const [name, item] = queue[i]!
    if (isModule(item)) {
      out.push([name, item])
      if (options.skipCompiled === true && isCompiled(item)) continue
      const record = item as Record<string, unknown>
      for (const k of Object.keys(record)) enqueue(name, ".", k, "", record[k])
    } else if (Array.isArray(item)) {
      for (let j = 0; j < item.length; j++) if (j in item) enqueue(name, "[", j, "]", item[j])
    } else if (isPlainObject(item)) {
      for (const k of Object.keys(item)) enqueue(name, "[", k, "]", item[k])
    }
  }
  return out
}

/**
 * Copies modules, arrays and plain records (demos, configs, LMs) so the copy shares no mutable state with
 * the original; anything else (Signatures, functions, class instances such as retrievers) is immutable
 * or a service and is shared. A value reachable twice stays shared in the copy, as with Python's memo.
 */
export const deepCopy = <A>(value: A, memo: Map<unknown, unknown> = new Map()): A => {
  if (typeof value !== "object" || value === null) return value
  const known = memo.get(value)
  if (known !== undefined) return known as A
  if (Array.isArray(value)) {
    const arr: Array<unknown> = []
    memo.set(value, arr)
    for (const item of value) arr.push(deepCopy(item, memo))
    return arr as A
  }
  if (isModule(value) || isPlainObject(value)) {
    const copy = Object.create(Object.getPrototypeOf(value)) as Record<PropertyKey, unknown>
    memo.set(value, copy)
    for (const key of Reflect.ownKeys(value)) {
      const desc = Object.getOwnPropertyDescriptor(value, key)!
      if ("value" in desc) desc.value = deepCopy(desc.value, memo)
      Object.defineProperty(copy, key, desc)
    }
    return copy as A
  }
  return value
}
