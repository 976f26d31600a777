import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as PyRandom from "../src/PyRandom.ts"

// Reference draws from CPython (see fixtures/pyrandom.py for how to regenerate them); CI has no python3.
type SeedSpec =
  | { readonly type: "int"; readonly value: string }
  | { readonly type: "str"; readonly value: string }
  | { readonly type: "bytes"; readonly hex: string }

type Drawn = number | string | ReadonlyArray<number>

interface Case {
  readonly seed: SeedSpec
  readonly random: ReadonlyArray<number>
  readonly wordsAcrossTwists: ReadonlyArray<number>
  readonly getrandbits: Readonly<Record<string, string>>
  readonly getrandbitsSequence: ReadonlyArray<string>
  readonly randint_1_4: ReadonlyArray<number>
  readonly randrange_0_10_3: ReadonlyArray<number>
  readonly randrange_10_0_m4: ReadonlyArray<number>
  readonly randrange_7: ReadonlyArray<number>
  readonly randrange_steps: ReadonlyArray<number>
  readonly shuffle_12: ReadonlyArray<number>
  readonly shuffle_50: ReadonlyArray<number>
  readonly choice_7: ReadonlyArray<number>
  readonly uniform: ReadonlyArray<number>
  readonly big: ReadonlyArray<string>
  readonly stream: ReadonlyArray<Drawn>
  readonly [sample: `sample_${number}_${number}`]: ReadonlyArray<number>
}

interface Fixture {
  readonly generatedWith: string
  readonly cases: ReadonlyArray<Case>
  readonly floatSeeds: ReadonlyArray<{ readonly seed: string; readonly random: ReadonlyArray<number> }>
  readonly states: ReadonlyArray<
    { readonly seed: SeedSpec; readonly state: PyRandom.State; readonly next: ReadonlyArray<number> }
  >
  readonly dspy: {
    readonly labeledFewShotSample: ReadonlyArray<number>
    readonly bootstrapShuffle8: ReadonlyArray<number>
  }
}

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/pyrandom.json", import.meta.url), "utf8")
) as Fixture

const BITS = [0, 1, 8, 31, 32, 33, 53, 64, 100]
const SAMPLES: ReadonlyArray<readonly [number, number]> = [
  [12, 4],
  [12, 12],
  [1000, 7],
  [30, 6],
  [21, 5],
  [22, 5],
  [10, 0],
  [1, 1]
]

const RANGE_STEPS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 9, 3],
  [9, 0, -3],
  [-5, 20, 5],
  [20, -5, -5],
  [3, 4, 7],
  [4, 3, -7],
  [-7, -1, 2]
]

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const hexBytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))

/** The seed as Python had it, in every JS form that must seed the same way. */
const seedForms = (spec: SeedSpec): Array<{ readonly label: string; readonly seed: PyRandom.Seed }> => {
  switch (spec.type) {
    case "int": {
      const big = BigInt(spec.value)
      const forms: Array<{ label: string; seed: PyRandom.Seed }> = [{ label: `${spec.value}n`, seed: big }]
      const asNumber = Number(big)
      if (Number.isSafeInteger(asNumber)) forms.push({ label: spec.value, seed: asNumber })
      return forms
    }
    case "str":
      return [{ label: JSON.stringify(spec.value), seed: spec.value }]
    case "bytes":
      return [{ label: `bytes ${spec.hex}`, seed: hexBytes(spec.hex) }]
  }
}

const floatOf = (text: string): number => Number(text)

/** The interleaved draws of fixtures/pyrandom.py's "stream", in the same order. */
const stream = (rng: PyRandom.PyRandom): Array<Drawn> => {
  const xs = range(5)
  const out: Array<Drawn> = [
    rng.random(),
    String(rng.getrandbits(100)),
    rng.randint(1, 6),
    rng.randrange(1000),
    rng.choice(range(5)),
    rng.choice(range(1)),
    rng.sample(range(40), 3),
    rng.sample(range(1), 1),
    String(rng.getrandbits(0)),
    String(rng.getrandbits(33)),
    rng.uniform(-1, 1)
  ]
  rng.shuffle(xs)
  out.push(xs, rng.random())
  return out
}

const caught = (f: () => unknown): PyRandom.PyRandomError => {
  try {
    f()
  } catch (error) {
    expect(error).toBeInstanceOf(PyRandom.PyRandomError)
    return error as PyRandom.PyRandomError
  }
  throw new Error("expected a PyRandomError, nothing was thrown")
}

describe("PyRandom against CPython", () => {
  it("has reference values from CPython 3.11+", () => {
    expect(fixture.generatedWith).toMatch(/^CPython 3\.(1[1-9]|[2-9]\d)\./)
    expect(fixture.cases).toHaveLength(14)
  })

  for (const c of fixture.cases) {
    for (const { label, seed } of seedForms(c.seed)) {
      describe(`seed ${label}`, () => {
        const fresh = () => new PyRandom.PyRandom(seed)

        it("random() ×20, exact doubles", () => {
          const rng = fresh()
          expect(range(20).map(() => rng.random())).toEqual(c.random)
        })

        it("32-bit outputs across the first two regenerations of the state", () => {
          const rng = fresh()
          const words = range(1260).map(() => Number(rng.getrandbits(32)))
          expect([...words.slice(615, 635), ...words.slice(1240, 1260)]).toEqual(c.wordsAcrossTwists)
        })

        it("getrandbits(k) from a fresh generator and in sequence", () => {
          for (const k of BITS) expect(fresh().getrandbits(k)).toBe(BigInt(c.getrandbits[String(k)]!))
          const rng = fresh()
          expect(BITS.map((k) => String(rng.getrandbits(k)))).toEqual(c.getrandbitsSequence)
        })

        it("randint(1, 4) ×20, randrange(0, 10, 3) ×10, randrange(10, 0, -4) ×10, randrange(7) ×10, stepped ranges", () => {
          let rng = fresh()
          expect(range(20).map(() => rng.randint(1, 4))).toEqual(c.randint_1_4)
          rng = fresh()
          expect(range(10).map(() => rng.randrange(0, 10, 3))).toEqual(c.randrange_0_10_3)
          rng = fresh()
          expect(range(10).map(() => rng.randrange(10, 0, -4))).toEqual(c.randrange_10_0_m4)
          rng = fresh()
          expect(range(10).map(() => rng.randrange(7))).toEqual(c.randrange_7)
          rng = fresh()
          expect(RANGE_STEPS.flatMap(([a, b, s]) => range(5).map(() => rng.randrange(a, b, s)))).toEqual(
            c.randrange_steps
          )
          rng = fresh()
          expect(
            RANGE_STEPS.flatMap(([a, b, s]) =>
              range(5).map(() => Number(rng.randrange(BigInt(a), BigInt(b), BigInt(s))))
            )
          )
            .toEqual(c.randrange_steps)
        })

        it("shuffle of range(12) and range(50)", () => {
          for (const n of [12, 50] as const) {
            const xs = range(n)
            expect(fresh().shuffle(xs)).toBeUndefined()
            expect(xs).toEqual(c[`shuffle_${n}`])
          }
        })

        it("sample: the pool path, the set path, the k > 5 set-size bump and its boundaries", () => {
          for (const [n, k] of SAMPLES) {
            const population = range(n)
            expect(fresh().sample(population, k), `sample(range(${n}), ${k})`).toEqual(c[`sample_${n}_${k}`])
            expect(population).toEqual(range(n))
          }
        })

        it("choice ×10 and uniform ×5", () => {
          let rng = fresh()
          const seq = range(7)
          expect(range(10).map(() => rng.choice(seq))).toEqual(c.choice_7)
          rng = fresh()
          expect(range(5).map(() => rng.uniform(-1.5, 7.25))).toEqual(c.uniform)
        })

        it("ranges past 2**32 and 2**53 (two-word draws and bigints)", () => {
          const rng = fresh()
          const got = [
            rng.randrange(2 ** 32),
            rng.randrange(2 ** 32 + 1),
            rng.randrange(2 ** 40),
            rng.randrange(2 ** 53 - 1),
            rng.randint(-(2 ** 53) + 1, 2 ** 53 - 1),
            rng.randint(0, 2 ** 53 - 1),
            rng.randrange(10n ** 30n),
            rng.randrange(-(10n ** 20n), 10n ** 20n, 7n)
          ]
          expect(got.map(String)).toEqual(c.big)
          expect(got.slice(0, 6).every((x) => typeof x === "number")).toBe(true)
          expect(got.slice(6).every((x) => typeof x === "bigint")).toBe(true)
        })

        it("one generator through every function", () => {
          expect(stream(fresh())).toEqual(c.stream)
        })

        it("randbelow and randrange on bigints draw as on numbers", () => {
          const a = fresh()
          const b = fresh()
          for (const n of [1, 2, 7, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 2 ** 53 - 1]) {
            expect(b.randbelow(BigInt(n))).toBe(BigInt(a.randbelow(n)))
            expect(b.randrange(-5n, BigInt(n), 3n)).toBe(BigInt(a.randrange(-5, n, 3)))
          }
        })

        it("state round trip: getstate, draw, setstate, the same draws again", () => {
          const rng = fresh()
          rng.random()
          const state = rng.getstate()
          const first = [rng.random(), rng.getrandbits(64), rng.sample(range(100), 5), rng.randint(1, 1000)]
          rng.setstate(JSON.parse(JSON.stringify(state)) as PyRandom.State)
          expect([rng.random(), rng.getrandbits(64), rng.sample(range(100), 5), rng.randint(1, 1000)]).toEqual(first)
          expect(rng.getstate()).not.toEqual(state)
        })
      })
    }
  }

  it("float seeds seed by Python's float hash", () => {
    expect(fixture.floatSeeds.length).toBeGreaterThan(0)
    for (const { random, seed } of fixture.floatSeeds) {
      const rng = PyRandom.make(floatOf(seed))
      expect(range(5).map(() => rng.random()), `seed ${seed}`).toEqual(random)
    }
  })

  it("an integer-valued number, its negation and its bigint seed alike (Python's abs of an int)", () => {
    for (const [a, b] of [[-3, 3n], [0, -0], [-(2 ** 40), 2n ** 40n], [1e20, 10n ** 20n]] as const) {
      expect(PyRandom.make(a).getstate()).toEqual(PyRandom.make(b).getstate())
    }
  })

  it("a string seeds as its UTF-8 bytes (version 2 seeding)", () => {
    expect(PyRandom.make("é dspy").getstate()).toEqual(PyRandom.make(new TextEncoder().encode("é dspy")).getstate())
    expect(PyRandom.make("dspy").getstate()).not.toEqual(PyRandom.make("dspz").getstate())
  })

  it("getstate matches Python's getstate() and setstate takes Python's state", () => {
    expect(fixture.states).toHaveLength(3)
    for (const { next, seed, state } of fixture.states) {
      const [{ seed: jsSeed }] = seedForms(seed)
      const rng = PyRandom.make(jsSeed)
      if (state[1][624] !== 624) { for (let i = 0; i < 3; i++) rng.random() }
      expect(rng.getstate()).toEqual(state)
      const other = PyRandom.make(12345)
      other.setstate(state)
      expect(range(5).map(() => other.random())).toEqual(next)
    }
  })

  it("reseeding in place starts the sequence over", () => {
    const rng = PyRandom.make(5)
    const first = range(3).map(() => rng.random())
    rng.seed(5)
    expect(range(3).map(() => rng.random())).toEqual(first)
  })

  it("without a seed, two generators differ (OS entropy)", () => {
    expect(new PyRandom.PyRandom().getrandbits(128)).not.toBe(new PyRandom.PyRandom().getrandbits(128))
  })
})

describe("DSPy's draws", () => {
  it("LabeledFewShot: random.Random(0).sample(trainset, 4) of 12 examples takes indices 6, 11, 0, 4", () => {
    const trainset = Array.from({ length: 12 }, (_, i) => ({ i: i + 1 }))
    const demos = PyRandom.make(0).sample(trainset, 4)
    expect(demos.map((d) => d.i)).toEqual([7, 12, 1, 5])
    expect(demos.map((d) => d.i)).toEqual(fixture.dspy.labeledFewShotSample)
    expect(demos[0]).toBe(trainset[6])
  })

  it("BootstrapFewShot: random.Random(0).shuffle of 8 demos", () => {
    const demos = range(8)
    PyRandom.make(0).shuffle(demos)
    expect(demos).toEqual([4, 1, 5, 2, 0, 3, 7, 6])
    expect(demos).toEqual(fixture.dspy.bootstrapShuffle8)
  })
})

describe("PyRandomError", () => {
  const rng = () => PyRandom.make(0)

  it("choice from an empty sequence", () => {
    const error = caught(() => rng().choice([]))
    expect(error._tag).toBe("PyRandomError")
    expect(error.operation).toBe("choice")
    expect(error.message).toBe("Cannot choose from an empty sequence")
    expect(error.retryable).toBe(false)
    expect(error.suggestion).toMatch(/non-empty/)
  })

  it("sample larger than the population or negative, a non-integer k, a Set", () => {
    for (const k of [13, -1]) {
      const error = caught(() => rng().sample(range(12), k))
      expect(error.operation).toBe("sample")
      expect(error.message).toBe("Sample larger than population or is negative")
    }
    expect(caught(() => rng().sample(range(12), 2.5)).operation).toBe("sample")
    const set = caught(() => rng().sample(new Set([1, 2, 3]) as unknown as ArrayLike<number>, 1))
    expect(set.message).toBe("Population must be a sequence.  For dicts or sets, use sorted(d).")
    expect(set.suggestion).toMatch(/Set/)
  })

  it("a failed call draws nothing", () => {
    const a = rng()
    caught(() => a.sample(range(3), 4))
    caught(() => a.choice([]))
    caught(() => a.randrange(5, 5))
    expect(a.random()).toBe(rng().random())
  })

  it("randrange and randint with an empty range, a zero step, non-integers, unsafe numbers", () => {
    const cases: ReadonlyArray<readonly [() => unknown, string]> = [
      [() => rng().randrange(0), "empty range for randrange()"],
      [() => rng().randrange(-4), "empty range for randrange()"],
      [() => rng().randrange(5, 5), "empty range for randrange() (5, 5, 0)"],
      [() => rng().randint(5, 3), "empty range for randrange() (5, 4, -1)"],
      [() => rng().randrange(0, 10, 0), "zero step for randrange()"],
      [() => rng().randrange(0, 10, -1), "empty range for randrange()"],
      [() => rng().randrange(10, 0, 2), "empty range for randrange()"],
      [() => rng().randrange(0n, 10n, 0n), "zero step for randrange()"],
      [() => rng().randrange(5n, 5n), "empty range for randrange() (5, 5, 0)"],
      [() => rng().randrange(0n), "empty range for randrange()"],
      [() => rng().randrange(2.5), "non-integer arg 1 for randrange()"],
      [() => rng().randrange(0, 2.5), "non-integer stop for randrange()"],
      [() => rng().randrange(0, 10, 1.5), "non-integer step for randrange()"],
      [() => rng().randrange(2 ** 60), "arg 1 for randrange() is beyond 2**53 as a number; pass a bigint"]
    ]
    for (const [f, message] of cases) {
      const error = caught(f)
      expect(error.operation).toBe("randrange")
      expect(error.message).toBe(message)
    }
  })

  it("choice and shuffle of something that is not a sequence (a Set)", () => {
    const set = new Set([1, 2, 3])
    expect(caught(() => rng().choice(set as unknown as ArrayLike<number>)).operation).toBe("choice")
    const error = caught(() => rng().shuffle(set as unknown as Array<number>))
    expect(error.operation).toBe("shuffle")
    expect(error.suggestion).toMatch(/Set/)
  })

  it("getrandbits with a negative or non-integer count", () => {
    const error = caught(() => rng().getrandbits(-1))
    expect(error.operation).toBe("getrandbits")
    expect(error.message).toBe("number of bits must be non-negative")
    expect(caught(() => rng().getrandbits(1.5)).operation).toBe("getrandbits")
  })

  it("randbelow with a bound that is not positive", () => {
    for (const f of [() => rng().randbelow(0), () => rng().randbelow(-1), () => rng().randbelow(0n)]) {
      expect(caught(f).operation).toBe("randbelow")
    }
  })

  it("seeds Python cannot reproduce: NaN, a lone surrogate", () => {
    expect(caught(() => PyRandom.make(NaN)).operation).toBe("seed")
    expect(caught(() => PyRandom.make("\uD800")).operation).toBe("seed")
  })

  it("setstate rejects a bad state and keeps the old one", () => {
    const a = rng()
    const good = a.getstate()
    const words = good[1]
    const bad: ReadonlyArray<unknown> = [
      [2, words, null],
      [3, words.slice(1), null],
      [3, [...words.slice(0, 624), 625], null],
      [3, [-1, ...words.slice(1)], null],
      [3, [2 ** 32, ...words.slice(1)], null],
      [3, words, 0.5],
      [3, words]
    ]
    for (const state of bad) expect(caught(() => a.setstate(state as PyRandom.State)).operation).toBe("setstate")
    expect(a.getstate()).toEqual(good)
    expect(a.random()).toBe(rng().random())
  })

  it("is a tagged Effect error", () => {
    const error = new PyRandom.PyRandomError({ operation: "seed", reason: "x" })
    expect(error._tag).toBe("PyRandomError")
    expect(error).toBeInstanceOf(Error)
  })
})
