/**
 * `npm run bench -- --against <rev> [name...] [--rounds N]`: before and after in the same run.
 *
 * Checks `<rev>` out into a temporary git worktree (sharing this checkout's node_modules and
 * .cache), then runs the selected benchmarks there and here in alternating order, N rounds
 * (default 2), both sides with this checkout's bench/: the measurement stays the same, only the
 * code measured differs. Every benchmark already reports a ratio against a baseline measured in
 * the same run, so the comparison is of those ratios: drift of the shared machine between two
 * runs cancels out, a change of the code does not. Prints one JSON line and
 * one summary line per benchmark; the raw figures of every run are in the JSON.
 */
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './lib/children.ts'
import type { BenchResult } from './lib/report.ts'

interface Side {
  label: 'before' | 'after'
  dir: string
  revision: string
}

type Run = Omit<BenchResult, 'summary'> & { revision?: string }

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()

/** The arguments of `--against`: the revision, the rounds, and the benchmark names for run.ts. */
export function parseCompareArgs(args: readonly string[]): {
  against: string
  rounds: number
  names: string[]
} {
  let against: string | undefined
  let rounds = 2
  const names: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--against') against = args[++i]
    else if (arg === '--rounds') rounds = Number(args[++i])
    else names.push(arg)
  }
  if (against === undefined || against === '') throw new Error('--against needs a git revision')
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds needs a whole number ≥ 1')
  return { against, rounds, names }
}

function checkout(rev: string): Side {
  const sha = git('rev-parse', '--verify', `${rev}^{commit}`)
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-against-'))
  rmSync(dir, { recursive: true, force: true })
  git('worktree', 'add', '--detach', dir, sha)
  // The same installed packages and cached broker jars as this checkout: only the code differs.
  for (const shared of ['node_modules', '.cache'])
    if (existsSync(join(ROOT, shared))) symlinkSync(join(ROOT, shared), join(dir, shared))
  // The same measurement on both sides: this checkout's bench/ replaces the old one (a benchmark
  // added since then runs there too; one that imports src/ internals may not, and then says so).
  rmSync(join(dir, 'bench'), { recursive: true, force: true })
  cpSync(join(ROOT, 'bench'), join(dir, 'bench'), { recursive: true })
  return { label: 'before', dir, revision: sha.slice(0, 7) }
}

/** Runs bench/run.ts in a side's tree; resolves with its JSON lines (stderr passes through). */
function runSide(side: Side, names: readonly string[]): Promise<Run[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...names], {
      cwd: side.dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const runs = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Run)
      if (code !== 0 && runs.length === 0)
        reject(new Error(`${side.label} (${side.revision}) exited ${code}`))
      else resolve(runs)
    })
  })
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export async function compare(args: readonly string[]): Promise<void> {
  const { against, rounds, names } = parseCompareArgs(args)
  const before = checkout(against)
  const after: Side = { label: 'after', dir: ROOT, revision: git('rev-parse', '--short', 'HEAD') }
  const results = new Map<string, Record<Side['label'], Run[]>>()
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate which side goes first, so a machine getting busier or quieter favours neither.
      const order = round % 2 === 1 ? [before, after] : [after, before]
      for (const side of order) {
        process.stderr.write(`compare: round ${round}/${rounds}, ${side.label} (${side.revision})\n`)
        for (const run of await runSide(side, names)) {
          const entry = results.get(run.benchmark) ?? { before: [], after: [] }
          entry[side.label].push(run)
          results.set(run.benchmark, entry)
        }
      }
    }
  } finally {
    git('worktree', 'remove', '--force', before.dir)
  }
  for (const [benchmark, sides] of results) {
    const ratio = (side: Side['label']) => median(sides[side].map((r) => r.ratio))
    const value = (side: Side['label']) => median(sides[side].map((r) => r.inkstream))
    const change = ratio('after') / ratio('before')
    const metric = sides.after[0]?.metric ?? sides.before[0]?.metric ?? ''
    const line = {
      benchmark,
      metric,
      before: { revision: before.revision, ratio: ratio('before'), inkstream: value('before') },
      after: { revision: after.revision, ratio: ratio('after'), inkstream: value('after') },
      /** after ÷ before, of the medians of the ratios against each run's own baseline. */
      change,
      rounds,
      runs: sides,
    }
    process.stdout.write(`${JSON.stringify(line)}\n`)
    process.stdout.write(
      `${benchmark}: ratio to baseline ${ratio('before').toFixed(3)} at ${before.revision} → ` +
        `${ratio('after').toFixed(3)} at ${after.revision} (×${change.toFixed(3)}; ${metric}; ` +
        `medians of ${sides.before.length} and ${sides.after.length} runs)\n`,
    )
  }
}
