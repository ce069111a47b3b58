/** Small pieces the open-time answers share. */
import type { FallbackTaken } from '../observe/metric-records.ts'
import type { BlockRender } from '../render/render-block.ts'
import type { OpenResponse } from './open-responses.ts'

/** An answer and the fallbacks it took (the event's `fallbacks`). */
export interface Served {
  response: OpenResponse
  /** Fallbacks taken (the event's `fallbacks`). */
  fallbacks: number
  /** Which ones, for inkstream_fallbacks_total (counted each (placeholder, reason) once). */
  taken?: readonly FallbackTaken[]
  /** The render's data age (render/data-age.ts); undefined when it read no data. */
  dataAgeMs?: number | undefined
}

/** A block that fell back counts one, plus any placeholder inside it that fell back. */
export function fallbackCount(r: BlockRender): number {
  const n = r.report.fallbacks.length
  return r.fellBack ? Math.max(1, n) : n
}

/** The first value of a header. */
export function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

/** `p`, or 'timeout' once `ms` have passed (the timer never outlives the race). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, ms))
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
