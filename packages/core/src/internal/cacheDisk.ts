/**
 * The on-disk LM cache: one SQLite table key → JSON in `<dir>/dspex-cache.sqlite` (node:sqlite, WAL, so
 * several worker processes on one machine share it). Synchronous by design: a lookup is a single indexed
 * read, far cheaper than the provider call it saves.
 */
import { mkdirSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import type * as Sqlite from "node:sqlite"
import { LMConfigurationError } from "../LMError.ts"

/** True for the ExperimentalWarning Node emits when node:sqlite is loaded, and nothing else. */
const isSqliteWarning = (warning: unknown, rest: ReadonlyArray<unknown>): boolean => {
  const text = typeof warning === "string" ? warning : warning instanceof Error ? warning.message : ""
  const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type ??
    (warning instanceof Error ? warning.name : undefined)
  return type === "ExperimentalWarning" && /\bSQLite\b/.test(text)
}

/**
 * The cache database needs node:sqlite: Node 22.13 / 23.4 and later have it without a flag. Named as a
 * configuration error, raised when the disk cache is first used (never at import), so the fix is plain.
 */
const unavailable = (cause: unknown): LMConfigurationError =>
  new LMConfigurationError({
    variable: "DSPEX_CACHE",
    detail: `the disk cache needs node:sqlite, which Node ${process.version} does not provide (${
      cause instanceof Error ? cause.message : String(cause)
    }); Node 22.13 or later has it without a flag`,
    fix:
      "Run on Node 22.19+ or 24 (the versions DSPex supports), or keep the cache in memory: DSPEX_CACHE=memory or Cache.layerMemory()"
  })

// Loaded on first use, never at import. Loading it makes Node print "ExperimentalWarning: SQLite is an
// experimental feature" on every run that caches; that one warning is dropped while the module loads
// (once per process), every other warning goes through untouched.
let sqlite: typeof Sqlite | undefined
const loadSqlite = (): typeof Sqlite => {
  if (sqlite !== undefined) return sqlite
  const emitWarning = process.emitWarning
  process.emitWarning = function(this: unknown, warning: unknown, ...rest: Array<unknown>) {
    if (isSqliteWarning(warning, rest)) return
    return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
  try {
    sqlite = createRequire(import.meta.url)("node:sqlite") as typeof Sqlite
  } catch (e) {
    throw unavailable(e)
  } finally {
    process.emitWarning = emitWarning
  }
  return sqlite
}

export const diskCacheFile = "dspex-cache.sqlite"

export interface DiskStore {
  readonly get: (key: string) => string | undefined
  readonly set: (key: string, json: string) => void
  readonly close: () => void
}

/**
 * Opens (creating when absent) the cache database under `directory`; throws when the path is unusable, and
 * throws an LMConfigurationError when this Node has no node:sqlite.
 */
export const openDiskStore = (directory: string): DiskStore => {
  const { DatabaseSync } = loadSqlite()
  mkdirSync(directory, { recursive: true })
  const db = new DatabaseSync(join(directory, diskCacheFile), { timeout: 10_000 })
  let select: Sqlite.StatementSync
  let upsert: Sqlite.StatementSync
  try {
    db.exec("PRAGMA journal_mode = WAL")
    db.exec("PRAGMA synchronous = NORMAL")
    db.exec(
      "CREATE TABLE IF NOT EXISTS lm_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID"
    )
    select = db.prepare("SELECT value FROM lm_cache WHERE key = ?")
    upsert = db.prepare("INSERT OR REPLACE INTO lm_cache (key, value, created_at) VALUES (?, ?, ?)")
  } catch (e) {
    db.close()
    throw e
  }
  let open = true
  return {
    get: (key) => {
      const row = select.get(key) as { value?: unknown } | undefined
      return typeof row?.value === "string" ? row.value : undefined
    },
    set: (key, json) => {
      upsert.run(key, json, Date.now())
    },
    close: () => {
      if (open) {
        open = false
        db.close()
      }
    }
  }
}
