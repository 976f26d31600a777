import { readdirSync, readFileSync } from "node:fs"
import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources (the "@dspex/source" export condition), so tests
// need no build and never run a stale dist/. Every project inherits this (extends: true).
const conditions = ["@dspex/source", "module", "node", "development|production"]

const dirs = ["packages", "apps"].flatMap((top) => readdirSync(top).map((d) => `${top}/${d}`)).concat("tests")
const projects = dirs.map((root) => ({
  extends: true as const,
  test: { name: (JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { name: string }).name, root }
}))

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@dspex/source"] } },
  test: {
    projects,
    reporters: ["default", "./tests/summaryReporter.ts"]
  }
})
