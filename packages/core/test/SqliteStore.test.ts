import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as SqliteStore from "../src/SqliteStore.ts"

const file = () => join(mkdtempSync(join(tmpdir(), "dspex-sqlite-")), "nested", "store.sqlite")

describe("SqliteStore", () => {
  it("stores JSON by key across openings, in tables of their own, and counts keys by prefix", () => {
    const path = file()
    const a = SqliteStore.open(path, "a")
    a.set("run1/x", "1")
    a.set("run1/y", "2")
    a.set("run1/y", "3")
    a.set("run10/z", "4")
    a.set("run2/x", "5")
    expect(a.get("run1/y")).toBe("3")
    expect(a.get("missing")).toBeUndefined()
    expect(a.count("run1/")).toBe(2)
    expect(a.count("run1")).toBe(3)
    a.close()
    a.close()
    const again = SqliteStore.open(path, "a")
    expect(again.get("run2/x")).toBe("5")
    const b = SqliteStore.open(path, "b")
    expect(b.get("run2/x")).toBeUndefined()
    again.close()
    b.close()
  })

  it("refuses a table name that is not an identifier", () => {
    expect(() => SqliteStore.open(file(), "x; DROP TABLE y")).toThrow(/invalid table name/)
  })
})
