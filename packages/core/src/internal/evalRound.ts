/**
 * Python's `round(x, digits)`: correctly rounded on the double's exact decimal value, ties to even.
 * Evaluate reports `round(100 * sum / n, 2)` as DSPy does, and JavaScript's `Math.round` rounds exact
 * ties (e.g. 0.125) up where Python rounds them to even.
 */
export const pyRound = (x: number, digits: number): number => {
  if (!Number.isFinite(x)) return x
  const negative = x < 0
  // Far from a tie the direction is unambiguous and integer / 10^digits is the correctly rounded double
  // Python returns; only near-ties need the exact decimal expansion (Evaluate rounds once per example).
  const scale0 = 10 ** digits
  const y = Math.abs(x) * scale0
  if (y < 2 ** 52) {
    const frac = y - Math.floor(y)
    if (Math.abs(frac - 0.5) > 1e-6) {
      const r = Math.round(y) / scale0
      return negative ? -r : r
    }
  }
  return pyRoundExact(x, digits)
}

/** `pyRound` always through the double's exact decimal expansion (the reference the fast path must match). */
export const pyRoundExact = (x: number, digits: number): number => {
  if (!Number.isFinite(x)) return x
  const negative = x < 0
  // toFixed(100) prints the double's exact decimal expansion (doubles of this magnitude have < 100 places).
  const exact = Math.abs(x).toFixed(100)
  const dot = exact.indexOf(".")
  const kept = exact.slice(0, dot + 1 + digits)
  const rest = exact.slice(dot + 1 + digits)
  let roundUp: boolean
  if (rest[0]! > "5") roundUp = true
  else if (rest[0]! < "5") roundUp = false
  else if (/[1-9]/.test(rest.slice(1))) roundUp = true
  else {
    const last = kept.replace(".", "").slice(-1)
    roundUp = Number(last) % 2 === 1
  }
  const scale = 10 ** digits
  const base = Number(kept.replace(/\.$/, ""))
  const rounded = roundUp ? (Math.round(base * scale) + 1) / scale : base
  return negative ? -rounded : rounded
}
