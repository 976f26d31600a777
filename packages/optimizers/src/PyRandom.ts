/**
 * An exact port of CPython's `random.Random` (3.11+, the Mersenne Twister of `Modules/_randommodule.c` and the
 * integer methods of `Lib/random.py`): the same seed gives the same draws, element for element. DSPy's
 * optimizers draw with `random.Random(seed)` (LabeledFewShot's sample, BootstrapFewShot's shuffles, random
 * search's `randint`, MIPROv2's sampling), so a DSPex optimizer run picks the same demos in the same order as
 * the DSPy run it is compared with.
 *
 * Only what the optimizers use is ported: seeding, `random`, `getrandbits`, `_randbelow` (here `randbelow`),
 * `randrange`, `randint`, `choice`, `shuffle`, `sample`, `uniform` and the state round trip.
 */
import { Schema } from "effect"
import { createHash, randomFillSync } from "node:crypto"

/**
 * A call CPython would reject with a ValueError, IndexError or TypeError. `reason` is CPython's own message
 * where it has one, so a log line reads the same on both sides.
 */
export class PyRandomError extends Schema.TaggedError<PyRandomError>()("PyRandomError", {
  operation: Schema.Literals([
    "seed",
    "getrandbits",
    "randbelow",
    "randrange",
    "choice",
    "shuffle",
    "sample",
    "setstate"
  ]),
  reason: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return this.reason
  }
  get suggestion(): string {
    switch (this.operation) {
      case "seed":
        return "Seed with an integer (number or bigint), a finite number, a string or bytes, as Python's random.seed accepts."
      case "getrandbits":
        return "Ask for a non-negative integer number of bits."
      case "randbelow":
        return "Pass a positive integer bound."
      case "randrange":
        return "Pass integers with start < stop for a positive step (start > stop for a negative one); use bigints beyond 2**53."
      case "choice":
        return "Pass a non-empty array-like (sort a Set into an array first)."
      case "shuffle":
        return "Pass an array (or another array-like writable by index); sort a Set into an array first."
      case "sample":
        return "Pass an array-like population (sort a Set into an array first) and 0 <= k <= its length."
      case "setstate":
        return "Pass a state returned by getstate() (or Python's random.getstate() as JSON): [3, 625 uint32 words, null]."
    }
  }
}

/**
 * What a generator can be seeded with. An integer-valued number seeds as the Python int of that value (a JS
 * number cannot tell `3` from `3.0`); any other number as Python seeds a float (by its hash); a string or bytes
 * as Python's version-2 seeding does.
 */
export type Seed = number | bigint | string | Uint8Array

/**
 * The generator's state in the shape of Python's `Random.getstate()` as JSON: `[3, [624 state words, index],
 * null]`. A state taken from Python (`json.dumps(rng.getstate())`) loads here, and the other way round.
 */
export type State = readonly [version: 3, internalstate: ReadonlyArray<number>, gaussNext: null]

/** An array-like that can be written by index, as `shuffle` needs. */
export interface MutableArrayLike<A> {
  readonly length: number
  [index: number]: A
}

const N = 624
const M = 397
const MATRIX_A = 0x9908b0df
const UPPER_MASK = 0x80000000
const LOWER_MASK = 0x7fffffff
const TWO_32 = 4294967296
// Below this, every intermediate of randrange's arithmetic stays an exact double; above, it goes through bigint.
const NUMBER_RANGE_LIMIT = 2 ** 51

const fail = (operation: PyRandomError["operation"], reason: string): never => {
  throw new PyRandomError({ operation, reason })
}

/** The 32-bit words of a non-negative integer, least significant first, with no leading zero words (0 is [0]). */
const wordsOf = (n: bigint): Array<number> => {
  const words: Array<number> = []
  do {
    words.push(Number(n & 0xffffffffn))
    n >>= 32n
  } while (n > 0n)
  return words
}

/** `int.from_bytes(bytes, "big")` as 32-bit words, least significant first. */
const wordsOfBigEndian = (bytes: Uint8Array): Array<number> => {
  const words: Array<number> = []
  for (let end = bytes.length; end > 0; end -= 4) {
    let word = 0
    for (let b = Math.max(0, end - 4); b < end; b++) word = word * 256 + bytes[b]
    words.push(word)
  }
  while (words.length > 1 && words[words.length - 1] === 0) words.pop()
  return words.length === 0 ? [0] : words
}

const HASH_MODULUS = (1n << 61n) - 1n

/**
 * `hash(x)` of a Python float that is not an integer, cast to an unsigned 64-bit integer as `random_seed`
 * does. Python's float hash is the value modulo 2**61 - 1, and 2**61 is 1 modulo that, so a power of two
 * reduces to its exponent modulo 61.
 */
const floatSeed = (x: number): bigint => {
  let hash: bigint
  if (x === Infinity) hash = 314159n
  else if (x === -Infinity) hash = -314159n
  else {
    const view = new DataView(new ArrayBuffer(8))
    view.setFloat64(0, Math.abs(x))
    const biased = (view.getUint32(0) >>> 20) & 0x7ff
    const fraction = (BigInt(view.getUint32(0) & 0xfffff) << 32n) | BigInt(view.getUint32(4))
    const mantissa = biased === 0 ? fraction : fraction | (1n << 52n)
    const exponent = biased === 0 ? -1074 : biased - 1075
    hash = (mantissa << BigInt(((exponent % 61) + 61) % 61)) % HASH_MODULUS
    if (x < 0) hash = -hash
    if (hash === -1n) hash = -2n
  }
  return hash < 0n ? hash + (1n << 64n) : hash
}

// A lone surrogate has no UTF-8 form: Python's str.encode() raises where TextEncoder would substitute U+FFFD.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** `a + sha512(a).digest()`, the bytes behind Python's version-2 seeding of str and bytes. */
const withDigest = (bytes: Uint8Array): Uint8Array => {
  const digest = createHash("sha512").update(bytes).digest()
  const all = new Uint8Array(bytes.length + digest.length)
  all.set(bytes, 0)
  all.set(digest, bytes.length)
  return all
}

const seedKey = (seed: Seed): Array<number> => {
  if (typeof seed === "bigint") return wordsOf(seed < 0n ? -seed : seed)
  if (typeof seed === "number") {
    if (Number.isNaN(seed)) {
      return fail("seed", "cannot seed from NaN: Python hashes a NaN by its identity, so no seed matches it")
    }
    if (Number.isSafeInteger(seed)) {
      const n = Math.abs(seed)
      return n < TWO_32 ? [n] : [n % TWO_32, Math.floor(n / TWO_32)]
    }
    return wordsOf(Number.isInteger(seed) ? BigInt(Math.abs(seed)) : floatSeed(seed))
  }
  if (typeof seed === "string") {
    if (loneSurrogate.test(seed)) {
      return fail("seed", "'utf-8' codec can't encode a lone surrogate: surrogates not allowed")
    }
    return wordsOfBigEndian(withDigest(new TextEncoder().encode(seed)))
  }
  if (seed instanceof Uint8Array) return wordsOfBigEndian(withDigest(seed))
  return fail("seed", "The only supported seed types are: None,\nint, float, str, bytes, and bytearray.")
}

const bitLength = (n: bigint): number => n.toString(2).length

/** Python's `a // b` (floor division) for bigints. */
const floorDivBig = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q
}

/** Python's `a // b` for integers whose intermediates stay below 2**53, computed without rounding. */
const floorDiv = (a: number, b: number): number => (a - (((a % b) + b) % b)) / b

// Python indexes what it draws from, so a Set or a Map (no length, no index) fails rather than reading as empty.
const isSequence = (x: unknown): x is ArrayLike<unknown> =>
  (typeof x === "string" || (typeof x === "object" && x !== null)) &&
  typeof (x as { readonly length?: unknown }).length === "number"

const checkRangeArg = (x: number, what: "arg 1" | "stop" | "step"): void => {
  if (!Number.isInteger(x)) fail("randrange", `non-integer ${what} for randrange()`)
  if (!Number.isSafeInteger(x)) fail("randrange", `${what} for randrange() is beyond 2**53 as a number; pass a bigint`)
}

/**
 * CPython's `random.Random`: a Mersenne Twister (MT19937) seeded, drawn and sampled exactly as CPython does.
 *
 * @example
 * ```ts
 * import { PyRandom } from "@dspex/optimizers"
 *
 * // Python: random.Random(0).sample(trainset, 4) picks the 7th, 12th, 1st and 5th of 12 examples
 * const rng = new PyRandom.PyRandom(0)
 * const trainset = Array.from({ length: 12 }, (_, i) => ({ i: i + 1 }))
 * const demos = rng.sample(trainset, 4) // [{ i: 7 }, { i: 12 }, { i: 1 }, { i: 5 }]
 * ```
 */
export class PyRandom {
  private readonly mt = new Uint32Array(N)
  private index = N

  /**
   * Seeds as `random.Random(seed)`; without a seed, from 624 words of OS entropy as CPython does.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const fromInt = new PyRandom.PyRandom(42) // random.Random(42); -42 and 42n seed the same
   * const fromText = new PyRandom.PyRandom("dspy") // random.Random("dspy")
   * const fresh = new PyRandom.PyRandom() // random.Random()
   * ```
   */
  constructor(seed?: Seed) {
    this.seed(seed)
  }

  /**
   * Reseeds in place, as `rng.seed(seed)`.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const rng = PyRandom.make(1)
   * const first = rng.random()
   * rng.seed(1)
   * rng.random() === first // true
   * ```
   */
  seed(seed?: Seed): void {
    if (seed === undefined) {
      this.initByArray(randomFillSync(new Uint32Array(N)))
    } else {
      this.initByArray(seedKey(seed))
    }
  }

  /**
   * The state, as JSON-ready data in Python's `getstate()` shape, to checkpoint a run and resume it later.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const rng = PyRandom.make(42)
   * const saved = JSON.stringify(rng.getstate())
   * const before = rng.random()
   * rng.setstate(JSON.parse(saved))
   * rng.random() === before // true
   * ```
   */
  getstate(): State {
    const words = Array.from(this.mt)
    words.push(this.index)
    return [3, words, null]
  }

  /**
   * Restores a state from `getstate()` (here or in Python). The state is checked in full before any of it
   * is used, so a rejected state leaves the generator as it was.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const a = PyRandom.make(7)
   * const b = PyRandom.make(99)
   * b.setstate(a.getstate())
   * a.randint(1, 100) === b.randint(1, 100) // true
   * ```
   */
  setstate(state: State): void {
    if (!Array.isArray(state) || state.length !== 3) {
      return fail("setstate", "state must be [version, internalstate, gauss_next]")
    }
    const [version, internal, gaussNext] = state as ReadonlyArray<unknown>
    if (version !== 3) {
      return fail("setstate", `state with version ${String(version)} passed to Random.setstate() of version 3`)
    }
    if (gaussNext !== null) {
      return fail("setstate", "gauss_next is not supported: PyRandom does not port gauss()")
    }
    if (!Array.isArray(internal) || internal.length !== N + 1) {
      return fail("setstate", "state vector is the wrong size")
    }
    for (let i = 0; i < N; i++) {
      const word: unknown = internal[i]
      if (typeof word !== "number" || !Number.isInteger(word) || word < 0 || word >= TWO_32) {
        return fail("setstate", `state word ${i} is not an unsigned 32-bit integer`)
      }
    }
    const index: unknown = internal[N]
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > N) {
      return fail("setstate", "invalid state")
    }
    for (let i = 0; i < N; i++) this.mt[i] = internal[i] as number
    this.index = index
  }

  /**
   * A float in [0, 1) with 53 random bits, from two 32-bit outputs as CPython's `random()`.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * PyRandom.make(0).random() // 0.8444218515250481, as random.Random(0).random()
   * ```
   */
  random(): number {
    const a = this.next32() >>> 5
    const b = this.next32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  /**
   * A non-negative integer of `k` random bits, as `getrandbits(k)`: one 32-bit output per word, least
   * significant word first, the last one cut to the bits left.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const rng = PyRandom.make(0)
   * const bits: bigint = rng.getrandbits(100) // 0 <= bits < 2n ** 100n
   * ```
   */
  getrandbits(k: number): bigint {
    if (!Number.isSafeInteger(k)) return fail("getrandbits", "number of bits must be an integer")
    if (k < 0) return fail("getrandbits", "number of bits must be non-negative")
    if (k === 0) return 0n
    if (k <= 32) return BigInt(this.next32() >>> (32 - k))
    let result = 0n
    for (let word = 0, left = k; left > 0; word++, left -= 32) {
      const r = left < 32 ? this.next32() >>> (32 - left) : this.next32()
      result |= BigInt(r) << BigInt(32 * word)
    }
    return result
  }

  /**
   * An integer in [0, n), as Python's `_randbelow` (`_randbelow_with_getrandbits`): draw `n.bit_length()`
   * bits until the value is below `n`. It is what `choice`, `shuffle` and `sample` draw with; a bound of 1
   * still consumes a draw, as in Python.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const rng = PyRandom.make(0)
   * const small: number = rng.randbelow(10)
   * const huge: bigint = rng.randbelow(10n ** 30n)
   * ```
   */
  randbelow(n: number): number
  randbelow(n: bigint): bigint
  randbelow(n: number | bigint): number | bigint {
    if (typeof n === "bigint") {
      if (n <= 0n) return fail("randbelow", `randbelow() requires a positive bound, got ${n}`)
      return n <= BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(this.below(Number(n))) : this.belowBig(n)
    }
    if (!Number.isSafeInteger(n) || n <= 0) {
      return fail("randbelow", `randbelow() requires a positive safe integer bound (a bigint beyond 2**53), got ${n}`)
    }
    return this.below(n)
  }

  /**
   * An integer from `range(start, stop, step)` (or `range(stop)`), as `randrange`. Numbers give numbers and
   * bigints give bigints; number arguments must be safe integers.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const rng = PyRandom.make(0)
   * const digit = rng.randrange(10) // 0..9
   * const multipleOfThree = rng.randrange(0, 10, 3) // 0, 3, 6 or 9
   * const big = rng.randrange(0n, 10n ** 30n) // a bigint
   * ```
   */
  randrange(stop: number): number
  randrange(start: number, stop: number, step?: number): number
  randrange(stop: bigint): bigint
  randrange(start: bigint, stop: bigint, step?: bigint): bigint
  randrange(start: number | bigint, stop?: number | bigint, step?: number | bigint): number | bigint {
    if (typeof start === "bigint" || typeof stop === "bigint" || typeof step === "bigint") {
      return this.rangeBig(
        toBig(start, "arg 1"),
        stop === undefined ? undefined : toBig(stop, "stop"),
        step === undefined ? 1n : toBig(step, "step")
      )
    }
    checkRangeArg(start, "arg 1")
    if (stop !== undefined) checkRangeArg(stop, "stop")
    if (step !== undefined) checkRangeArg(step, "step")
    return this.rangeNumber(start, stop, step ?? 1)
  }

  /**
   * An integer in [a, b], both ends included, as `randint(a, b)` (which is `randrange(a, b + 1)`).
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * // DSPy's BootstrapFewShotWithRandomSearch: size = random.Random(seed).randint(min_num_samples, max_num_samples)
   * const size = PyRandom.make(3).randint(1, 4)
   * ```
   */
  randint(a: number, b: number): number
  randint(a: bigint, b: bigint): bigint
  randint(a: number | bigint, b: number | bigint): number | bigint {
    if (typeof a === "bigint" || typeof b === "bigint") {
      return this.rangeBig(toBig(a, "arg 1"), toBig(b, "stop") + 1n, 1n)
    }
    checkRangeArg(a, "arg 1")
    checkRangeArg(b, "stop")
    return this.rangeNumber(a, b + 1, 1)
  }

  /**
   * One element of a non-empty sequence, as `choice(seq)`. A string is indexed by UTF-16 code unit, not by
   * code point as Python's str is.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const tip = PyRandom.make(0).choice(["none", "creative", "simple", "description"])
   * ```
   */
  choice<A>(seq: ArrayLike<A>): A {
    if (!isSequence(seq)) return fail("choice", "choice() takes a sequence (an array-like with a length)")
    if (seq.length === 0) return fail("choice", "Cannot choose from an empty sequence")
    return seq[this.below(seq.length)]
  }

  /**
   * Shuffles in place, as `shuffle(x)`: from the last position down to the second, swap with a position
   * drawn at or below it. Returns nothing, as Python's returns None.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const demos = [0, 1, 2, 3, 4, 5, 6, 7]
   * PyRandom.make(0).shuffle(demos) // demos is now [4, 1, 5, 2, 0, 3, 7, 6]
   * ```
   */
  shuffle<A>(x: MutableArrayLike<A>): void {
    if (!isSequence(x)) return fail("shuffle", "shuffle() takes a sequence (an array-like with a length)")
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.below(i + 1)
      const held = x[i]
      x[i] = x[j]
      x[j] = held
    }
  }

  /**
   * `k` distinct positions of a sequence, in selection order, as `sample(population, k)`. Python picks one
   * of two algorithms by comparing the population with an estimate of a set's size, and the two draw
   * differently, so the same rule is kept: a pool copy for small populations, a set of taken indices for
   * large ones. Like Python, it takes sequences only: sort a Set into an array first.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * // DSPy's LabeledFewShot: random.Random(0).sample(trainset, min(k, len(trainset)))
   * const trainset = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]
   * const demos = PyRandom.make(0).sample(trainset, 4) // ["g", "l", "a", "e"]
   * ```
   */
  sample<A>(population: ArrayLike<A>, k: number): Array<A> {
    if (!isSequence(population)) {
      return fail("sample", "Population must be a sequence.  For dicts or sets, use sorted(d).")
    }
    const n = population.length
    if (!Number.isInteger(k)) return fail("sample", "k must be an integer")
    if (k < 0 || k > n) return fail("sample", "Sample larger than population or is negative")
    const result = new Array<A>(k)
    let setsize = 21
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4))
    if (n <= setsize) {
      const pool = new Array<A>(n)
      for (let i = 0; i < n; i++) pool[i] = population[i]
      for (let i = 0; i < k; i++) {
        const j = this.below(n - i)
        result[i] = pool[j]
        pool[j] = pool[n - i - 1]
      }
    } else {
      const selected = new Set<number>()
      for (let i = 0; i < k; i++) {
        let j = this.below(n)
        while (selected.has(j)) j = this.below(n)
        selected.add(j)
        result[i] = population[j]
      }
    }
    return result
  }

  /**
   * A float between `a` and `b`, as `uniform(a, b)`: `a + (b - a) * random()`.
   *
   * @example
   * ```ts
   * import { PyRandom } from "@dspex/optimizers"
   *
   * const temperature = PyRandom.make(0).uniform(0.5, 1.5)
   * ```
   */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random()
  }

  /** genrand_uint32: the next tempered output. */
  private next32(): number {
    if (this.index >= N) this.twist()
    let y = this.mt[this.index++]
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }

  private twist(): void {
    const mt = this.mt
    let kk = 0
    for (; kk < N - M; kk++) {
      const y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK)
      mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    }
    for (; kk < N - 1; kk++) {
      const y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK)
      mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    }
    const y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK)
    mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    this.index = 0
  }

  private initGenrand(s: number): void {
    const mt = this.mt
    mt[0] = s
    // Math.imul keeps the low 32 bits of the product, as C's uint32_t arithmetic; the Uint32Array store wraps the sum.
    for (let i = 1; i < N; i++) mt[i] = Math.imul(1812433253, mt[i - 1] ^ (mt[i - 1] >>> 30)) + i
    this.index = N
  }

  private initByArray(key: ArrayLike<number>): void {
    const mt = this.mt
    this.initGenrand(19650218)
    let i = 1
    let j = 0
    for (let k = Math.max(N, key.length); k > 0; k--) {
      mt[i] = (mt[i] ^ Math.imul(mt[i - 1] ^ (mt[i - 1] >>> 30), 1664525)) + key[j] + j
      i++
      j++
      if (i >= N) {
        mt[0] = mt[N - 1]
        i = 1
      }
      if (j >= key.length) j = 0
    }
    for (let k = N - 1; k > 0; k--) {
      mt[i] = (mt[i] ^ Math.imul(mt[i - 1] ^ (mt[i - 1] >>> 30), 1566083941)) - i
      i++
      if (i >= N) {
        mt[0] = mt[N - 1]
        i = 1
      }
    }
    mt[0] = 0x80000000
  }

  /** `_randbelow` for 0 < n <= 2**53 - 1 without a bigint: one word up to 32 bits, two words up to 53. */
  private below(n: number): number {
    if (n < TWO_32) {
      const shift = Math.clz32(n)
      let r = this.next32() >>> shift
      while (r >= n) r = this.next32() >>> shift
      return r
    }
    // getrandbits(k) for 32 < k <= 53: the low word first, then the high word cut to k - 32 bits.
    const shift = Math.clz32(Math.floor(n / TWO_32))
    let r: number
    do {
      const low = this.next32()
      r = (this.next32() >>> shift) * TWO_32 + low
    } while (r >= n)
    return r
  }

  private belowBig(n: bigint): bigint {
    const k = bitLength(n)
    let r = this.getrandbits(k)
    while (r >= n) r = this.getrandbits(k)
    return r
  }

  /** `randrange` on integer-valued numbers; past 2**51 the arithmetic moves to bigint so no step rounds. */
  private rangeNumber(start: number, stop: number | undefined, step: number): number {
    if (
      Math.abs(start) > NUMBER_RANGE_LIMIT || (stop !== undefined && Math.abs(stop) > NUMBER_RANGE_LIMIT) ||
      Math.abs(step) > NUMBER_RANGE_LIMIT
    ) {
      return Number(this.rangeBig(BigInt(start), stop === undefined ? undefined : BigInt(stop), BigInt(step)))
    }
    if (stop === undefined) {
      if (start > 0) return this.below(start)
      return fail("randrange", "empty range for randrange()")
    }
    const width = stop - start
    if (step === 1) {
      if (width > 0) return start + this.below(width)
      return fail("randrange", `empty range for randrange() (${start}, ${stop}, ${width})`)
    }
    let n: number
    if (step > 0) n = floorDiv(width + step - 1, step)
    else if (step < 0) n = floorDiv(width + step + 1, step)
    else return fail("randrange", "zero step for randrange()")
    if (n <= 0) return fail("randrange", "empty range for randrange()")
    return start + step * this.below(n)
  }

  private rangeBig(start: bigint, stop: bigint | undefined, step: bigint): bigint {
    if (stop === undefined) {
      if (start > 0n) return this.randbelow(start)
      return fail("randrange", "empty range for randrange()")
    }
    const width = stop - start
    if (step === 1n) {
      if (width > 0n) return start + this.randbelow(width)
      return fail("randrange", `empty range for randrange() (${start}, ${stop}, ${width})`)
    }
    let n: bigint
    if (step > 0n) n = floorDivBig(width + step - 1n, step)
    else if (step < 0n) n = floorDivBig(width + step + 1n, step)
    else return fail("randrange", "zero step for randrange()")
    if (n <= 0n) return fail("randrange", "empty range for randrange()")
    return start + step * this.randbelow(n)
  }
}

const toBig = (x: number | bigint, what: "arg 1" | "stop" | "step"): bigint => {
  if (typeof x === "bigint") return x
  checkRangeArg(x, what)
  return BigInt(x)
}

/**
 * A generator seeded as `random.Random(seed)`.
 *
 * @example
 * ```ts
 * import { PyRandom } from "@dspex/optimizers"
 *
 * const rng = PyRandom.make(0)
 * const trainset = [1, 2, 3, 4, 5, 6, 7, 8]
 * rng.shuffle(trainset) // as random.Random(0).shuffle(trainset)
 * ```
 */
export const make = (seed?: Seed): PyRandom => new PyRandom(seed)
