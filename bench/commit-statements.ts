/**
 * Where the processor's SQLite time goes, statement by statement (issue 14: the sustained figure is
 * bounded by the processor's per-event CPU, and its commit was most of that). Runs the processor
 * drain (bench/processor-drain.ts: production classes and settings) and, side by side in the same
 * process, the storage ceiling's loop (bench/bare-commit.ts), with better-sqlite3's statement
 * methods wrapped to add up the wall time of each SQL text (`BEGIN`, `COMMIT` included: the
 * transaction helper runs them as statements too). Prints one table per side, busiest first, with
 * µs per event.
 *
 * usage: node --import tsx bench/commit-statements.ts [profiles=10000] [events=60000] [batch=2000]
 *
 * A diagnostic, not a goal: the figures go to docs/benchmarks.md ("Sustained end to end") with the
 * command. The wrap costs about a microsecond per statement call; both sides pay it.
 */
import { spawnSync } from 'node:child_process'
import { ROOT } from './lib/children.ts'

interface Timing {
  /** The database file's name, then the SQL. */
  sql: string
  calls: number
  ms: number
  /** Characters of the string parameters bound, all calls. */
  chars: number
}

/** Wraps Statement's run/get/all of better-sqlite3 in this process; returns the totals so far. */
export async function timeStatements(): Promise<() => Timing[]> {
  const { default: Database } = await import('better-sqlite3')
  const probe = new Database(':memory:')
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>
  probe.close()
  const totals = new Map<string, Timing>()
  for (const method of ['run', 'get', 'all'] as const) {
    const original = proto[method] as (...args: unknown[]) => unknown
    proto[method] = function (this: { source: string; database: { name: string } }, ...args: unknown[]) {
      const t0 = performance.now()
      try {
        return original.apply(this, args)
      } finally {
        const ms = performance.now() - t0
        // Multi-row statements differ only in their row count: one line for all of them.
        const sql = `${this.database.name.split('/').pop()}: ${this.source
          .replace(/\s+/g, ' ')
          .replace(/(\(\?(, \?)*\))(, \(\?(, \?)*\))+/g, '$1, …')
          .trim()}`
        let t = totals.get(sql)
        if (t === undefined) {
          t = { sql, calls: 0, ms: 0, chars: 0 }
          totals.set(sql, t)
        }
        t.calls++
        t.ms += ms
        const params = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args
        for (const a of params) if (typeof a === 'string') t.chars += a.length
      }
    }
  }
  return () => [...totals.values()].sort((a, b) => b.ms - a.ms)
}

function table(title: string, timings: Timing[], events: number): string {
  const total = timings.reduce((n, t) => n + t.ms, 0)
  const lines = timings
    .filter((t) => t.ms >= total * 0.002)
    .map(
      (t) =>
        `| ${((t.ms * 1000) / events).toFixed(2)} | ${((t.ms / total) * 100).toFixed(1)} % | ${t.calls} | ${Math.round(t.chars / t.calls)} | \`${t.sql.slice(0, 140)}\` |`,
    )
  return [
    `${title}: ${total.toFixed(0)} ms in statements, ${((total * 1000) / events).toFixed(2)} µs per event`,
    '| µs/event | share | calls | string chars bound per call | statement |',
    '|---|---|---|---|---|',
    ...lines,
  ].join('\n')
}

/** One side in a child of its own (each side's process is as the benches run it, plus the wrap). */
function side(args: string[]): Timing[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  if (r.status !== 0) throw new Error(`commit-statements ${args.join(' ')}: ${r.stderr}`)
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"timings"'))
  if (line === undefined) throw new Error(`commit-statements ${args.join(' ')}: no result in ${r.stdout}`)
  return (JSON.parse(line) as { timings: Timing[] }).timings
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === '--side') {
  // A child: wrap, then run the side's own script in this process (its result line goes to stdout too).
  const [which, ...args] = rest
  const totals = await timeStatements()
  // Both scripts read process.argv; processor-drain.ts runs when argv[1] names it.
  process.argv = [process.argv[0]!, which === 'processor' ? 'processor-drain.ts' : 'bare-commit.ts', ...args]
  if (which === 'processor') await import('./processor-drain.ts')
  else await import('./bare-commit.ts')
  process.stdout.write(`${JSON.stringify({ timings: totals() })}\n`)
} else {
  const [profiles = 10_000, events = 60_000, batch = 2000] = [mode, ...rest]
    .filter((a) => a !== undefined)
    .map(Number)
  const args = [String(profiles), String(events), String(batch)]
  const processor = side(['--side', 'processor', ...args])
  const ceiling = side(['--side', 'ceiling', 'template', ...args])
  process.stdout.write(
    `${table(`processor drain (${profiles} profiles, ${events} events, batches of ${batch})`, processor, events)}\n\n` +
      `${table('storage ceiling (bare-commit.ts template, same events)', ceiling, events)}\n`,
  )
}
