/** What each benchmark returns, and how run.ts prints it: one JSON line, then one human line. */
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { ROOT } from './children.ts'

export interface BenchResult {
  benchmark: string
  /** What `inkstream` and `baseline` are, with the unit. */
  metric: string
  inkstream: number
  /** The same measurement against the bare node:http server, in the same run. */
  baseline: number
  /** inkstream / baseline. */
  ratio: number
  goal: string
  met: boolean
  details: Record<string, unknown>
  summary: string
}

/** The commit measured, with "+dirty" when src/ has uncommitted changes (others may be editing it). */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = git('status', '--porcelain', 'src') === '' ? '' : '+dirty'
    return `${git('rev-parse', '--short', 'HEAD')}${dirty}`
  } catch {
    return 'unknown'
  }
}

export function print(result: BenchResult): void {
  const { summary, ...rest } = result
  const line = {
    ...rest,
    date: new Date().toISOString(),
    revision: revision(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
  }
  process.stdout.write(`${JSON.stringify(line)}\n${summary}\n`)
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** Resolves when check() returns true, polling every intervalMs; false after timeoutMs. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  return false
}

/** A warning for the summary when other processes used noticeable CPU during the measured runs. */
export function noiseWarning(...uses: { otherCores: number | null }[]): string {
  const worst = Math.max(...uses.map((u) => u.otherCores ?? 0))
  return worst >= 0.25
    ? `; WARNING: other processes used up to ${worst.toFixed(2)} cores during the runs`
    : ''
}
