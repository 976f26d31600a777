// Loaded with --import by Cache.test.ts: this process behaves as a Node without node:sqlite (before 22.13).
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "node:sqlite" || specifier === "sqlite") {
      throw Object.assign(new Error(`No such built-in module: ${specifier}`), { code: "ERR_UNKNOWN_BUILTIN_MODULE" })
    }
    return next(specifier, context)
  }
})
