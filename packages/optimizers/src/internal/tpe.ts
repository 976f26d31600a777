/**
 * The Tree-structured Parzen Estimator MIPROv2 searches with: Optuna's `TPESampler(seed, multivariate=True)`
 * in a maximizing study, restricted to what MIPROv2 asks of it — categorical parameters only (an instruction
 * index and a demo-set index per predictor), trials run one at a time (no constant liar), and completed trials
 * injected from outside (the baseline, the periodic full evaluations) that count like the study's own.
 *
 * The algorithm is Optuna's (samplers/_tpe: sampler.py, parzen_estimator.py, probability_distributions.py):
 * random sampling until `nStartupTrials` trials are complete; then the complete trials split by value into the
 * best `gamma(n)` ("below", l) and the rest ("above", g), one Parzen estimator fitted to each over all
 * parameters jointly, `nEiCandidates` joint draws from l, and the draw maximizing log l(x) − log g(x). The
 * draws come from PyRandom (CPython's generator) instead of numpy's RandomState, so a run follows Optuna's
 * algorithm and its order of draws, not its exact numbers.
 */
import { Schema } from "effect"
import { PyRandom, type Seed } from "../PyRandom.ts"

/** A study given input it cannot use: a bad parameter space or option, a bad trial, or a bad snapshot. */
export class TpeError extends Schema.TaggedError<TpeError>()("TpeError", {
  operation: Schema.Literals(["makeStudy", "tell", "restoreStudy"]),
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `TPE ${this.operation}: ${this.reason}`
  }
  get suggestion(): string {
    switch (this.operation) {
      case "makeStudy":
        return "Declare each parameter once with an integer number of choices >= 1, at most one of seed and rng, and nStartupTrials >= 0, nEiCandidates >= 1, priorWeight >= 0."
      case "tell":
        return "Tell every declared parameter (and no other) with an integer index in [0, choices), and a finite value (NaN marks a failed trial)."
      case "restoreStudy":
        return "Restore from a snapshot() of a study (as parsed JSON); pass the generator again if the study's had no getstate()."
    }
  }
}

function fail(operation: TpeError["operation"], reason: string): never {
  throw new TpeError({ operation, reason })
}

/**
 * The uniform draws a study needs. A generator with `getstate`/`setstate` (PyRandom) is checkpointed with the
 * study; one without must be passed again on restore, in the state it had at `snapshot()`.
 */
export interface Rng {
  random(): number
  getstate?(): unknown
  // `never`: the study only hands back what the same generator's getstate() gave, whatever its type.
  setstate?(state: never): void
}

/** One categorical parameter: its values are the indices 0 … choices − 1. */
export interface ParamSpec {
  readonly name: string
  readonly choices: number
}

export type Params = Readonly<Record<string, number>>

/** A finished trial. A NaN value fails it, as in Optuna: kept in the history, never used by the sampler. */
export interface Trial {
  readonly number: number
  readonly params: Params
  readonly value: number | null
  readonly state: "complete" | "fail"
}

export interface StudyOptions {
  readonly params: ReadonlyArray<ParamSpec>
  /** Seeds a PyRandom; without seed or rng, the generator is seeded from OS entropy, as Optuna's seed=None. */
  readonly seed?: Seed
  readonly rng?: Rng
  readonly nStartupTrials?: number
  readonly nEiCandidates?: number
  /** How many of n complete trials are "good" (Optuna's `gamma`); a function, so not part of the snapshot. */
  readonly gamma?: (n: number) => number
  readonly priorWeight?: number
}

/** The study as JSON-ready data: enough to continue the identical sequence of suggestions. */
export interface StudySnapshot {
  readonly format: "dspex-tpe/1"
  readonly params: ReadonlyArray<ParamSpec>
  readonly nStartupTrials: number
  readonly nEiCandidates: number
  readonly priorWeight: number
  readonly trials: ReadonlyArray<{ readonly params: Params; readonly value: number | null }>
  /** The generator's getstate(), or null when it has none. */
  readonly rng: unknown
}

export interface Study {
  /** The next trial's parameter indices, in the declared order of the parameters. */
  ask(): Params
  /** Records a finished trial (one `ask()` gave, or any other). */
  tell(params: Params, value: number): Trial
  /** Records a trial evaluated elsewhere (Optuna's `study.add_trial`); counts exactly like a told one. */
  addTrial(params: Params, value: number): Trial
  /** The first complete trial with the highest value, as Optuna's best_trial when maximizing. */
  best(): Trial | undefined
  trials(): ReadonlyArray<Trial>
  snapshot(): StudySnapshot
}

/** Optuna's `default_gamma`: 10% of the trials are good, at most 25. */
export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25)

/**
 * Optuna's `default_weights`, oldest trial first: flat for the newest 25, a ramp from 1/n up for the older
 * ones, so that the early random trials fade as the search goes on.
 */
export const defaultWeights = (n: number): Array<number> => {
  if (n < 25) return new Array<number>(n).fill(1)
  const ramp = linspace(1 / n, 1, n - 25)
  return [...ramp, ...new Array<number>(25).fill(1)]
}

// numpy.linspace(start, stop, num) with its endpoint: the last point is `stop` exactly.
const linspace = (start: number, stop: number, num: number): Array<number> => {
  if (num <= 0) return []
  if (num === 1) return [start]
  const step = (stop - start) / (num - 1)
  const out = Array.from({ length: num }, (_, i) => start + i * step)
  out[num - 1] = stop
  return out
}

/**
 * A mixture of product distributions over categorical parameters (Optuna's `_ParzenEstimator` for a
 * categorical search space): one kernel per observation plus one for the prior.
 */
export interface ParzenEstimator {
  /** Mixture weights, the prior's last. */
  readonly weights: ReadonlyArray<number>
  /** Per parameter, per kernel, the probability of each choice. */
  readonly kernels: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>
}

/**
 * `observations[t][j]` is trial t's index for `space[j]`, oldest trial first (the weights ramp by age).
 * Each observation's kernel puts weight 1 on its own choice plus `priorWeight / kernels` on every choice;
 * the prior kernel is uniform. Without observations only the uniform prior is left.
 */
export const parzenEstimator = (
  observations: ReadonlyArray<ReadonlyArray<number>>,
  space: ReadonlyArray<ParamSpec>,
  priorWeight: number
): ParzenEstimator => {
  const n = observations.length
  const raw = n === 0 ? [1] : [...defaultWeights(n), priorWeight]
  const total = raw.reduce((a, b) => a + b, 0)
  const weights = raw.map((w) => w / total)
  const kernels = space.map(({ choices }, j) => {
    if (n === 0) return [new Array<number>(choices).fill(1 / choices)]
    const nKernels = n + 1
    return Array.from({ length: nKernels }, (_, k) => {
      const row = new Array<number>(choices).fill(priorWeight / nKernels)
      if (k < n) row[observations[k][j]] += 1
      const sum = row.reduce((a, b) => a + b, 0)
      // A zero prior weight leaves the prior kernel all zeros; Optuna keeps it so (its mixture weight is 0 too).
      return sum === 0 ? row : row.map((p) => p / sum)
    })
  })
  return { weights, kernels }
}

// Optuna's order of draws: every candidate's kernel first (numpy's choice with p), then parameter by
// parameter one quantile per candidate, each turned into a choice through the kernel's cumulative sums.
const sampleEstimator = (pe: ParzenEstimator, size: number, rng: Rng): Array<Array<number>> => {
  const cdf = cumsum(pe.weights)
  const last = cdf[cdf.length - 1]
  const active = Array.from({ length: size }, () => {
    const u = rng.random()
    let k = 0
    while (k < cdf.length - 1 && cdf[k] / last <= u) k++
    return k
  })
  const samples = active.map(() => new Array<number>(pe.kernels.length))
  pe.kernels.forEach((kernel, j) => {
    for (let c = 0; c < size; c++) {
      const u = rng.random()
      const cum = cumsum(kernel[active[c]])
      cum[cum.length - 1] = 1
      let choice = 0
      while (choice < cum.length && cum[choice] < u) choice++
      samples[c][j] = choice
    }
  })
  return samples
}

const cumsum = (xs: ReadonlyArray<number>): Array<number> => {
  let acc = 0
  return xs.map((x) => (acc += x))
}

/** log of the mixture's probability of `x` (indices in the estimator's parameter order), by log-sum-exp. */
export const logPdf = (pe: ParzenEstimator, x: ReadonlyArray<number>): number => {
  const terms = pe.weights.map((w, k) =>
    pe.kernels.reduce((acc, kernel, j) => acc + Math.log(kernel[k][x[j]]), Math.log(w))
  )
  let max = Math.max(...terms)
  // All terms −∞ (x impossible): keep −∞ rather than computing −∞ − −∞.
  if (max === -Infinity) max = 0
  return Math.log(terms.reduce((acc, t) => acc + Math.exp(t - max), 0)) + max
}

interface Config {
  readonly params: ReadonlyArray<ParamSpec>
  readonly nStartupTrials: number
  readonly nEiCandidates: number
  readonly priorWeight: number
  readonly gamma: (n: number) => number
}

const isCount = (x: unknown, min: number): x is number => typeof x === "number" && Number.isInteger(x) && x >= min

const checkConfig = (operation: TpeError["operation"], config: Config): void => {
  if (!Array.isArray(config.params)) fail(operation, "params must be an array of { name, choices }")
  const seen = new Set<string>()
  for (const p of config.params as ReadonlyArray<Partial<ParamSpec> | null>) {
    if (p === null || typeof p !== "object" || typeof p.name !== "string") {
      return fail(operation, "every parameter needs a string name")
    }
    if (seen.has(p.name)) fail(operation, `parameter "${p.name}" is declared twice`)
    seen.add(p.name)
    if (!isCount(p.choices, 1)) {
      fail(operation, `parameter "${p.name}" has ${String(p.choices)} choices; it needs an integer >= 1`)
    }
  }
  if (!isCount(config.nStartupTrials, 0)) {
    fail(operation, `nStartupTrials = ${String(config.nStartupTrials)}; expected an integer >= 0`)
  }
  if (!isCount(config.nEiCandidates, 1)) {
    fail(operation, `nEiCandidates = ${String(config.nEiCandidates)}; expected an integer >= 1`)
  }
  const w = config.priorWeight
  if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
    fail(operation, `priorWeight = ${String(w)}; expected a finite number >= 0`)
  }
}

const checkTrial = (
  operation: TpeError["operation"],
  specs: ReadonlyArray<ParamSpec>,
  params: unknown,
  value: unknown
): { params: Params; value: number | null } => {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    return fail(operation, "params must be an object of parameter name → choice index")
  }
  const given = params as Record<string, unknown>
  const known = new Set(specs.map((p) => p.name))
  for (const name of Object.keys(given)) {
    if (!known.has(name)) fail(operation, `unknown parameter "${name}"`)
  }
  const checked: Record<string, number> = {}
  for (const { choices, name } of specs) {
    const index = given[name]
    if (index === undefined) fail(operation, `parameter "${name}" is missing`)
    if (!isCount(index, 0) || index >= choices) {
      fail(operation, `parameter "${name}" = ${String(index)}; expected an integer in [0, ${choices})`)
    }
    checked[name] = index as number
  }
  if (value === null || (typeof value === "number" && Number.isNaN(value))) return { params: checked, value: null }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return fail(operation, `value ${String(value)} is not a finite number`)
  }
  return { params: checked, value }
}

const makeStudyFrom = (config: Config, rng: Rng, initial: ReadonlyArray<Trial>): Study => {
  const history: Array<Trial> = [...initial]
  // Optuna leaves single-choice parameters out of the search: they are 0 and cost no draw.
  const searched = config.params.filter((p) => p.choices > 1)
  // The multivariate search space is Optuna's intersection search space, which sorts by name.
  const relativeSpace = [...searched].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

  const record = (operation: "tell", params: Params, value: number): Trial => {
    const checked = checkTrial(operation, config.params, params, value)
    const trial: Trial = {
      number: history.length,
      params: checked.params,
      value: checked.value,
      state: checked.value === null ? "fail" : "complete"
    }
    history.push(trial)
    return trial
  }

  const tpe = (space: ReadonlyArray<ParamSpec>, complete: ReadonlyArray<Trial>): Array<number> => {
    const n = complete.length
    const nBelow = Math.max(0, Math.min(n, Math.floor(config.gamma(n))))
    // Best first; a stable sort keeps ties in trial order, as Python's sorted(reverse=True) does.
    const ranked = [...complete].sort((a, b) => b.value! - a.value!)
    const byNumber = (ts: ReadonlyArray<Trial>) =>
      [...ts].sort((a, b) => a.number - b.number).map((t) => space.map((p) => t.params[p.name]))
    const below = parzenEstimator(byNumber(ranked.slice(0, nBelow)), space, config.priorWeight)
    const above = parzenEstimator(byNumber(ranked.slice(nBelow)), space, config.priorWeight)
    const candidates = sampleEstimator(below, config.nEiCandidates, rng)
    let best = 0
    let bestScore = -Infinity
    candidates.forEach((x, i) => {
      const score = logPdf(below, x) - logPdf(above, x)
      if (score > bestScore) [best, bestScore] = [i, score]
    })
    return candidates[best]
  }

  const ask = (): Params => {
    const complete = history.filter((t) => t.state === "complete")
    const chosen: Record<string, number> = {}
    if (complete.length < config.nStartupTrials) {
      // Optuna's RandomSampler: a uniform draw per choice (the one-hot box), the largest wins.
      for (const { choices, name } of searched) {
        let best = 0
        let top = -Infinity
        for (let c = 0; c < choices; c++) {
          const u = rng.random()
          if (u > top) [best, top] = [c, u]
        }
        chosen[name] = best
      }
    } else if (complete.length > 0) {
      const x = tpe(relativeSpace, complete)
      relativeSpace.forEach((p, j) => (chosen[p.name] = x[j]))
    } else {
      // No complete trial yet gives Optuna no relative search space: each parameter is sampled on its own.
      for (const p of searched) chosen[p.name] = tpe([p], complete)[0]
    }
    return Object.fromEntries(config.params.map((p) => [p.name, chosen[p.name] ?? 0]))
  }

  return {
    ask,
    tell: (params, value) => record("tell", params, value),
    addTrial: (params, value) => record("tell", params, value),
    best: () => {
      let best: Trial | undefined
      for (const t of history) {
        if (t.state === "complete" && (best === undefined || t.value! > best.value!)) best = t
      }
      return best
    },
    trials: () => [...history],
    snapshot: () => ({
      format: "dspex-tpe/1",
      params: config.params.map((p) => ({ name: p.name, choices: p.choices })),
      nStartupTrials: config.nStartupTrials,
      nEiCandidates: config.nEiCandidates,
      priorWeight: config.priorWeight,
      trials: history.map((t) => ({ params: { ...t.params }, value: t.value })),
      rng: rng.getstate === undefined ? null : rng.getstate()
    })
  }
}

/**
 * A maximizing study over categorical parameters with Optuna's TPE defaults: 10 random startup trials,
 * 24 expected-improvement candidates, `defaultGamma`, prior weight 1.
 *
 * @throws TpeError for a parameter with no choices, a duplicate name, both seed and rng, or a bad option.
 */
export const makeStudy = (options: StudyOptions): Study => {
  const config: Config = {
    params: options.params,
    nStartupTrials: options.nStartupTrials ?? 10,
    nEiCandidates: options.nEiCandidates ?? 24,
    priorWeight: options.priorWeight ?? 1,
    gamma: options.gamma ?? defaultGamma
  }
  checkConfig("makeStudy", config)
  if (options.seed !== undefined && options.rng !== undefined) fail("makeStudy", "pass a seed or an rng, not both")
  const rng = options.rng ?? new PyRandom(options.seed)
  return makeStudyFrom({ ...config, params: config.params.map((p) => ({ ...p })) }, rng, [])
}

/**
 * Continues a study from its `snapshot()` (parsed JSON): the same trials, options and generator state, so
 * the next `ask()` is the one the original study would have made. `gamma` is not in the snapshot; pass it
 * again if the study had its own. A generator without getstate/setstate must be passed again as `rng`.
 *
 * @throws TpeError for a snapshot that is not one, or a trial in it that does not fit its parameters.
 */
export const restoreStudy = (
  snapshot: unknown,
  options: { readonly rng?: Rng; readonly gamma?: (n: number) => number } = {}
): Study => {
  if (snapshot === null || typeof snapshot !== "object") return fail("restoreStudy", "the snapshot is not an object")
  const s = snapshot as Partial<Record<keyof StudySnapshot, unknown>>
  if (s.format !== "dspex-tpe/1") fail("restoreStudy", `unknown snapshot format ${JSON.stringify(s.format)}`)
  if (!Array.isArray(s.trials)) fail("restoreStudy", "the snapshot has no trials array")
  const config: Config = {
    params: s.params as ReadonlyArray<ParamSpec>,
    nStartupTrials: s.nStartupTrials as number,
    nEiCandidates: s.nEiCandidates as number,
    priorWeight: s.priorWeight as number,
    gamma: options.gamma ?? defaultGamma
  }
  checkConfig("restoreStudy", config)
  const trials = (s.trials as ReadonlyArray<{ params?: unknown; value?: unknown } | null>).map((t, number): Trial => {
    if (t === null || typeof t !== "object") return fail("restoreStudy", `trial ${number} is not an object`)
    const checked = checkTrial("restoreStudy", config.params, t.params, t.value)
    return { number, ...checked, state: checked.value === null ? "fail" : "complete" }
  })
  let rng = options.rng
  if (s.rng !== null && s.rng !== undefined) {
    rng ??= new PyRandom(0)
    if (rng.setstate === undefined) {
      fail("restoreStudy", "the snapshot has a generator state but the rng has no setstate")
    }
    try {
      rng.setstate!(s.rng as never)
    } catch (cause) {
      fail(
        "restoreStudy",
        `the generator state does not load: ${cause instanceof Error ? cause.message : String(cause)}`
      )
    }
  } else if (rng === undefined) {
    fail("restoreStudy", "the study's generator had no getstate(); pass it again as rng")
  }
  return makeStudyFrom(config, rng!, trials)
}
