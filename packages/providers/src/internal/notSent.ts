/** Keys DSPy keeps in LM kwargs that are client settings or DSPex's own, never request parameters. */
export const clientSettings: ReadonlyArray<string> = [
  "api_key",
  "api_base",
  "base_url",
  "rollout_id",
  "cache",
  "num_retries",
  "stream",
  "model",
  "messages"
]
