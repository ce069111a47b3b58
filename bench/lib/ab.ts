/**
 * Interleaved A/B rounds: the honest way to compare two sides on a shared machine.
 *
 * Every side is measured once per round, and the order rotates from round to round, so a machine
 * that gets busier or quieter during the run favours no side. Each round records the machine's
 * load average and, when the sample carries one, the other processes' core use, so a figure can be
 * read next to the noise it was measured in. The ratio is taken per round (both sides of one round
 * ran seconds apart) and summarised as min / median / max.
 */
import { loadavg } from 'node:os'
import type { CpuUse } from './children.ts'
import { round } from './children.ts'

/** One measurement of one side. */
export interface Sample {
  /** The figure compared (e.g. requests/s): higher or lower is better as the caller says. */
  value: number
  /** Core use during the measurement (cpuMeter), when the caller measured it. */
  cpu?: CpuUse
  /** Anything else worth keeping in the JSON (latency percentiles, counts checked…). */
  details?: Record<string, unknown>
}

export interface Spread {
  min: number
  median: number
  max: number
  values: number[]
}

export interface SideRounds {
  spread: Spread
  samples: (Sample & { round: number; position: number; loadAverage1m: number })[]
}

export interface InterleavedResult<K extends string> {
  rounds: number
  sides: Record<K, SideRounds>
  /** The machine's 1-minute load average at the start of each round. */
  loadAverages: number[]
  /** The largest core use by other processes seen in any sample (null when none was measured). */
  worstOtherCores: number | null
}

/** The rounds to run: `BENCH_ROUNDS` when set, otherwise the given default (at least 3). */
export function roundsFromEnv(fallback = 3): number {
  const env = Number(process.env.BENCH_ROUNDS)
  return Number.isInteger(env) && env >= 1 ? env : Math.max(3, fallback)
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? sorted[mid]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2
  return {
    min: sorted[0] ?? Number.NaN,
    median: round(median, 4),
    max: sorted.at(-1) ?? Number.NaN,
    values: [...values],
  }
}

/**
 * Measures every side once per round, `rounds` rounds, rotating the order (round r starts with
 * side r mod n). Sides run one after the other, never at once: each gets the machine to itself
 * apart from whatever else is running, which the samples record.
 */
export async function interleaved<K extends string>(
  sides: Record<K, (round: number) => Promise<Sample>>,
  rounds = roundsFromEnv(),
): Promise<InterleavedResult<K>> {
  const names = Object.keys(sides) as K[]
  const out = Object.fromEntries(names.map((n) => [n, { samples: [] as SideRounds['samples'] }])) as Record<
    K,
    { samples: SideRounds['samples'] }
  >
  const loadAverages: number[] = []
  for (let r = 0; r < rounds; r++) {
    const load = round(loadavg()[0]!, 2)
    loadAverages.push(load)
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length]!
      process.stderr.write(`bench: round ${r + 1}/${rounds}, ${name} (load ${load})\n`)
      const sample = await sides[name](r)
      out[name].samples.push({ ...sample, round: r + 1, position: i + 1, loadAverage1m: load })
    }
  }
  let worst: number | null = null
  for (const n of names)
    for (const s of out[n].samples)
      if (s.cpu?.otherCores != null) worst = Math.max(worst ?? 0, s.cpu.otherCores)
  const result = Object.fromEntries(
    names.map((n) => [n, { samples: out[n].samples, spread: spread(out[n].samples.map((s) => s.value)) }]),
  ) as Record<K, SideRounds>
  return { rounds, sides: result, loadAverages, worstOtherCores: worst }
}

/** The per-round ratio a ÷ b (both sides of a round ran back to back), as min / median / max. */
export function ratioPerRound(a: SideRounds, b: SideRounds): Spread {
  const byRound = new Map(b.samples.map((s) => [s.round, s.value]))
  return spread(a.samples.map((s) => round(s.value / byRound.get(s.round)!, 4)))
}

/** "0.41 (0.38–0.47)": a spread for a summary line. */
export const fmtSpread = (s: Spread, digits = 3): string =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`
