/**
 * DSPy's saved-state layout for predictors and LMs (reference §5), in both directions. Decoding checks
 * everything before anything is applied, so a bad file leaves the program as it was.
 */
import { Effect } from "effect"
import type { Demo } from "../Adapter.ts"
import { StateLoadError } from "../Errors.ts"
import type { LM } from "../LM.ts"
import type { LoadOptions } from "../ProgramState.ts"
import { type Field, Signature } from "../Signature.ts"
import { isParameter, isPlainObject, namedParameters } from "./moduleTree.ts"

/** What the codec needs of a predictor (Predict, seen structurally to avoid an import cycle). */
export interface PredictorLike {
  signature: Signature
  demos: Array<Demo>
  lm: LM | undefined
  traces: Array<unknown>
  train: Array<unknown>
}

/** The LM class DSPy 3.3.1 records; any other class is a custom LM we cannot rebuild. */
const dspyLmClass = "dspy.clients.lm.LM"
const unsafeLmKeys = new Set(["api_base", "base_url", "model_list"])
/** LM state keys that are not request options. */
const lmStructuralKeys = new Set([
  "_dspy_lm_class",
  "model",
  "model_type",
  "cache",
  "num_retries",
  "temperature",
  "max_tokens",
  "max_completion_tokens",
  "n",
  "stop",
  "rollout_id",
  "finetuning_model",
  "launch_kwargs",
  "train_kwargs",
  "use_developer_role",
  "api_key"
])

/** DSPy's test for OpenAI reasoning models, whose saved `max_tokens` goes last. */
const isOpenAiReasoningModel = (model: string): boolean => {
  const family = (model.includes("/") ? model.split("/").pop()! : model).toLowerCase()
  return /^(?:o[1345](?:-(?:mini|nano|pro))?(?:-\d{4}-\d{2}-\d{2})?|gpt-5(?!-chat)(?:-.*)?)$/.test(family)
}

/** An LM as DSPy's `LM.dump_state` writes it; never carries an API key. */
export const lmToState = (lm: LM): Record<string, unknown> => {
  const reasoning = isOpenAiReasoningModel(lm.model)
  const state: Record<string, unknown> = {
    _dspy_lm_class: dspyLmClass,
    model: lm.model,
    model_type: lm.modelType ?? "chat",
    cache: lm.cache ?? true,
    num_retries: lm.numRetries ?? 3,
    temperature: lm.temperature ?? null
  }
  if (!reasoning) state.max_tokens = lm.maxTokens ?? null
  if (lm.n !== undefined) state.n = lm.n
  if (lm.stop !== undefined) state.stop = [...lm.stop]
  if (lm.rolloutId !== undefined) state.rollout_id = lm.rolloutId
  for (const [k, v] of Object.entries(lm.kwargs ?? {})) {
    if (k !== "api_key" && !(k in state)) state[k] = v
  }
  state.finetuning_model = null
  state.launch_kwargs = {}
  state.train_kwargs = {}
  if (reasoning) state.max_tokens = lm.maxTokens ?? null
  return state
}

const fail = (key: string, reason: string): never => {
  throw new StateLoadError({ key, reason })
}

const join = (prefix: string, key: string): string => (prefix === "" ? key : `${prefix}.${key}`)

const describe = (u: unknown): string => (u === null ? "null" : Array.isArray(u) ? "an array" : typeof u)

/** Rebuilds an LM from DSPy's LM state (or null); throws StateLoadError. */
export const lmFromState = (key: string, raw: unknown, options: LoadOptions = {}): LM | undefined => {
  if (raw === null || raw === undefined) return undefined
  if (!isPlainObject(raw)) return fail(key, `expected null or an LM state object, got ${describe(raw)}`)
  const cls = raw._dspy_lm_class
  if (cls !== undefined && cls !== dspyLmClass) {
    fail(key, `custom LM class ${JSON.stringify(cls)} cannot be rebuilt; only ${dspyLmClass} is supported`)
  }
  const model = raw.model
  if (typeof model !== "string" || model.length === 0) {
    return fail(`${key}.model`, `expected a non-empty model id string, got ${describe(model)}`)
  }
  if (raw.model_type !== undefined && raw.model_type !== "chat") {
    fail(`${key}.model_type`, `only "chat" models are supported, got ${JSON.stringify(raw.model_type)}`)
  }
  const optionalNumber = (name: string, check: (n: number) => boolean, expected: string): number | undefined => {
    const v = raw[name]
    if (v === undefined || v === null) return undefined
    if (typeof v !== "number" || !check(v)) {
      return fail(`${key}.${name}`, `expected ${expected}, got ${JSON.stringify(v)}`)
    }
    return v
  }
  const temperature = optionalNumber("temperature", (n) => Number.isFinite(n) && n >= 0, "a number >= 0 or null")
  const maxTokens = optionalNumber("max_tokens", (n) => Number.isInteger(n) && n > 0, "a positive integer or null") ??
    optionalNumber("max_completion_tokens", (n) => Number.isInteger(n) && n > 0, "a positive integer or null")
  const numRetries = optionalNumber("num_retries", (n) => Number.isInteger(n) && n >= 0, "an integer >= 0")
  const n = optionalNumber("n", (x) => Number.isInteger(x) && x > 0, "a positive integer")
  if (raw.cache !== undefined && typeof raw.cache !== "boolean") {
    fail(`${key}.cache`, `expected a boolean, got ${JSON.stringify(raw.cache)}`)
  }
  const stop = raw.stop === undefined || raw.stop === null
    ? undefined
    : typeof raw.stop === "string"
    ? [raw.stop]
    : Array.isArray(raw.stop) && raw.stop.every((s) => typeof s === "string")
    ? raw.stop as Array<string>
    : fail(`${key}.stop`, "expected a string or a list of strings")
  const rollout = raw.rollout_id
  if (rollout !== undefined && rollout !== null && typeof rollout !== "number" && typeof rollout !== "string") {
    fail(`${key}.rollout_id`, `expected a number or string, got ${describe(rollout)}`)
  }
  for (const name of ["launch_kwargs", "train_kwargs"]) {
    if (raw[name] !== undefined && raw[name] !== null && !isPlainObject(raw[name])) {
      fail(`${key}.${name}`, `expected an object, got ${describe(raw[name])}`)
    }
  }
  const kwargs: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (lmStructuralKeys.has(k)) continue
    if (unsafeLmKeys.has(k) && options.allowUnsafeLmState !== true) continue
    kwargs[k] = v
  }
  return {
    model,
    ...(raw.model_type === undefined ? {} : { modelType: "chat" as const }),
    ...(temperature === undefined ? {} : { temperature }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(n === undefined ? {} : { n }),
    ...(stop === undefined ? {} : { stop }),
    ...(rollout === undefined || rollout === null ? {} : { rolloutId: rollout as number | string }),
    ...(raw.cache === undefined ? {} : { cache: raw.cache as boolean }),
    ...(numRetries === undefined ? {} : { numRetries }),
    ...(Object.keys(kwargs).length === 0 ? {} : { kwargs })
  }
}

const demoToJson = (demo: Demo): Record<string, unknown> => {
  const toJSON = (demo as { toJSON?: unknown }).toJSON
  return typeof toJSON === "function" ? (toJSON.call(demo) as Record<string, unknown>) : { ...demo }
}

/** DSPy's `Predict.dump_state` (keys in DSPy's order: traces, train, demos, signature, lm). */
export const encodePredictor = (p: PredictorLike): Record<string, unknown> => ({
  traces: [...p.traces],
  train: [...p.train],
  demos: p.demos.map(demoToJson),
  signature: {
    instructions: p.signature.instructions,
    fields: p.signature.fields.map((f) => ({ prefix: f.prefix, description: f.desc }))
  },
  lm: p.lm === undefined ? null : lmToState(p.lm)
})

export interface DecodedPredictor {
  readonly signature: Signature
  readonly demos: Array<Demo>
  readonly lm: LM | undefined
  readonly traces: Array<unknown>
  readonly train: Array<unknown>
}

/** Checks one predictor's saved state against its current signature; throws StateLoadError. */
export const decodePredictor = (
  key: string,
  raw: unknown,
  current: Signature,
  options: LoadOptions
): DecodedPredictor => {
  const where = key === "" ? "the saved state" : `"${key}"`
  if (!isPlainObject(raw)) {
    return fail(key || "(root)", `expected the predictor state object at ${where}, got ${describe(raw)}`)
  }
  const list = (name: string): Array<unknown> => {
    const v = raw[name]
    if (v === undefined) return []
    if (!Array.isArray(v)) return fail(join(key, name), `expected a list, got ${describe(v)}`)
    return [...v]
  }
  const traces = list("traces")
  const train = list("train")
  const demos = list("demos").map((d, i) =>
    isPlainObject(d)
      ? { ...d }
      : fail(`${join(key, "demos")}[${i}]`, `each demo must be an object of field values, got ${describe(d)}`)
  )

  const sig = raw.signature
  if (!isPlainObject(sig)) return fail(join(key, "signature"), `expected {instructions, fields}, got ${describe(sig)}`)
  if (typeof sig.instructions !== "string") {
    return fail(join(key, "signature.instructions"), `expected a string, got ${describe(sig.instructions)}`)
  }
  const fields = sig.fields
  if (!Array.isArray(fields)) return fail(join(key, "signature.fields"), `expected a list, got ${describe(fields)}`)
  const currentFields = current.fields
  if (fields.length !== currentFields.length) {
    fail(
      join(key, "signature.fields"),
      `has ${fields.length} entries but the program's signature has ${currentFields.length} fields (${
        currentFields.map((f) => f.name).join(", ")
      })`
    )
  }
  const patched = fields.map((entry: unknown, i): Field => {
    const at = `${join(key, "signature.fields")}[${i}]`
    if (!isPlainObject(entry)) return fail(at, `expected {prefix, description}, got ${describe(entry)}`)
    if (typeof entry.prefix !== "string") {
      return fail(`${at}.prefix`, `expected a string, got ${describe(entry.prefix)}`)
    }
    if (typeof entry.description !== "string") {
      return fail(`${at}.description`, `expected a string, got ${describe(entry.description)}`)
    }
    return { ...currentFields[i]!, prefix: entry.prefix, desc: entry.description }
  })
  const nIn = current.inputs.length
  const signature = new Signature({
    inputs: patched.slice(0, nIn),
    outputs: patched.slice(nIn),
    instructions: sig.instructions,
    name: current.name
  })
  const lm = lmFromState(join(key, "lm"), raw.lm, options)
  return { signature, demos, lm, traces, train }
}

export const applyPredictor = (p: PredictorLike, d: DecodedPredictor): void => {
  p.signature = d.signature
  p.demos = d.demos
  p.lm = d.lm
  p.traces = d.traces
  p.train = d.train
}

/** DSPy's `Module.dump_state`: a bare predictor gives its own state, any other module one entry per path. */
export const dumpModule = (module: object): Record<string, unknown> => {
  if (isParameter(module)) return encodePredictor(module as unknown as PredictorLike)
  const out: Record<string, unknown> = {}
  for (const e of namedParameters(module)) out[e.path] = encodePredictor(e.value as unknown as PredictorLike)
  return out
}

/** Validates the whole state first, then applies it: a failure leaves `module` untouched. */
export const loadModule = (
  module: object,
  state: unknown,
  options: LoadOptions = {}
): Effect.Effect<void, StateLoadError> =>
  Effect.try({
    try: () => {
      if (!isPlainObject(state)) fail("(root)", `expected a saved program state object, got ${describe(state)}`)
      const s = state as Record<string, unknown>
      if (isParameter(module)) {
        const p = module as unknown as PredictorLike
        const decoded = decodePredictor("", s, p.signature, options)
        return () => applyPredictor(p, decoded)
      }
      const plan = namedParameters(module).map((e) => {
        if (!(e.path in s)) {
          fail(
            e.path,
            `missing from the saved state (it has: ${
              Object.keys(s).filter((k) => k !== "metadata").join(", ") || "no predictors"
            })`
          )
        }
        const p = e.value as unknown as PredictorLike
        return [p, decodePredictor(e.path, s[e.path], p.signature, options)] as const
      })
      return () => plan.forEach(([p, d]) => applyPredictor(p, d))
    },
    catch: (e) => (e instanceof StateLoadError ? e : new StateLoadError({ key: "(root)", reason: String(e) }))
  }).pipe(Effect.flatMap((apply) => Effect.sync(apply)))
