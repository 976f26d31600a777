/**
 * The on-disk LM cache: one SQLite table key → JSON in `<dir>/dspex-cache.sqlite` (node:sqlite, WAL, so
 * several worker processes on one machine share it). Synchronous by design: a lookup is a single indexed
 * read, far cheaper than the provider call it saves.
 */
import { mkdirSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import type * as Sqlite from "node:sqlite"

// Loaded on first use: importing node:sqlite prints an ExperimentalWarning, which programs that never
// touch the disk cache should not see.
let sqlite: typeof Sqlite | undefined
const loadSqlite = (): typeof Sqlite => (sqlite ??= createRequire(import.meta.url)("node:sqlite") as typeof Sqlite)

export const diskCacheFile = "dspex-cache.sqlite"

export interface DiskStore {
  readonly get: (key: string) => string | undefined
  readonly set: (key: string, json: string) => void
  readonly close: () => void
}

/** Opens (creating when absent) the cache database under `directory`; throws when the path is unusable. */
export const openDiskStore = (directory: string): DiskStore => {
  mkdirSync(directory, { recursive: true })
  const db = new (loadSqlite().DatabaseSync)(join(directory, diskCacheFile), { timeout: 10_000 })
  let select: Sqlite.StatementSync
  let upsert: Sqlite.StatementSync
  try {
    db.exec("PRAGMA journal_mode = WAL")
    db.exec("PRAGMA synchronous = NORMAL")
    db.exec("CREATE TABLE IF NOT EXISTS lm_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID")
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
