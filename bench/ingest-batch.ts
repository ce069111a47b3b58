/**
 * ingest-batch: durable events/s through POST /v1/batch, 100 events (~340 bytes each) per request,
 * at 16 and 64 connections, against the bare node:http server that reads and JSON.parses the same
 * requests; both up at once, interleaved rounds (bench/lib/ingest-ab.ts). A 2xx from Inkstream
 * means the events are committed to SQLite (WAL, synchronous=FULL); every sample checks that
 * 2xx × 100 equals the collector's accepted-events counter. Goal: the same 0.5 as /v1/track.
 * BENCH_ROUNDS sets the rounds (default 3), BENCH_SECONDS the measured seconds per sample (default 8).
 */
import { fmtSpread } from './lib/ab.ts'
import { detailsOf, ingestAb, noiseOf, worstOf } from './lib/ingest-ab.ts'
import { type BenchResult, fmt } from './lib/report.ts'

const EVENTS_PER_REQUEST = 100
const GOAL_RATIO = 0.5
const CONNECTIONS = [16, 64]

export async function ingestBatch(): Promise<BenchResult> {
  const r = await ingestAb({
    path: '/v1/batch',
    eventsPerRequest: EVENTS_PER_REQUEST,
    connections: CONNECTIONS,
  })
  const worst = worstOf(r)
  const met = r.byConnections.every((p) => p.ratio.median >= GOAL_RATIO) && r.logOk
  const each = r.byConnections
    .map(
      (p) =>
        `${p.connections} conns ${fmt(p.ab.sides.inkstream.spread.median)} vs ${fmt(p.ab.sides.bare.spread.median)} events/s, ratio ${fmtSpread(p.ratio)}`,
    )
    .join('; ')
  return {
    benchmark: 'ingest-batch',
    metric: `durable events/s (2xx × ${EVENTS_PER_REQUEST} / s): median of rounds, at the connection count with the lower ratio`,
    inkstream: worst.ab.sides.inkstream.spread.median,
    baseline: worst.ab.sides.bare.spread.median,
    ratio: worst.ratio.median,
    goal: `median ratio >= ${GOAL_RATIO} × bare node:http + JSON.parse events/s at ${CONNECTIONS.join(' and ')} connections`,
    met,
    details: { eventsPerRequest: EVENTS_PER_REQUEST, ...detailsOf(r) },
    summary:
      `ingest-batch (${r.rounds} interleaved rounds, median (min–max)): ${each}; ` +
      `goal >= ${GOAL_RATIO} at each: ${met ? 'MET' : 'NOT MET'}; log check ${r.logOk ? 'ok' : 'FAILED'}; ${noiseOf(r)}`,
  }
}
