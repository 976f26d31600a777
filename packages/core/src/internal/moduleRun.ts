/**
 * Fiber-local bookkeeping of a running program: the named paths of its modules and predictors (computed
 * once at the outermost call, so spans, callbacks and trace steps carry DSPy's names), and the LM usage
 * of the calls made inside each module call.
 */
import { Context, Effect } from "effect"
import type { LMUsage } from "../LanguageModel.ts"
import { isParameter, namedParameters, namedSubModules, type TreeNode } from "./moduleTree.ts"

/**
 * The paths are computed on first use: a call of a lone predictor (the root, always `self`) never
 * walks its fields, and a program walks its tree once per outermost call.
 */
export class RunScope {
  readonly root: TreeNode
  private modules: ReadonlyMap<object, string> | undefined
  private predictors: ReadonlyMap<object, string> | undefined

  constructor(root: TreeNode) {
    this.root = root
  }

  /** Module → `self`, `self.generate`, ... (DSPy's named_sub_modules names). */
  get modulePaths(): ReadonlyMap<object, string> {
    return this.modules ??= new Map(namedSubModules(this.root).map(([path, m]) => [m, path] as const))
  }

  /** Predictor → `self`, `generate.predict`, ... (DSPy's named_parameters names). */
  get predictorPaths(): ReadonlyMap<object, string> {
    return this.predictors ??= new Map(namedParameters(this.root).map((e) => [e.value, e.path] as const))
  }

  /** The path of a module of this tree (the root is `self`). */
  modulePath(module: object): string | undefined {
    return module === this.root ? "self" : this.modulePaths.get(module)
  }

  /** The path of a predictor of this tree (a predictor at the root is `self`). */
  predictorPath(predictor: object): string | undefined {
    return predictor === this.root && isParameter(predictor) ? "self" : this.predictorPaths.get(predictor)
  }
}

export const CurrentRunScope = Context.Reference<RunScope | undefined>("@dspex/core/internal/RunScope", {
  defaultValue: () => undefined
})

export const makeRunScope = (root: TreeNode): RunScope => new RunScope(root)

/** The scope a call of `module` runs in: the caller's when `module` belongs to it, else a new one rooted at it. */
export const scopeFor = (current: RunScope | undefined, module: TreeNode): RunScope =>
  current !== undefined && (current.root === module || current.modulePaths.has(module)) ? current : makeRunScope(module)

/** Usage per model of the LM calls inside one module call; adds flow up to the enclosing calls. */
export class UsageCollector {
  readonly parent: UsageCollector | undefined
  readonly byModel: Record<string, LMUsage> = {}
  /** Provider calls (cache hits excluded) and their cost in USD, over all models. */
  calls = 0
  cost = 0
  constructor(parent: UsageCollector | undefined) {
    this.parent = parent
  }
  addCall(cost: number): void {
    this.calls++
    this.cost += cost
    this.parent?.addCall(cost)
  }
  add(usage: Readonly<Record<string, LMUsage>>): void {
    for (const [model, u] of Object.entries(usage)) {
      const prev = this.byModel[model]
      this.byModel[model] = prev === undefined ? u : {
        promptTokens: prev.promptTokens + u.promptTokens,
        completionTokens: prev.completionTokens + u.completionTokens,
        totalTokens: prev.totalTokens + u.totalTokens
      }
    }
    this.parent?.add(usage)
  }
  isEmpty(): boolean {
    return Object.keys(this.byModel).length === 0
  }
}

export const CurrentUsage = Context.Reference<UsageCollector | undefined>("@dspex/core/internal/Usage", {
  defaultValue: () => undefined
})

export const recordUsage = (usage: Readonly<Record<string, LMUsage>>): Effect.Effect<void> =>
  Effect.flatMap(CurrentUsage, (c) => (c === undefined ? Effect.void : Effect.sync(() => c.add(usage))))
