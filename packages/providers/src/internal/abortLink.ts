/**
 * Cancelling SDK requests without handing the SDK a caller `signal`.
 *
 * Given a caller signal, the `openai` and `@anthropic-ai/sdk` clients track it with a `WeakRef` and a
 * `FinalizationRegistry` entry per request, so a long-lived signal never retains finished requests. That
 * bookkeeping costs about a tenth of a request's client CPU here (bench/predict-cpu.ts), and DSPex's
 * signals live exactly as long as their request anyway. Instead, the clients get `linkedFetch`, and each
 * request carries its AbortController in `fetchOptions` (the SDKs pass those through to `fetch`):
 * the fetch runs under that controller, and the SDK's own signal (its timeout) is forwarded to it.
 */

const linkKey: unique symbol = Symbol.for("dspex/providers/abortLink")

type LinkedInit = RequestInit & { [linkKey]?: AbortController }

/**
 * Request options that make `controller.abort()` cancel the request (body included).
 *
 * @example
 * client.chat.completions.create(body, { ...abortWith(controller), maxRetries: 0 })
 */
// The SDKs type fetchOptions as their own RequestInit; the link travels as a symbol key they pass on.
export const abortWith = (controller: AbortController): { readonly fetchOptions: {} } => ({
  fetchOptions: { [linkKey]: controller }
})

/**
 * A `fetch` for SDK clients: requests made with `abortWith(controller)` run under that controller;
 * anything else goes to the global `fetch` unchanged.
 */
export const linkedFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const linked = init as LinkedInit | undefined
  const controller = linked?.[linkKey]
  if (controller !== undefined && linked !== undefined) {
    const sdkSignal = linked.signal
    if (sdkSignal != null) {
      if (sdkSignal.aborted) controller.abort(sdkSignal.reason)
      else sdkSignal.addEventListener("abort", () => controller.abort(sdkSignal.reason), { once: true })
    }
    // The SDK builds this init object for this one call, so it is ours to adjust. The link key stays:
    // fetch ignores unknown keys, and deleting it would turn the object into a slow dictionary.
    linked.signal = controller.signal
  }
  return globalThis.fetch(input, init)
}
