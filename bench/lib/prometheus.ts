/** Reading Inkstream's GET /metrics: samples, one histogram, and quantiles from its buckets. */

/** Sample name with its label set exactly as printed (`name{a="b"}`) → value. */
export type Samples = Map<string, number>

export async function scrape(baseUrl: string): Promise<Samples> {
  const res = await fetch(`${baseUrl}/metrics`)
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`)
  const samples: Samples = new Map()
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return samples
}

/** Cumulative bucket counts by upper bound (Infinity for +Inf), ascending. */
export type Histogram = { le: number; count: number }[]

export function histogram(samples: Samples, name: string): Histogram {
  const buckets: Histogram = []
  const prefix = `${name}_bucket{le="`
  for (const [key, value] of samples) {
    if (!key.startsWith(prefix)) continue
    const le = key.slice(prefix.length, key.indexOf('"', prefix.length))
    buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: value })
  }
  if (buckets.length === 0) throw new Error(`no histogram ${name} in /metrics`)
  return buckets.sort((a, b) => a.le - b.le)
}

/** after − before, bucket by bucket: the observations made between two scrapes. */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  return after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }))
}

/**
 * The q-quantile the way Prometheus' histogram_quantile() computes it: find the bucket holding
 * rank q × total and interpolate linearly between its lower and upper bound (the first bucket's
 * lower bound is 0). A rank in the +Inf bucket returns the highest finite bound, flagged `atLeast`.
 */
export function quantile(h: Histogram, q: number): { value: number; atLeast: boolean } | undefined {
  const total = h[h.length - 1]?.count ?? 0
  if (total === 0) return undefined
  const rank = q * total
  let prevLe = 0
  let prevCount = 0
  for (const b of h) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return { value: prevLe, atLeast: true }
      const inBucket = b.count - prevCount
      const value = inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket
      return { value, atLeast: false }
    }
    prevLe = b.le
    prevCount = b.count
  }
  return undefined
}

/** Nearest-rank percentile of raw samples (used for client-side round-trip times). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export const counter = (samples: Samples, key: string): number => samples.get(key) ?? 0

/** A counter's value once it stops moving (requests still in flight have been answered). */
export async function settledCounter(baseUrl: string, key: string, intervalMs = 300): Promise<number> {
  let previous = -1
  let current = counter(await scrape(baseUrl), key)
  while (current !== previous) {
    await new Promise((r) => setTimeout(r, intervalMs))
    previous = current
    current = counter(await scrape(baseUrl), key)
  }
  return current
}
