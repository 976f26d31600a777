/**
 * A key → JSON table in one SQLite file (node:sqlite, WAL, so several processes on one machine share it):
 * the LM disk cache and the optimizers' checkpoints are both one. Synchronous by design: a lookup is a
 * single indexed read, far cheaper than the LM call or evaluation it saves.
 *
 * node:sqlite is loaded on first use, never at import, so a Node without it fails with
 * `SqliteUnavailable` only where a store is opened.
 */
import { Schema } from "effect"
import { mkdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import type * as Sqlite from "node:sqlite"

/** This Node has no node:sqlite (Node 22.13 / 23.4 and later have it without a flag). */
export class SqliteUnavailable extends Schema.TaggedError<SqliteUnavailable>()("SqliteUnavailable", {
  nodeVersion: Schema.String,
  detail: Schema.String
}) {
  readonly retryable = false
  override get message(): string {
    return `node:sqlite is not available on Node ${this.nodeVersion} (${this.detail}); Node 22.13 or later has it without a flag`
  }
  get suggestion(): string {
    return "Run on Node 22.19+ or 24 (the versions DSPex supports)."
  }
}

/** True for the ExperimentalWarning Node emits when node:sqlite is loaded, and nothing else. */
const isSqliteWarning = (warning: unknown, rest: ReadonlyArray<unknown>): boolean => {
  const text = typeof warning === "string" ? warning : warning instanceof Error ? warning.message : ""
  const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type ??
    (warning instanceof Error ? warning.name : undefined)
  return type === "ExperimentalWarning" && /\bSQLite\b/.test(text)
}

// Loading node:sqlite makes Node print "ExperimentalWarning: SQLite is an experimental feature" on every
// run that uses a store; that one warning is dropped while the module loads (once per process), every
// other warning goes through untouched.
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
    throw new SqliteUnavailable({ nodeVersion: process.version, detail: e instanceof Error ? e.message : String(e) })
  } finally {
    process.emitWarning = emitWarning
  }
  return sqlite
}

export interface SqliteStore {
  readonly file: string
  readonly get: (key: string) => string | undefined
  readonly set: (key: string, json: string) => void
  /** Number of keys that start with `prefix`. */
  readonly count: (prefix: string) => number
  readonly close: () => void
}

/**
 * Opens (creating it and its directory when absent) the table `table` of the database `file`. Throws
 * `SqliteUnavailable` when this Node has no node:sqlite, and Node's own error when the path is unusable.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "@dspex/core"
 *
 * const store = SqliteStore.open("/tmp/dspex-example.sqlite", "notes")
 * store.set("greeting", JSON.stringify({ text: "hello" }))
 * store.get("greeting") // '{"text":"hello"}'
 * store.close()
 * ```
 */
export const open = (file: string, table: string): SqliteStore => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`)
  const { DatabaseSync } = loadSqlite()
  mkdirSync(dirname(file), { recursive: true })
  const db = new DatabaseSync(file, { timeout: 10_000 })
  let select: Sqlite.StatementSync
  let upsert: Sqlite.StatementSync
  let counter: Sqlite.StatementSync
  try {
    db.exec("PRAGMA journal_mode = WAL")
    db.exec("PRAGMA synchronous = NORMAL")
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID`
    )
    select = db.prepare(`SELECT value FROM ${table} WHERE key = ?`)
    upsert = db.prepare(`INSERT OR REPLACE INTO ${table} (key, value, created_at) VALUES (?, ?, ?)`)
    // A range on the primary key rather than LIKE, whose wildcards a key may contain.
    counter = db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE key >= ? AND key < ?`)
  } catch (e) {
    db.close()
    throw e
  }
  let isOpen = true
  return {
    file,
    get: (key) => {
      const row = select.get(key) as { value?: unknown } | undefined
      return typeof row?.value === "string" ? row.value : undefined
    },
    set: (key, json) => {
      upsert.run(key, json, Date.now())
    },
    count: (prefix) => {
      const row = counter.get(prefix, `${prefix}\uffff`) as { n?: unknown } | undefined
      return typeof row?.n === "number" ? row.n : Number(row?.n ?? 0)
    },
    close: () => {
      if (isOpen) {
        isOpen = false
        db.close()
      }
    }
  }
}
