/**
 * processor: how fast the processor folds and commits a backlog (events/s), embedded mode, at 10k
 * and at 1M profiles, against the storage ceiling, interleaved (lib/ab.ts).
 *
 * Each side is a child process (bench/processor-drain.ts): a copy of a store holding the profiles
 * (lib/profile-template.ts, built once per schema), EVENTS track events of those profiles' users
 * appended to the log before the clock starts, then the processor alone — production classes and
 * settings: log read and parse, dedupe, identities, default traits, segments, triggers, the commit —
 * until every event is applied. The ceiling (bench/bare-commit.ts) writes the same rows for the same
 * events into a copy of the same 10k store with the same pragmas and commit size, and does nothing
 * else. Goals: the processor at 1M profiles ≥ 0.9 × at 10k (same run), and its ratio to the ceiling.
 */

import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample } from './lib/ab.ts'
import { runJsonChild } from './lib/child-json.ts'
import { type CpuUse, round } from './lib/children.ts'
import { profileTemplate } from './lib/profile-template.ts'
import type { BenchResult } from './lib/report.ts'

const EVENTS = Number(process.env.BENCH_PROCESSOR_EVENTS) || 100_000
/** INKSTREAM_PROCESSOR_BATCH_SIZE's default. */
const BATCH = 2000
const GOAL_1M = 0.9

interface Drained {
  eventsPerSecond: number
  seconds: number
  batches?: number
  commitShare?: number
  cpu: CpuUse
}

const sample = (d: Drained): Sample => {
  const { eventsPerSecond, cpu, ...rest } = d
  return { value: round(eventsPerSecond), cpu, details: rest }
}

export async function processor(): Promise<BenchResult> {
  // Built before the rounds (minutes for 1M the first time; reused while the schema is the same).
  profileTemplate(10_000)
  profileTemplate(1_000_000)
  const run = await interleaved(
    {
      ceiling: async () =>
        sample(await runJsonChild<Drained>('bench/bare-commit.ts', ['template', 10_000, EVENTS, BATCH])),
      p10k: async () =>
        sample(await runJsonChild<Drained>('bench/processor-drain.ts', [10_000, EVENTS, BATCH])),
      p1m: async () =>
        sample(await runJsonChild<Drained>('bench/processor-drain.ts', [1_000_000, EVENTS, BATCH])),
    },
    roundsFromEnv(3),
  )
  const { ceiling, p10k, p1m } = run.sides
  const at1m = ratioPerRound(p1m, p10k)
  const vsCeiling = ratioPerRound(p10k, ceiling)
  const vsCeiling1m = ratioPerRound(p1m, ceiling)
  const met = at1m.median >= GOAL_1M
  return {
    benchmark: 'processor',
    metric:
      'events/s folded and committed from a backlog (embedded): 1M profiles vs 10k, and vs the storage ceiling',
    inkstream: p1m.spread.median,
    baseline: p10k.spread.median,
    ratio: at1m.median,
    goal: `1M-profile rate ≥ ${GOAL_1M} × the 10k-profile rate (per-round median)`,
    met,
    details: {
      events: EVENTS,
      batchSize: BATCH,
      ratio1mTo10k: at1m,
      ratio10kToCeiling: vsCeiling,
      ratio1mToCeiling: vsCeiling1m,
      eventsPerSecond: { ceiling: ceiling.spread, p10k: p10k.spread, p1m: p1m.spread },
      loadAverages: run.loadAverages,
      worstOtherCores: run.worstOtherCores,
      samples: run.sides,
    },
    summary:
      `processor: ${p10k.spread.median} events/s at 10k profiles, ${p1m.spread.median} at 1M ` +
      `(1M/10k ${fmtSpread(at1m)}; goal ≥ ${GOAL_1M}: ${met ? 'MET' : 'NOT MET'}); ` +
      `10k / storage ceiling ${fmtSpread(vsCeiling)} (ceiling ${ceiling.spread.median} events/s); ` +
      `load ${run.loadAverages.join('/')}, other cores ≤ ${run.worstOtherCores}`,
  }
}
