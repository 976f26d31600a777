// Prints the README's Effect example (the first ```ts block under "## A program in Effect"), so that
// .ci/pack-proof type-checks exactly what the README shows against the packed packages.
import { readFileSync } from "node:fs"

const readme = readFileSync(process.argv[2] ?? "README.md", "utf8")
const section = readme.indexOf("## A program in Effect")
if (section < 0) throw new Error("README has no \"## A program in Effect\" section")
const start = readme.indexOf("```ts\n", section)
const end = readme.indexOf("\n```", start + 6)
if (start < 0 || end < 0) throw new Error("no ```ts block under \"## A program in Effect\"")
process.stdout.write(readme.slice(start + 6, end) + "\n")
