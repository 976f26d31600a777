/**
 * One SDK request as an Effect that owns its deadline: the request runs under its own AbortController
 * (linked to the SDK's fetch by `abortWith`, see abortLink.ts),
 * which is aborted when the caller is interrupted or when `timeoutMs` passes (the call then fails with
 * the timeout error). The deadline covers the whole request, reading the body included, whereas the
 * SDKs' own `timeout` stops at the response headers.
 *
 * Owning the deadline here lets the LanguageModel runtime skip its generic timeout (a forked fiber
 * racing a timer) for these providers: see `Provider.handlesTimeout` and bench/predict-cpu.ts.
 */
import { LMError } from "@dspex/core"
import { Effect } from "effect"

const maxTimerMs = 2 ** 31 - 1

/**
 * @example
 * sdkCall((controller) => client.chat.completions.create(body, abortWith(controller)), 60_000, toResponse, toError, () => timeoutError)
 */
export const sdkCall = <A, B>(
  run: (controller: AbortController) => Promise<A>,
  timeoutMs: number,
  onSuccess: (a: A) => B | LMError.LMError,
  onError: (error: unknown) => LMError.LMError,
  onTimeout: () => LMError.LMError
): Effect.Effect<B, LMError.LMError> =>
  Effect.callback<B, LMError.LMError>((resume) => {
    const controller = new AbortController()
    let settled = false
    const timer = timeoutMs > 0 && timeoutMs <= maxTimerMs
      ? setTimeout(() => {
        if (settled) return
        settled = true
        controller.abort()
        resume(Effect.fail(onTimeout()))
      }, timeoutMs)
      : undefined
    let promise: Promise<A>
    try {
      promise = run(controller)
    } catch (e) {
      settled = true
      clearTimeout(timer)
      resume(Effect.fail(onError(e)))
      return
    }
    promise.then(
      (a) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        let out: B | LMError.LMError
        try {
          out = onSuccess(a)
        } catch (e) {
          resume(Effect.die(e))
          return
        }
        resume(LMError.isLMError(out) ? Effect.fail(out) : Effect.succeed(out))
      },
      (e: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(Effect.fail(onError(e)))
      }
    )
    return Effect.sync(() => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      controller.abort()
    })
  })
