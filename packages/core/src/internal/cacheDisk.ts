/**
 * The on-disk LM cache: one SQLite table key → JSON in `<dir>/dspex-cache.sqlite` (node:sqlite, WAL, so
 * several worker processes on one machine share it). Synchronous by design: a lookup is a single indexed
 * read, far cheaper than the provider call it saves.
 */
import { join } from "node:path"
import { LMConfigurationError } from "../LMError.ts"
import * as SqliteStore from "../SqliteStore.ts"

/**
 * The cache database needs node:sqlite: Node 22.13 / 23.4 and later have it without a flag. Named as a
 * configuration error, raised when the disk cache is first used (never at import), so the fix is plain.
 */
const unavailable = (cause: SqliteStore.SqliteUnavailable): LMConfigurationError =>
  new LMConfigurationError({
    variable: "DSPEX_CACHE",
    detail:
      `the disk cache needs node:sqlite, which Node ${cause.nodeVersion} does not provide (${cause.detail}); Node 22.13 or later has it without a flag`,
    fix:
      "Run on Node 22.19+ or 24 (the versions DSPex supports), or keep the cache in memory: DSPEX_CACHE=memory or Cache.layerMemory()"
  })

export const diskCacheFile = "dspex-cache.sqlite"

export type DiskStore = SqliteStore.SqliteStore

/**
 * Opens (creating when absent) the cache database under `directory`; throws when the path is unusable, and
 * throws an LMConfigurationError when this Node has no node:sqlite.
 */
export const openDiskStore = (directory: string): DiskStore => {
  try {
    return SqliteStore.open(join(directory, diskCacheFile), "lm_cache")
  } catch (e) {
    throw e instanceof SqliteStore.SqliteUnavailable ? unavailable(e) : e
  }
}
