/**
 * ingest-track: requests/s through POST /v1/track, one ~340-byte event per request, at 16 and 64
 * connections, against the bare node:http server that reads and JSON.parses the same requests;
 * both up at once, interleaved rounds (bench/lib/ingest-ab.ts). Goal: median ratio >= 0.5 at each
 * connection count, with every 2xx matched by an event the collector counted as accepted.
 * BENCH_ROUNDS sets the rounds (default 3), BENCH_SECONDS the measured seconds per sample (default 8).
 */
import { fmtSpread } from './lib/ab.ts'
import { detailsOf, ingestAb, noiseOf, worstOf } from './lib/ingest-ab.ts'
import { type BenchResult, fmt } from './lib/report.ts'

const GOAL_RATIO = 0.5
const CONNECTIONS = [16, 64]

export async function ingestTrack(): Promise<BenchResult> {
  const r = await ingestAb({ path: '/v1/track', eventsPerRequest: undefined, connections: CONNECTIONS })
  const worst = worstOf(r)
  const met = r.byConnections.every((p) => p.ratio.median >= GOAL_RATIO) && r.logOk
  const each = r.byConnections
    .map(
      (p) =>
        `${p.connections} conns ${fmt(p.ab.sides.inkstream.spread.median)} vs ${fmt(p.ab.sides.bare.spread.median)} req/s, ratio ${fmtSpread(p.ratio)}`,
    )
    .join('; ')
  return {
    benchmark: 'ingest-track',
    metric:
      'requests/s (2xx, one event each): median of rounds, at the connection count with the lower ratio',
    inkstream: worst.ab.sides.inkstream.spread.median,
    baseline: worst.ab.sides.bare.spread.median,
    ratio: worst.ratio.median,
    goal: `median ratio >= ${GOAL_RATIO} × bare node:http + JSON.parse at ${CONNECTIONS.join(' and ')} connections`,
    met,
    details: detailsOf(r),
    summary:
      `ingest-track (${r.rounds} interleaved rounds, median (min–max)): ${each}; ` +
      `goal >= ${GOAL_RATIO} at each: ${met ? 'MET' : 'NOT MET'}; log check ${r.logOk ? 'ok' : 'FAILED'}; ${noiseOf(r)}`,
  }
}
