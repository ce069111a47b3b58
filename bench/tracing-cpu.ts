/**
 * tracing-cpu: what logging and tracing cost in CPU time per request, the figure that survives a
 * loaded machine (throughput there moves 3× between rounds; CPU per request far less). Each side
 * is a child process running the whole app in-process (bench/tracing-cpu-child.ts: createApp,
 * `inject`, process.cpuUsage over every thread, ingest counted until the processor applied it):
 * - baseline: INKSTREAM_LOG_LEVEL=silent, no OTLP endpoint;
 * - shipped: info, no endpoint (as shipped);
 * - exporter: info, OTEL_EXPORTER_OTLP_ENDPOINT at a local receiver that discards what it gets;
 * - sampled: the same, OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1.
 * Interleaved rounds (bench/lib/ab.ts), a new child per side per round. The ratio is the
 * baseline's CPU per request ÷ the side's: the throughput a CPU-bound server keeps (goal of issue
 * 12: ≥ 0.95 for ingest and render). Before/after a change: `npm run bench -- --against <rev> tracing-cpu`.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample, spread } from './lib/ab.ts'
import { type CpuUse, cpuMeter, ROOT, round } from './lib/children.ts'
import {
  startDiscardingReceiver,
  TRACING_CONFIGS,
  type TracingConfig,
  tracingEnv,
} from './lib/otlp-receiver.ts'
import type { BenchResult } from './lib/report.ts'

const GOAL = 0.95
const SIDES = TRACING_CONFIGS
type SideName = TracingConfig
const MEASURED = ['shipped', 'exporter', 'sampled'] as const

interface ChildResult {
  /** With tracing on: CPU µs per bare span of the registered tracer (tracing-cpu-child.ts, spanFloor). */
  spanCpuMicros?: number
  ingestCpuMicros: number
  renderCpuMicros: number
  ingestPerSecond: number
  renderPerSecond: number
}

function runChild(env: Record<string, string>): Promise<Sample & { result: ChildResult }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'inkstream-tracing-cpu-'))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/tracing-cpu-child.ts'), dataDir],
    {
      cwd: ROOT,
      env: { ...process.env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const meter = cpuMeter(child.pid!)
  let out = ''
  // Read while the child still runs (its /proc entry is gone once it exited).
  let cpu: CpuUse | undefined
  child.stdout.on('data', (c: Buffer) => {
    out += c
    if (cpu === undefined && out.includes('\n')) cpu = meter()
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (code !== 0 || line === undefined)
        return reject(new Error(`tracing-cpu child exited ${code}: ${out}`))
      const result = JSON.parse(line) as ChildResult
      resolve({ value: result.ingestCpuMicros, ...(cpu ? { cpu } : {}), result, details: { ...result } })
    })
  })
}

export async function tracingCpu(): Promise<BenchResult> {
  const receiver = await startDiscardingReceiver()
  const env = tracingEnv(receiver.url)
  try {
    const results = {} as Record<SideName, ChildResult[]>
    for (const s of SIDES) results[s] = []
    const sides = Object.fromEntries(
      SIDES.map((s) => [
        s,
        async () => {
          const sample = await runChild(env[s])
          results[s].push(sample.result)
          process.stderr.write(
            `tracing-cpu: ${s}: ingest ${round(sample.result.ingestCpuMicros)} CPU µs/event, ` +
              `render ${round(sample.result.renderCpuMicros)} CPU µs/render (others' cores ${sample.cpu?.otherCores})\n`,
          )
          return sample
        },
      ]),
    ) as unknown as Record<SideName, () => Promise<Sample>>
    const run = await interleaved(sides, roundsFromEnv(3))
    // Ratios per round, CPU of the baseline ÷ CPU of the side: the throughput kept when CPU-bound.
    const kept = (side: SideName, key: 'ingestCpuMicros' | 'renderCpuMicros') =>
      spread(results[side].map((r, i) => round(results.baseline[i]![key] / r[key], 4)))
    const ratios = Object.fromEntries(
      MEASURED.map((s) => [s, { ingest: kept(s, 'ingestCpuMicros'), render: kept(s, 'renderCpuMicros') }]),
    ) as Record<
      Exclude<SideName, 'baseline'>,
      { ingest: ReturnType<typeof spread>; render: ReturnType<typeof spread> }
    >
    const medians = (key: Exclude<keyof ChildResult, 'spanCpuMicros'>) =>
      Object.fromEntries(SIDES.map((s) => [s, round(spread(results[s].map((r) => r[key])).median, 1)]))
    // The tracer's own cost per span, as a share of the baseline's CPU per ingested event: a
    // single-event request makes one span, so above 0.05 the goal cannot be met at full sampling (the
    // OpenTelemetry SDK took 0.04 on its own: why span-recorder.ts replaced it).
    const floor = spread(
      results.exporter.flatMap((r) => (r.spanCpuMicros === undefined ? [] : [r.spanCpuMicros])),
    )
    const spanShareOfEvent = spread(
      results.exporter.flatMap((r, i) =>
        r.spanCpuMicros === undefined
          ? []
          : [round(r.spanCpuMicros / results.baseline[i]!.ingestCpuMicros, 4)],
      ),
    )
    const worst = Math.min(...Object.values(ratios).flatMap((r) => [r.ingest.median, r.render.median]))
    const met = worst >= GOAL
    return {
      benchmark: 'tracing-cpu',
      metric: 'CPU µs per request (all threads), baseline (logging silent, tracing off) ÷ each side',
      inkstream: ratios.exporter.ingest.median,
      baseline: 1,
      ratio: worst,
      goal: `every ratio >= ${GOAL} (logging + tracing cost <= 5 % of CPU per ingested event and per render)`,
      met,
      details: {
        rounds: run.rounds,
        ratios,
        ingestCpuMicros: medians('ingestCpuMicros'),
        renderCpuMicros: medians('renderCpuMicros'),
        ingestPerSecond: medians('ingestPerSecond'),
        renderPerSecond: medians('renderPerSecond'),
        exportedBytes: receiver.counts().bytes,
        spanCpuMicros: floor,
        spanShareOfBaselineEvent: spanShareOfEvent,
        loadAverages: run.loadAverages,
        worstOtherCores: run.worstOtherCores,
        ingestCpuRatioToBaseline: Object.fromEntries(
          MEASURED.map((s) => [s, ratioPerRound(run.sides[s], run.sides.baseline)]),
        ),
        samples: run.sides,
      },
      summary:
        `tracing-cpu (${run.rounds} interleaved rounds, CPU per request kept vs logging silent + tracing off): ` +
        MEASURED.map(
          (s) => `${s} ingest ${fmtSpread(ratios[s].ingest)} render ${fmtSpread(ratios[s].render)}`,
        ).join('; ') +
        `; baseline ${medians('ingestCpuMicros').baseline} µs/event, ${medians('renderCpuMicros').baseline} µs/render; ` +
        `one bare span ${fmtSpread(floor)} µs = ${fmtSpread(spanShareOfEvent)} of an event's baseline CPU; ` +
        `load ${run.loadAverages.join('/')}; goal >= ${GOAL}: ${met ? 'MET' : 'NOT MET'}`,
    }
  } finally {
    await receiver.close()
  }
}
