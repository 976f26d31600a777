import { afterEach, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, Option } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import * as Cache from "../src/Cache.ts"
import type { LMResponse } from "../src/LanguageModel.ts"

const response = (text: string): LMResponse => ({
  outputs: [{ text, finishReason: "stop" }],
  usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
  cost: 0.001,
  model: "openai/gpt-4o-mini",
  cacheHit: false
})

const dirs: Array<string> = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "dspex-cache-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const get = (key: string) => Cache.Cache.use((c) => c.get(key))
const set = (key: string, value: LMResponse) => Cache.Cache.use((c) => c.set(key, value))

describe("Cache.layerMemory", () => {
  it.effect("stores and returns entries; unknown keys miss", () =>
    Effect.gen(function*() {
      yield* set("k", response("a"))
      expect(Option.getOrUndefined(yield* get("k"))?.outputs[0]?.text).toBe("a")
      expect(Option.isNone(yield* get("other"))).toBe(true)
    }).pipe(Effect.provide(Cache.layerMemory())))

  it.effect("evicts the least recently used entry beyond maxEntries", () =>
    Effect.gen(function*() {
      yield* set("a", response("a"))
      yield* set("b", response("b"))
      yield* get("a") // a is now the most recently used
      yield* set("c", response("c"))
      expect(Option.isSome(yield* get("a"))).toBe(true)
      expect(Option.isNone(yield* get("b"))).toBe(true)
      expect(Option.isSome(yield* get("c"))).toBe(true)
    }).pipe(Effect.provide(Cache.layerMemory({ maxEntries: 2 }))))

  it.effect("keeps an immutable copy: neither the writer nor readers can change it", () =>
    Effect.gen(function*() {
      const original = response("a")
      yield* set("k", original)
      ;(original.outputs as Array<{ text: string }>)[0]!.text = "mutated by writer"
      const read = Option.getOrThrow(yield* get("k"))
      expect(read.outputs[0]?.text).toBe("a")
      expect(() => ((read.outputs[0] as { text: string }).text = "mutated by reader")).toThrow(TypeError)
      expect(() => ((read.usage as { totalTokens: number }).totalTokens = 0)).toThrow(TypeError)
    }).pipe(Effect.provide(Cache.layerMemory())))
})

describe("Cache.layerNone", () => {
  it.effect("never holds anything", () =>
    Effect.gen(function*() {
      yield* set("k", response("a"))
      expect(Option.isNone(yield* get("k"))).toBe(true)
    }).pipe(Effect.provide(Cache.layerNone)))
})

describe("Cache.layerDisk", () => {
  it.effect("persists across layer instances on the same directory, in a WAL-mode SQLite file", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      yield* set("k", response("persisted")).pipe(Effect.provide(Cache.layerDisk({ path: dir })))
      const read = yield* get("k").pipe(Effect.provide(Cache.layerDisk({ path: dir })))
      expect(Option.getOrUndefined(read)).toEqual(response("persisted"))
      const db = new DatabaseSync(join(dir, "dspex-cache.sqlite"))
      try {
        expect((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal")
        expect((db.prepare("SELECT count(*) AS n FROM lm_cache").get() as { n: number }).n).toBe(1)
      } finally {
        db.close()
      }
    })
  })

  it.effect("creates nothing until first used", () => {
    const dir = join(tempDir(), "lazy")
    return Effect.gen(function*() {
      yield* Effect.void.pipe(Effect.provide(Cache.layerDisk({ path: dir })))
      expect(existsSync(dir)).toBe(false)
      yield* get("k").pipe(Effect.provide(Cache.layerDisk({ path: dir })))
      expect(existsSync(join(dir, "dspex-cache.sqlite"))).toBe(true)
    })
  })

  it.effect("an unusable path falls back to memory with a logged warning", () => {
    const file = join(tempDir(), "not-a-dir")
    writeFileSync(file, "x")
    const warnings: Array<string> = []
    const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push(String(message))
    })
    return Effect.gen(function*() {
      yield* set("k", response("kept in memory"))
      expect(Option.getOrUndefined(yield* get("k"))?.outputs[0]?.text).toBe("kept in memory")
      expect(warnings.length).toBe(1)
      expect(warnings[0]).toContain("not-a-dir")
    }).pipe(Effect.provide(Layer.merge(Cache.layerDisk({ path: file }), Logger.layer([logger]))))
  })
})

describe("Cache.layerTiered", () => {
  it.effect("answers from disk after a restart (a new memory tier)", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      yield* set("k", response("v")).pipe(Effect.provide(Cache.layerTiered({}, { path: dir })))
      const read = yield* get("k").pipe(Effect.provide(Cache.layerTiered({}, { path: dir })))
      expect(Option.getOrUndefined(read)?.outputs[0]?.text).toBe("v")
    })
  })

  it.effect("promotes a back-tier hit into the front and writes through to both", () => {
    const back = Cache.makeMemory()
    let backGets = 0
    let backSets = 0
    const counted: Cache.CacheShape = {
      get: (key) => Effect.tap(back.get(key), () => Effect.sync(() => backGets++)),
      set: (key, value) => Effect.tap(back.set(key, value), () => Effect.sync(() => backSets++))
    }
    const front = Cache.makeMemory()
    const store = Cache.tiered(front, counted)
    return Effect.gen(function*() {
      yield* back.set("k", response("from back"))
      expect(Option.isSome(yield* store.get("k"))).toBe(true)
      expect(Option.isSome(yield* front.get("k"))).toBe(true)
      yield* store.get("k")
      expect(backGets).toBe(1)
      yield* store.set("n", response("new"))
      expect(Option.isSome(yield* front.get("n"))).toBe(true)
      expect(backSets).toBe(1)
      expect(Option.isNone(yield* store.get("missing"))).toBe(true)
      expect(backGets).toBe(2)
    })
  })
})

describe("Cache.layerConfig", () => {
  const withEnv = (env: Record<string, string>) =>
    Cache.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))

  it.effect("DSPEX_CACHE=off disables caching", () =>
    Effect.gen(function*() {
      yield* set("k", response("a"))
      expect(Option.isNone(yield* get("k"))).toBe(true)
    }).pipe(Effect.provide(withEnv({ DSPEX_CACHE: "off" }))))

  it.effect("DSPEX_CACHE_DIR places the persistent tier", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      yield* set("k", response("a")).pipe(Effect.provide(withEnv({ DSPEX_CACHE_DIR: dir })))
      expect(existsSync(join(dir, "dspex-cache.sqlite"))).toBe(true)
      const read = yield* get("k").pipe(Effect.provide(withEnv({ DSPEX_CACHE_DIR: dir })))
      expect(Option.isSome(read)).toBe(true)
    })
  })

  it.effect("an invalid DSPEX_CACHE or DSPEX_CACHE_MEMORY_ENTRIES is an LMConfigurationError naming it", () =>
    Effect.gen(function*() {
      const mode = yield* Effect.flip(Layer.build(withEnv({ DSPEX_CACHE: "disk" })))
      expect(mode).toMatchObject({ _tag: "LMConfigurationError", variable: "DSPEX_CACHE" })
      expect(mode.message).toContain("expected one of on, off, memory")
      const entries = yield* Effect.flip(Layer.build(withEnv({ DSPEX_CACHE_MEMORY_ENTRIES: "lots" })))
      expect(entries).toMatchObject({ _tag: "LMConfigurationError", variable: "DSPEX_CACHE_MEMORY_ENTRIES" })
    }).pipe(Effect.scoped))

  it.effect("DSPEX_CACHE=memory keeps entries in memory only", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      yield* set("k", response("a"))
      expect(Option.isSome(yield* get("k"))).toBe(true)
      expect(existsSync(join(dir, "dspex-cache.sqlite"))).toBe(false)
    }).pipe(Effect.provide(withEnv({ DSPEX_CACHE: "memory", DSPEX_CACHE_DIR: dir })))
  })
})

describe("node:sqlite", () => {
  const script = fileURLToPath(new URL("./scripts/diskCache.ts", import.meta.url))
  const run = (args: ReadonlyArray<string>) => {
    const r = spawnSync(process.execPath, [...args, "--conditions=@dspex/source", script, tempDir()], {
      encoding: "utf8",
      timeout: 30_000
    })
    return { ...r, lines: r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) }
  }

  it("its ExperimentalWarning is not printed; other warnings are", () => {
    const r = run([])
    expect(r.lines).toEqual([{ step: "imported" }, { step: "used", hit: true }, { step: "used", hit: true }])
    expect(r.stderr).not.toContain("SQLite")
    expect(r.stderr).toContain("ExperimentalWarning: Another feature is experimental")
  })

  it("without it, importing works and the first use of the disk cache fails with an LMConfigurationError naming the requirement", () => {
    const r = run(["--import", fileURLToPath(new URL("./scripts/noSqlite.mjs", import.meta.url))])
    expect(r.lines[0]).toEqual({ step: "imported" })
    expect(r.lines[1]).toMatchObject({ step: "failed", _tag: "LMConfigurationError", variable: "DSPEX_CACHE" })
    expect(r.lines[1]!.message).toContain("the disk cache needs node:sqlite")
    expect(r.lines[1]!.message).toContain("Node 22.13 or later")
    expect(r.lines[1]!.suggestion).toContain("DSPEX_CACHE=memory")
  })
})
