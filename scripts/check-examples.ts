/**
 * Type-checks every documentation example, as Effect's docgen does: each `@example` in a public module's doc
 * comments (packages/*\/src and apps/*\/src, internal/ excluded) and each ```ts block of the READMEs becomes a
 * file of its own under .examples/, compiled with the repository's settings against the packages' sources.
 * An example is a complete program — its own imports, top-level await allowed — so that it can be copied as
 * it stands. A README block that is deliberately partial says so with a first line `// fragment`.
 *
 *   node scripts/check-examples.ts        (part of `npm test`)
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = join(root, ".examples")

interface Example {
  readonly source: string
  /** 1-based line of the example's first code line in `source`. */
  readonly line: number
  readonly code: string
}

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === "internal" ? [] : walk(path)
    return name.endsWith(".ts") ? [path] : []
  })

const sourceDirs = ["packages", "apps"].flatMap((top) =>
  readdirSync(join(root, top)).map((p) => join(root, top, p, "src")).filter((d) => {
    try {
      return statSync(d).isDirectory()
    } catch {
      return false
    }
  })
)

/** The `@example` sections of a file's doc comments: fenced blocks as they are, bare ones up to the next tag. */
const docExamples = (file: string): Array<Example> => {
  const lines = readFileSync(file, "utf8").split("\n")
  const examples: Array<Example> = []
  let inDoc = false
  let current: { line: number; code: Array<string>; fenced: boolean | undefined } | undefined
  const flush = () => {
    if (current !== undefined && current.code.some((l) => l.trim() !== "")) {
      examples.push({ source: file, line: current.line, code: current.code.join("\n") })
    }
    current = undefined
  }
  lines.forEach((raw, i) => {
    const trimmed = raw.trim()
    if (!inDoc) {
      if (trimmed.startsWith("/**")) inDoc = !trimmed.endsWith("*/")
      return
    }
    if (trimmed.endsWith("*/")) {
      flush()
      inDoc = false
      return
    }
    const text = raw.replace(/^\s*\* ?/, "")
    if (text.startsWith("@example")) {
      flush()
      current = { line: i + 2, code: [], fenced: undefined }
      return
    }
    if (current === undefined) return
    if (text.startsWith("@")) return flush()
    if (current.fenced === undefined && text.trim() === "") return
    if (current.fenced === undefined) {
      current.fenced = text.startsWith("```")
      if (current.fenced) {
        current.line = i + 2
        return
      }
      current.line = i + 1
    }
    if (current.fenced && text.startsWith("```")) return flush()
    current.code.push(text)
  })
  flush()
  return examples
}

/** The ```ts blocks of a README (except those starting with `// fragment`). */
const readmeExamples = (file: string): Array<Example> => {
  const lines = readFileSync(file, "utf8").split("\n")
  const examples: Array<Example> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```ts") continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end]!.trim() !== "```") end++
    const code = lines.slice(start, end)
    if (code[0]?.trim() !== "// fragment") examples.push({ source: file, line: start + 1, code: code.join("\n") })
    i = end
  }
  return examples
}

const readmes = [join(root, "README.md"), ...sourceDirs.map((d) => join(d, "..", "README.md"))].filter((f) => {
  try {
    return statSync(f).isFile()
  } catch {
    return false
  }
})

const examples = [...sourceDirs.flatMap(walk).flatMap(docExamples), ...readmes.flatMap(readmeExamples)]

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
writeFileSync(join(out, "package.json"), JSON.stringify({ name: "dspex-examples", private: true, type: "module" }))
const origin = new Map<string, Example>()
examples.forEach((example, k) => {
  const name = `${String(k).padStart(3, "0")}-${relative(root, example.source).replace(/[^\w]+/g, "_")}.ts`
  origin.set(name, example)
  // `export {}` keeps every example a module (top-level await, no global clashes)
  writeFileSync(join(out, name), `${example.code}\nexport {}\n`)
})
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../tsconfig.base.json",
    compilerOptions: { noEmit: true, customConditions: ["@dspex/source"], noUnusedLocals: false },
    include: ["*.ts"]
  })
)

const tsc = spawnSync(process.execPath, [
  join(root, "node_modules/typescript/bin/tsc"),
  "-p",
  join(out, "tsconfig.json"),
  "--pretty",
  "false"
], {
  encoding: "utf8"
})
// Errors name the generated file; point at the example in its source instead.
const report = (tsc.stdout + tsc.stderr).split("\n").filter((l) => l.trim() !== "").map((l) => {
  const m = /^(?:\.examples\/)?(\d{3}-[\w]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l.replace(`${out}/`, ""))
  if (m === null) return l
  const example = origin.get(m[1]!)
  if (example === undefined) return l
  return `${relative(root, example.source)}:${example.line + Number(m[2]) - 1}:${m[3]} ${m[4]}`
})
if (tsc.status !== 0) {
  process.stderr.write(
    `${report.join("\n")}\n\n${
      new Set(report.map((l) => l.split(":")[0])).size
    } files with examples that do not type-check (of ${examples.length} examples)\n`
  )
  process.exit(1)
}
process.stdout.write(`${examples.length} documentation examples type-check\n`)
