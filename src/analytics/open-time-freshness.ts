/**
 * Open-time freshness, the counting part: how old the data shown by live renders was
 * (render/data-age.ts says how one render's age is taken). Ages are kept as counts per age bucket,
 * with their sum and maximum, so per campaign, trigger, template version and 5-minute bucket the
 * counters stay additive; quantiles are then estimated from the buckets.
 */

/**
 * Upper edges (ms, inclusive) of the data-age buckets; one more bucket holds everything older. Read
 * from this render (≤ 100 ms), the profile cache's TTL (5 s), connected content's default and
 * longest TTLs (30 s, 60 s), and the stale windows (a cached response up to 5 min past its TTL).
 */
export const AGE_EDGES_MS = [100, 1_000, 5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000] as const

/** The counter of each bucket, in AGE_EDGES_MS order, then the one past the last edge. */
export const AGE_BUCKET_FIELDS = [
  'liveAgeLe100ms',
  'liveAgeLe1s',
  'liveAgeLe5s',
  'liveAgeLe15s',
  'liveAgeLe30s',
  'liveAgeLe1m',
  'liveAgeLe2m',
  'liveAgeLe5m',
  'liveAgeLe10m',
  'liveAgeOver10m',
] as const
export type AgeBucketField = (typeof AGE_BUCKET_FIELDS)[number]

/** The bucket an age falls in: the first edge ≥ age, else the last (older than every edge). */
export function ageBucketOf(ageMs: number): AgeBucketField {
  const i = AGE_EDGES_MS.findIndex((edge) => ageMs <= edge)
  return AGE_BUCKET_FIELDS[i < 0 ? AGE_EDGES_MS.length : i] as AgeBucketField
}

/**
 * The q-quantile (0 < q ≤ 1, nearest rank) of the ages counted in `counts` (one count per bucket,
 * AGE_BUCKET_FIELDS order), estimated as the upper edge of the bucket holding that rank, capped by
 * the largest age seen (`maxMs`; also the answer in the last, open bucket). The true quantile lies
 * in the same bucket and is never above the estimate. null when nothing was counted.
 */
export function ageQuantile(counts: readonly number[], q: number, maxMs: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total <= 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0
    if (seen >= rank) {
      const edge = AGE_EDGES_MS[i]
      return edge === undefined ? maxMs : Math.min(edge, maxMs)
    }
  }
  return maxMs
}
