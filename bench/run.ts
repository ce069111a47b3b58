/**
 * `npm run bench [-- name...]`: runs the benchmarks (all; a name given exactly; or those whose name
 * contains one of the arguments, e.g. `npm run bench -- ingest`) and prints, for each, one JSON line and one summary line.
 * Servers run in child processes; autocannon and the paced sender run here. Progress goes to stderr.
 */
import { cpus } from 'node:os'
import { anomaly } from './anomaly.ts'
import { campaignScale } from './campaign-scale.ts'
import { compare } from './compare.ts'
import { dashboard } from './dashboard.ts'
import { campaign, smtp } from './delivery.ts'
import { healthz } from './healthz.ts'
import { ingestBatch } from './ingest-batch.ts'
import { ingestTrack } from './ingest-track.ts'
import { kafkaClients } from './kafka-clients.ts'
import { lag } from './lag.ts'
import { type BenchResult, print } from './lib/report.ts'
import { observability } from './observability.ts'
import { openGif, openPng } from './open-images.ts'
import { openTime } from './open-time.ts'
import { processor } from './processor.ts'
import { render } from './render.ts'
import { scaleOut } from './scale-out.ts'
import { startup } from './startup.ts'
import { sustained } from './sustained.ts'
import { tracingCpu } from './tracing-cpu.ts'
import { scaleOutTrigger, trigger } from './trigger.ts'

const BENCHMARKS: Record<string, () => Promise<BenchResult>> = {
  anomaly,
  campaign,
  'campaign-scale': campaignScale,
  dashboard,
  healthz,
  'ingest-batch': ingestBatch,
  'ingest-track': ingestTrack,
  'kafka-clients': kafkaClients,
  lag,
  observability,
  'open-gif': openGif,
  'open-png': openPng,
  'open-time': openTime,
  processor,
  render,
  'scale-out': scaleOut,
  'tracing-cpu': tracingCpu,
  'scale-out-trigger': scaleOutTrigger,
  smtp,
  startup,
  sustained,
  trigger,
}

function select(args: readonly string[]): string[] {
  const names = Object.keys(BENCHMARKS)
  if (args.length === 0) return names
  // A name given exactly is that benchmark alone (`scale-out` is not also `scale-out-trigger`).
  const matches = (a: string, n: string) => (names.includes(a) ? n === a : n.includes(a))
  const unknown = args.filter((a) => !names.some((n) => matches(a, n)))
  if (unknown.length > 0) {
    throw new Error(
      `no benchmark matches ${unknown.map((u) => `"${u}"`).join(', ')}; choose from ${names.join(', ')}`,
    )
  }
  return names.filter((n) => args.some((a) => matches(a, n)))
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      'usage: npm run bench [-- [--full] name...]\n' +
        '       npm run bench -- --against <git revision> [--rounds N] [name...]\n' +
        `benchmarks: ${Object.keys(BENCHMARKS).join(', ')}\n`,
    )
    return
  }
  // Before and after in the same run: the same benchmarks at another revision, interleaved.
  if (args.includes('--against')) return compare(args)
  const selected = select(args)
  process.stderr.write(
    `bench: ${selected.join(', ')} on ${cpus().length} cores ` +
      '(the load generator shares them with the server)\n',
  )
  let failed = false
  for (const name of selected) {
    const t0 = performance.now()
    process.stderr.write(`bench: running ${name}...\n`)
    try {
      print(await BENCHMARKS[name]!())
    } catch (err) {
      failed = true
      process.stderr.write(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}\n`)
    }
    process.stderr.write(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  }
  if (failed) process.exitCode = 1
}

// Exit through process.exit so bench/lib/children.ts can stop the servers and remove their data dirs.
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

// `--full`: the long forms of the benchmarks that have one (the campaign's 100k run): BENCH_FULL=1.
if (process.argv.includes('--full')) process.env.BENCH_FULL = '1'
main(process.argv.slice(2).filter((a) => a !== '--full')).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`)
  process.exitCode = 2
})
