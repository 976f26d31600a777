/**
 * The adapter a predictor uses: the fiber's CurrentAdapter, else ChatAdapter (DSPy's
 * `settings.adapter or ChatAdapter()`). ChatAdapter is imported on first use so that loading the
 * module tree does not load the prompt machinery (and no import cycle can form through it).
 */
import { Effect } from "effect"
import { type Adapter, CurrentAdapter } from "../Adapter.ts"

let chatAdapter: Promise<Adapter> | undefined
/** ChatAdapter once loaded: later calls get it without an async step. */
let loaded: Adapter | undefined

const loadChatAdapter = (): Promise<Adapter> => {
  chatAdapter ??= import("../ChatAdapter.ts").then((mod) => {
    loaded = mod.defaultAdapter
    return loaded
  }).catch((e: unknown) => {
    chatAdapter = undefined
    throw e
  })
  return chatAdapter
}

/** The adapter to use given the fiber's CurrentAdapter: an Adapter when known now, else the loading Effect. */
export const adapterFor = (current: Adapter | undefined): Adapter | Effect.Effect<Adapter> =>
  current ?? loaded ?? Effect.promise(loadChatAdapter)

/** The current fiber's adapter, falling back to ChatAdapter. */
export const currentAdapter: Effect.Effect<Adapter> = Effect.flatMap(CurrentAdapter, (adapter) => {
  const found = adapterFor(adapter)
  return Effect.isEffect(found) ? found : Effect.succeed(found)
})
