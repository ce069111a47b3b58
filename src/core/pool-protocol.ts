/** The messages between a WorkerPool (pool.ts) and its workers (pool-worker.ts). */
import { type ErrorCode, ErrorCodes, InkError } from './errors.ts'

/** An error as it crosses a thread boundary: an InkError keeps its code and details. */
export interface WireError {
  message: string
  code?: string
  details?: unknown
}

export type ToWorker =
  | { t: 'task'; id: number; method: string; payload: unknown }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: WireError }

export type FromWorker =
  | { t: 'ready' }
  | { t: 'done'; id: number; ok: true; value: unknown }
  | { t: 'done'; id: number; ok: false; error: WireError }
  | { t: 'call'; id: number; name: string; payload: unknown }

export function toWire(err: unknown): WireError {
  if (err instanceof InkError) return { message: err.message, code: err.code, details: err.details }
  return { message: err instanceof Error ? err.message : String(err) }
}

export function fromWire(e: WireError): Error {
  if (e.code !== undefined && Object.hasOwn(ErrorCodes, e.code))
    return new InkError(e.code as ErrorCode, e.message, { details: e.details })
  return new Error(e.message)
}
