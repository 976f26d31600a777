/**
 * Modules: a program is a tree of modules whose leaves are Predict. Subclass `Module`, hold sub-modules
 * as attributes (directly, in arrays or in records) and write `forward`; the attribute names become the
 * named predictor paths DSPy uses in saved files (`generate_answer.predict`, `progs[0].predict`,
 * `tools['search']`). Call a module with `module.call(inputs)`: a span, ModuleStart/ModuleEnd callbacks
 * and usage accounting wrap `forward`.
 *
 * Modules are mutable like DSPy's (optimizers `deepCopy()` a program and then set demos/instructions on
 * the copy's predictors); a call never mutates the module, so one program can serve concurrent calls.
 * Keep module state in ordinary fields: JavaScript `#private` fields cannot be deep-copied.
 */
import { Cause, Context, Effect } from "effect"
import type { Demo } from "./Adapter.ts"
import { CurrentCallbacks, fire, nextCallId } from "./Callbacks.ts"
import type { StateLoadError } from "./Errors.ts"
import { CurrentRunScope, CurrentUsage, scopeFor, UsageCollector } from "./internal/moduleRun.ts"
import {
  CompiledTypeId,
  deepCopy as copyTree,
  isParameter,
  ModuleTypeId,
  namedParameters,
  namedSubModules
} from "./internal/moduleTree.ts"
import * as State from "./internal/stateCodec.ts"
import type { LMRequest } from "./LanguageModel.ts"
import type { LM } from "./LM.ts"
import type { Predict } from "./Predict.ts"
import { Prediction } from "./Prediction.ts"
import type { LoadOptions } from "./ProgramState.ts"
import { isTracing } from "./Tracing.ts"

/** Default LM request settings of a predictor (DSPy's `**config`): n, temperature, rollout id, cache... */
export type PredictConfig = Partial<Omit<LMRequest, "messages">>

/** Per-call overrides (DSPy's privileged `lm`, `config`, `demos` keyword arguments). */
export interface CallOptions {
  readonly lm?: LM | undefined
  readonly config?: PredictConfig | undefined
  readonly demos?: ReadonlyArray<Demo> | undefined
}

type ForwardOf<M> = M extends { forward: (...args: infer P) => infer R } ? { readonly params: P; readonly result: R }
  : never
/** The inputs a module's `forward` takes. */
export type InputsOf<M> = ForwardOf<M>["params"][0]
/** What a module's `forward` produces. */
export type OutputOf<M> = ForwardOf<M>["result"] extends Effect.Effect<infer A, infer _E, infer _R> ? A : never
/** The errors a module's `forward` can fail with. */
export type ErrorOf<M> = ForwardOf<M>["result"] extends Effect.Effect<infer _A, infer E, infer _R> ? E : never
/** The services a module's `forward` needs (usually `LanguageModel`). */
export type ContextOf<M> = ForwardOf<M>["result"] extends Effect.Effect<infer _A, infer _E, infer R> ? R : never

/**
 * The base of every program.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Module } from "@dspex/core"
 * import { Effect } from "effect"
 *
 * class RAG extends Module.Module {
 *   generate = ChainOfThought.make("context: list[str], question -> answer")
 *   forward(inputs: { context: ReadonlyArray<string>; question: string }) {
 *     return this.generate.call(inputs)
 *   }
 * }
 * const program = Effect.gen(function*() {
 *   const prediction = yield* new RAG().call({ context: ["Paris is the capital of France."], question: "What is the capital of France?" })
 *   return prediction.get("answer")
 * })
 * ```
 */
export abstract class Module {
  /** The module's logic. Call it through `call`, which adds tracing and callbacks. */
  abstract forward(inputs: any, options?: CallOptions): Effect.Effect<unknown, any, any>

  /**
   * Runs the module: a `Module.call` span carrying the module class and path, ModuleStart/ModuleEnd
   * callbacks, and, for a Prediction result, the LM usage of every call made inside.
   *
   * @example
   * ```ts
   * import { Predict } from "@dspex/core"
   * import { Effect } from "effect"
   *
   * const program = Predict.make("question -> answer")
   * const answer = Effect.gen(function*() {
   *   const pred = yield* program.call({ question: "What is 2+2?" })
   *   return pred.get("answer")
   * })
   * ```
   */
  call<Self extends Module>(
    this: Self,
    inputs: InputsOf<Self>,
    options?: CallOptions
  ): Effect.Effect<OutputOf<Self>, ErrorOf<Self>, ContextOf<Self>> {
    const self = this
    // One fiber step reads everything the call needs: this runs once per module call, so every extra
    // Effect step or context switch here is paid by every LM call (see bench/predict-cpu.ts).
    return Effect.withFiber<OutputOf<Self>, ErrorOf<Self>, ContextOf<Self>>((fiber) => {
      const current = fiber.getRef(CurrentRunScope)
      const callbacks = fiber.getRef(CurrentCallbacks)
      const scope = scopeFor(current, self)
      const path = scope.modulePath(self) ?? "self"
      const moduleName = self.constructor.name
      const callId = callbacks.length > 0 ? nextCallId() : ""
      if (callbacks.length > 0) {
        fire(callbacks, {
          _tag: "ModuleStart",
          callId,
          module: moduleName,
          path,
          inputs: (inputs ?? {}) as Record<string, unknown>
        })
      }
      // A predictor's own usage is never read (only non-predictor modules attach usage to their
      // Prediction), so its calls add straight to the enclosing collector: the totals are the same.
      const usage = isParameter(self) ? undefined : new UsageCollector(fiber.getRef(CurrentUsage))
      const tracing = isTracing(fiber)
      // A predictor inside a running program changes neither: its forward runs in the caller's context.
      // Nor does a predictor called on its own: its path is `self` with or without a scope.
      const sameContext = usage === undefined && (scope === current || current === undefined)
      const body = self.forward(inputs, options) as Effect.Effect<OutputOf<Self>, ErrorOf<Self>, ContextOf<Self>>
      const forward = sameContext ? body : Effect.updateContext(
        body,
        (context: Context.Context<ContextOf<Self>>) => {
          const scoped = scope === current ? context : Context.add(context, CurrentRunScope, scope)
          return (usage === undefined ? scoped : Context.add(scoped, CurrentUsage, usage)) as typeof context
        }
      )
      const withUsage = (value: OutputOf<Self>): OutputOf<Self> =>
        usage !== undefined && value instanceof Prediction && !usage.isEmpty()
          ? value.withUsage({ ...usage.byModel }) as OutputOf<Self>
          : value
      // Without callbacks there is nothing to report on failure: no extra frame (see bench/predict-cpu.ts).
      const ended = callbacks.length === 0 ?
        (usage === undefined ? forward : Effect.map(forward, withUsage)) :
        Effect.matchCauseEffect(forward, {
          onFailure: (cause) =>
            Effect.andThen(
              Effect.sync(() =>
                fire(callbacks, { _tag: "ModuleEnd", callId, module: moduleName, path, error: Cause.squash(cause) })
              ),
              Effect.failCause(cause)
            ),
          onSuccess: (value) => {
            const out = withUsage(value)
            fire(callbacks, { _tag: "ModuleEnd", callId, module: moduleName, path, outputs: out })
            return Effect.succeed(out)
          }
        })
      // Only when a tracing backend is installed (see Tracing.ts); no stack trace, which cost more than the span.
      return tracing
        ? Effect.withSpan(ended, "Module.call", {
          attributes: { "dspex.module": moduleName, "dspex.path": path },
          captureStackTrace: false
        })
        : ended
    })
  }

  /**
   * Named predictors in attribute order, named as DSPy names them in saved files.
   *
   * @example
   * ```ts
   * import { ChainOfThought, Module, Predict } from "@dspex/core"
   *
   * class MultiHop extends Module.Module {
   *   generate_query = ChainOfThought.make("question -> query")
   *   generate_answer = Predict.make("context, question -> answer")
   *   forward(inputs: { question: string }) {
   *     return this.generate_query.call(inputs)
   *   }
   * }
   * new MultiHop().namedPredictors().map(([path]) => path) // ["generate_query.predict", "generate_answer"]
   * ```
   */
  namedPredictors(): ReadonlyArray<readonly [string, Predict]> {
    return namedParameters(this).map((e) => [e.path, e.value as unknown as Predict] as const)
  }

  predictors(): ReadonlyArray<Predict> {
    return this.namedPredictors().map(([, p]) => p)
  }

  /** Every module of the tree once, breadth-first, named from `self` (DSPy's `named_sub_modules`). */
  namedSubModules(options: { readonly skipCompiled?: boolean } = {}): ReadonlyArray<readonly [string, Module]> {
    return namedSubModules(this, options) as unknown as ReadonlyArray<readonly [string, Module]>
  }

  /**
   * An independent copy: sub-modules, demos, configs and LMs are copied, so editing the copy's
   * predictors leaves this module as it is.
   */
  deepCopy(): this {
    return copyTree(this)
  }

  /** A deep copy whose predictors are reset: no demos, no LM, no legacy traces (DSPy's `reset_copy`). */
  resetCopy(): this {
    const copy = this.deepCopy()
    for (const p of copy.predictors()) p.reset()
    return copy
  }

  /** Sets the LM of every predictor (undefined: use the fiber's CurrentLM). */
  setLm(lm: LM | undefined): this {
    for (const p of this.predictors()) p.lm = lm
    return this
  }

  /**
   * Replaces every named predictor with `f(predictor, path)`, in place. A bare Predict cannot replace
   * itself: for one, the mapped predictor is returned instead of `this`.
   */
  mapNamedPredictors(f: (predictor: Predict, path: string) => Predict): Module {
    let result: Module = this
    for (const entry of namedParameters(this)) {
      const next = f(entry.value as unknown as Predict, entry.path)
      if (entry.container === undefined) result = next
      else entry.container[entry.key!] = next
    }
    return result
  }

  /** Compiled modules are frozen: their predictors are left out of the paths of a program holding them. */
  get compiled(): boolean {
    return (this as unknown as Record<symbol, unknown>)[CompiledTypeId] === true
  }

  set compiled(value: boolean) {
    Object.defineProperty(this, CompiledTypeId, { value, enumerable: false, writable: true, configurable: true })
  }

  /**
   * DSPy's `dump_state`: one entry per named predictor (a bare Predict gives its own state), without
   * the `metadata` that saved files add.
   */
  dumpState(): Record<string, unknown> {
    return State.dumpModule(this)
  }

  /** Applies a saved state, all or nothing: on error the module is untouched. */
  loadState(state: unknown, options: LoadOptions = {}): Effect.Effect<void, StateLoadError> {
    return State.loadModule(this, state, options)
  }

  toString(): string {
    return this.namedPredictors().map(([path, p]) => `${path} = ${String(p)}`).join("\n")
  }
}

Object.defineProperty(Module.prototype, ModuleTypeId, { value: true, enumerable: false })

/** True for any module (including Predict and ChainOfThought). */
export const isModule = (u: unknown): u is Module => u instanceof Module
