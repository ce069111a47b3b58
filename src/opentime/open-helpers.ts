/** Small pieces the open-time answers share. */
import type { BlockRender } from '../render/render-block.ts'
import type { OpenResponse } from './open-responses.ts'

/** A fallback an answer took, for inkstream_fallbacks_total. */
export interface Taken {
  placeholder: string
  reason: string
}

/** An answer and the fallbacks it took (the event's `fallbacks`). */
export interface Served {
  response: OpenResponse
  /** Fallbacks taken (the event's `fallbacks`). */
  fallbacks: number
  /** Which ones, each (placeholder, reason) once, as a pre-send render counts them. */
  taken?: readonly Taken[]
  /** The render's data age (render/data-age.ts); undefined when it read no data. */
  dataAgeMs?: number | undefined
}

/** A block that fell back counts one, plus any placeholder inside it that fell back. */
export function fallbackCount(r: BlockRender): number {
  const n = r.report.fallbacks.length
  return r.fellBack ? Math.max(1, n) : n
}

/** A render's fallbacks, each (placeholder, reason) once: a placeholder in two parts is one fallback. */
export function takenOf(fallbacks: readonly Taken[]): Taken[] {
  const seen = new Map<string, Taken>()
  for (const f of fallbacks) {
    const key = `${f.placeholder}\n${f.reason}`
    if (!seen.has(key)) seen.set(key, { placeholder: f.placeholder, reason: f.reason })
  }
  return [...seen.values()]
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
