/**
 * startup (issue 14: start-up ≤ 1 s for the server and every CLI command). Wall time from spawn to:
 * - `start`: the compiled server (dist/cli/main.js start, what `npm start` runs, on a fresh data
 *   folder) printed its banner and answered GET /healthz 200;
 * - `start-tsx`: the same, the way it ran before (TypeScript through tsx), for the before/after;
 * - `help`, `keys`, `lint` (an MJML file: loads mjml), `anomalies` (a CSV backtest): the compiled
 *   CLI ran the command and exited; `help-tsx`: `--help` through tsx;
 * - `bare`, the baseline (the floor of starting Node): `node -e` that starts a node:http server,
 *   answering its first request.
 * All sides in interleaved rounds (bench/lib/ab.ts), one at a time. The goal is absolute (median
 * ≤ 1,000 ms for every side but the tsx ones and the baseline): on a loaded machine every figure
 * grows, so each side is also reported as a ratio to `bare` of the same round, with the load
 * average, the other processes' core use, and each child's own CPU time (what it cost, whatever the
 * load).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliArgs } from '../scripts/dist.ts'
import { fmtSpread, interleaved, ratioPerRound, roundsFromEnv, type Sample } from './lib/ab.ts'
import { childrenCpuSeconds, machineCpuSeconds, ROOT, round } from './lib/children.ts'
import type { BenchResult } from './lib/report.ts'

const GOAL_MS = 1_000
const TIMEOUT_MS = 60_000
const READY = /is running at (http:\/\/\S+)/
const BARE = `require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () {
  process.stdout.write('is running at http://127.0.0.1:' + this.address().port + '\\n')
})`
const TSX = ['--import', 'tsx', 'src/cli/main.ts']

/**
 * Times one child: from spawn to `done` (its exit, or its first answer), then ends it and waits
 * for its exit, so its CPU time is in cutime. The other processes' core use over the same span
 * is the machine's minus this process's and the child's.
 */
async function timeChild(
  args: string[],
  env: NodeJS.ProcessEnv,
  until: 'exit' | 'answer',
  healthPath = '/healthz',
): Promise<Sample> {
  const machine0 = machineCpuSeconds()
  const self0 = process.cpuUsage()
  const children0 = childrenCpuSeconds()
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let readyMs: number
  let bannerMs: number | undefined
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
  try {
    if (until === 'exit') {
      const code = await exited
      readyMs = performance.now() - t0
      // lint exits 1 on errors and the bench's file has none; every command here must succeed.
      if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}:\n${out}`)
    } else {
      const url = await waitFor(
        child,
        () => READY.exec(out)?.[1],
        exited,
        () => out,
      )
      bannerMs = performance.now() - t0
      await answered(`${url}${healthPath}`)
      readyMs = performance.now() - t0
      child.kill('SIGTERM')
      await exited
    }
  } finally {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  }
  const seconds = (performance.now() - t0) / 1000
  const self = process.cpuUsage(self0)
  const loadGen = (self.user + self.system) / 1e6
  const children1 = childrenCpuSeconds()
  const machine1 = machineCpuSeconds()
  const childCpu = children0 === undefined || children1 === undefined ? undefined : children1 - children0
  const other =
    machine0 === undefined || machine1 === undefined || childCpu === undefined
      ? null
      : round(Math.max(0, machine1 - machine0 - childCpu - loadGen) / seconds, 2)
  return {
    value: round(readyMs, 1),
    cpu: {
      serverCores: childCpu === undefined ? null : round(childCpu / seconds, 2),
      serverCpuWaitShare: null,
      loadGenCores: round(loadGen / seconds, 2),
      otherCores: other,
    },
    details: {
      childCpuMs: childCpu === undefined ? null : round(childCpu * 1000),
      ...(bannerMs === undefined ? {} : { bannerMs: round(bannerMs, 1) }),
    },
  }
}

function waitFor<T>(
  child: ChildProcess,
  check: () => T | undefined,
  exited: Promise<number | null>,
  output: () => string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const poll = () => {
      const got = check()
      if (got === undefined) return
      child.stdout?.off('data', poll)
      resolve(got)
    }
    child.stdout?.on('data', poll)
    void exited.then((code) => reject(new Error(`exited (${code}) before it was ready:\n${output()}`)))
  })
}

/** Resolves once `url` answers 200 (polled every 5 ms: the server may bind before it routes). */
async function answered(url: string): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS
  while (performance.now() < deadline) {
    const ok = await fetch(url).then(
      async (res) => {
        await res.arrayBuffer()
        return res.ok
      },
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`${url} did not answer 200 within ${TIMEOUT_MS} ms`)
}

export async function startup(): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'inkstream-bench-startup-'))
  try {
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('INKSTREAM_')) env[k] = v
    Object.assign(env, { INKSTREAM_PORT: '0', INKSTREAM_LOG_LEVEL: 'warn' })
    const fresh = () => ({ ...env, INKSTREAM_DATA_DIR: mkdtempSync(join(work, 'data-')) })
    // `keys` reads a store: the one a first start made.
    const keysEnv = fresh()
    await timeChild(cliArgs('start'), keysEnv, 'answer')
    const mjml = join(work, 'welcome.mjml')
    writeFileSync(
      mjml,
      '---\nsubject: Hello\n---\n<mjml><mj-body><mj-section><mj-column>' +
        '<mj-text>Hi {{ profile.first_name | default: "there" }}</mj-text></mj-column></mj-section></mj-body></mjml>\n',
    )
    const csv = join(ROOT, 'examples', 'anomalies-series.csv')
    const sides = {
      bare: () => timeChild(['-e', BARE], env, 'answer', '/'),
      start: () => timeChild(cliArgs('start'), fresh(), 'answer'),
      'start-tsx': () => timeChild([...TSX, 'start'], fresh(), 'answer'),
      help: () => timeChild(cliArgs('--help'), env, 'exit'),
      'help-tsx': () => timeChild([...TSX, '--help'], env, 'exit'),
      keys: () => timeChild(cliArgs('keys'), keysEnv, 'exit'),
      lint: () => timeChild(cliArgs('lint', mjml), env, 'exit'),
      anomalies: () => timeChild(cliArgs('anomalies', 'detect', '--input', csv), env, 'exit'),
    }
    const result = await interleaved(sides, roundsFromEnv())
    const goalSides = ['start', 'help', 'keys', 'lint', 'anomalies'] as const
    const figures = Object.fromEntries(
      Object.entries(result.sides).map(([name, side]) => [
        name,
        {
          ms: side.spread,
          ratioToBare: ratioPerRound(side, result.sides.bare),
          childCpuMs: side.samples.map((s) => s.details?.childCpuMs),
          ...(name.startsWith('start') ? { bannerMs: side.samples.map((s) => s.details?.bannerMs) } : {}),
          otherCores: side.samples.map((s) => s.cpu?.otherCores ?? null),
        },
      ]),
    )
    const worst = goalSides.reduce((a, b) =>
      result.sides[a].spread.median >= result.sides[b].spread.median ? a : b,
    )
    const met = goalSides.every((s) => result.sides[s].spread.median <= GOAL_MS)
    const start = result.sides.start
    const ratio = ratioPerRound(start, result.sides.bare)
    const line = (name: keyof typeof sides) =>
      `${name} ${Math.round(result.sides[name].spread.median)} ms (×${fmtSpread(figures[name]!.ratioToBare, 1)} bare)`
    return {
      benchmark: 'startup',
      metric: 'ms from spawn to ready (start: /healthz answered; commands: exited), median',
      inkstream: start.spread.median,
      baseline: result.sides.bare.spread.median,
      ratio: ratio.median,
      goal: `every command and the server ready in ≤ ${GOAL_MS} ms (median)`,
      met,
      details: {
        rounds: result.rounds,
        loadAverages: result.loadAverages,
        worstOtherCores: result.worstOtherCores,
        worstSide: worst,
        sides: figures,
        samples: result.sides,
      },
      summary:
        `startup: ${Object.keys(sides)
          .map((n) => line(n as keyof typeof sides))
          .join(', ')}; ` +
        `worst goal side ${worst}; goal ≤ ${GOAL_MS} ms ${met ? 'MET' : 'NOT MET'} ` +
        `(load ${result.loadAverages.join('/')}, other cores up to ${result.worstOtherCores ?? 'n/a'})`,
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
