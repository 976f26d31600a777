#!/usr/bin/env node
/**
 * `dspex` entry point. Needs Node >= 22.19 (the repo's own Node 24 when run through npm scripts).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { main } from "./Cli.ts"

main.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
