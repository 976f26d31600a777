#!/usr/bin/env node
/**
 * `dspex` entry point. Needs Node >= 22.19 (the repo's own Node 24 when run through npm scripts).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Logger } from "effect"
import { main } from "./Cli.ts"

// stdout carries only the command's JSON; logs go to stderr.
main(process.argv.slice(2)).pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
