/**
 * The adapter a predictor uses: the fiber's CurrentAdapter, else ChatAdapter (DSPy's
 * `settings.adapter or ChatAdapter()`). ChatAdapter is imported on first use so that loading the
 * module tree does not load the prompt machinery (and no import cycle can form through it).
 */
import { Effect } from "effect"
import { type Adapter, CurrentAdapter } from "../Adapter.ts"

let chatAdapter: Promise<Adapter> | undefined

const loadChatAdapter = (): Promise<Adapter> => {
  chatAdapter ??= import("../ChatAdapter.ts").then((mod) => mod.ChatAdapter.default).catch((e: unknown) => {
    chatAdapter = undefined
    throw e
  })
  return chatAdapter
}

/** The current fiber's adapter, falling back to ChatAdapter. */
export const currentAdapter: Effect.Effect<Adapter> = Effect.flatMap(CurrentAdapter, (adapter) =>
  adapter !== undefined
    ? Effect.succeed(adapter)
    : Effect.promise(loadChatAdapter))
