/**
 * Minimal HTTP plumbing on node:http (no framework: the simulator shares a small machine with the client in
 * throughput benchmarks, so every request path avoids needless allocation and timers).
 */
import type { IncomingMessage, ServerResponse } from "node:http"

/** 64 MiB: big enough for context-window tests, small enough that a runaway client cannot exhaust memory. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024

export class BodyTooLargeError extends Error {}

export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError(`Request body exceeds ${MAX_BODY_BYTES} bytes`))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** First value of a header, trimmed; undefined when absent or empty. */
export const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s.trim() === "" ? undefined : s.trim()
}

export interface Sender {
  readonly res: ServerResponse
  /** Writes the status line and headers; the one place statuses are counted. */
  readonly writeHead: (status: number, headers: Record<string, string | number>) => void
}

export const sendJson = (
  sender: Sender,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string | number> = {}
): void => {
  if (sender.res.destroyed || sender.res.headersSent) return
  const text = JSON.stringify(body)
  sender.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...extraHeaders
  })
  sender.res.end(text)
}

export const sendText = (
  sender: Sender,
  status: number,
  contentType: string,
  text: string,
  extraHeaders: Record<string, string | number> = {}
): void => {
  if (sender.res.destroyed || sender.res.headersSent) return
  sender.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text), ...extraHeaders })
  sender.res.end(text)
}

/** Starts a server-sent-event response. */
export const startSse = (sender: Sender, extraHeaders: Record<string, string | number> = {}): void => {
  sender.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    ...extraHeaders
  })
}

/** Splits text into a few deltas (about six), so streaming clients exercise their accumulation logic. */
export const splitDeltas = (text: string): Array<string> => {
  if (text.length === 0) return []
  const size = Math.max(4, Math.ceil(text.length / 6))
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}
