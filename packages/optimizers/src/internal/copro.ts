/**
 * COPRO's bookkeeping, kept apart from the search loop: Python's string and float formatting where DSPy's
 * prompts and keys depend on them, the attempts list fed back to the prompt model, DSPy's statistics and
 * its de-duplication of the final candidate list.
 */
import { type Module, PyText, type Signature } from "@dspex/core"

/** Python's `str.isspace` characters, which `str.strip()` removes (JS's `trim` differs on a few). */
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
const PY_SPACE_EDGES = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g")

/** DSPy's `s.strip('"').strip()`: outer double quotes first, then outer whitespace. */
export const stripProposal = (s: string): string => s.replace(/^"+|"+$/g, "").replace(PY_SPACE_EDGES, "")

/** One proposal as the prompt model wrote it (DSPy strips it only when it is evaluated). */
export interface Proposal {
  readonly instruction: string
  readonly prefix: string
}

/** A scored (instruction, prefix) of one predictor: DSPy's `evaluated_candidates` entry. */
export interface Entry {
  readonly score: number
  readonly instruction: string
  readonly prefix: string
  readonly depth: number
  readonly predictor: string
  /** The trial that scored it (the first, for a candidate scored again with the same program). */
  readonly trial: number
  readonly candidate: string
  readonly program: Module.Module
}

/**
 * DSPy's attempts list: up to `breadth` best entries (a stable sort by score, best first), listed worst
 * first, numbered from 1.
 */
export const attemptsOf = (entries: ReadonlyArray<Entry>, breadth: number): Array<string> => {
  const best = [...entries].sort((a, b) => b.score - a.score)
  const shortest = Math.min(entries.length, breadth)
  const out: Array<string> = []
  for (let i = shortest - 1; i >= 0; i--) {
    const e = best[i]!
    const k = shortest - i
    out.push(`Instruction #${k}: ${e.instruction}`)
    out.push(`Prefix #${k}: ${e.prefix}`)
    out.push(`Resulting Score #${k}: ${PyText.floatRepr(e.score)}`)
  }
  return out
}

/** Min, max, average and population standard deviation of scores, per depth (DSPy's `track_stats`). */
export interface Stats {
  readonly depth: Array<number>
  readonly max: Array<number>
  readonly average: Array<number>
  readonly min: Array<number>
  readonly std: Array<number>
}

export const emptyStats = (): Stats => ({ depth: [], max: [], average: [], min: [], std: [] })

/** Appends one row; DSPy's `statistics.pstdev`. */
export const addStats = (stats: Stats, depth: number, scores: ReadonlyArray<number>): void => {
  const n = scores.length
  const mean = scores.reduce((a, b) => a + b, 0) / n
  stats.depth.push(depth)
  stats.max.push(Math.max(...scores))
  stats.average.push(mean)
  stats.min.push(Math.min(...scores))
  stats.std.push(Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / n))
}

const lastField = (signature: Signature.Signature) => signature.fields.at(-1)

const sameField = (f: Signature.Field | undefined, g: Signature.Field | undefined): boolean =>
  f === g ||
  (f !== undefined && g !== undefined && f.name === g.name && f.io === g.io && f.desc === g.desc &&
    f.prefix === g.prefix && f.constraints === g.constraints && JSON.stringify(f.type) === JSON.stringify(g.type))

/** DSPy's `_check_candidates_equal`: every predictor has the same instructions and the same last field. */
const sameCandidate = (a: Entry, b: Entry): boolean => {
  const pa = a.program.predictors()
  const pb = b.program.predictors()
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const sa = pa[i]!.signature
    const sb = pb[i]!.signature
    if (sa.instructions !== sb.instructions || !sameField(lastField(sa), lastField(sb))) return false
  }
  return true
}

/** DSPy's `_drop_duplicates` over entries sorted best first: equal programs among equal scores go. */
export const dropDuplicates = (sorted: ReadonlyArray<Entry>): Array<Entry> => {
  const out: Array<Entry> = []
  let batch: Array<Entry> = []
  let batchScore = -1
  for (const c of sorted) {
    let repeat = false
    if (c.score === batchScore) {
      repeat = batch.some((c2) => sameCandidate(c, c2))
      if (!repeat) batch.push(c)
    } else {
      batch = [c]
      batchScore = c.score
    }
    if (!repeat) out.push(c)
  }
  return out
}
