import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { cliArgs } from '../../scripts/dist.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname

/** Runs the real CLI in a child process; resolves with stdout, stderr and the exit code. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, cliArgs(...args), {
      cwd: ROOT,
    })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

const T0 = Date.UTC(2026, 0, 5) / 1000

describe('inkstream anomalies detect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-anomalies-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  // 200 minutes alternating 99 and 101 (median 100, every error 1: scale 1.4826), a spike of 130
  // at minute 100 and no value at minute 120.
  const flat = join(dir, 'flat.csv')
  const rows = ['timestamp,value']
  for (let i = 0; i < 200; i++) {
    rows.push(`${T0 + i * 60},${i === 120 ? '' : i === 100 ? 130 : i % 2 === 0 ? 99 : 101}`)
  }
  writeFileSync(flat, `${rows.join('\n')}\n`)

  it('prints one line per row with the expected range, score and flag: the spike is flagged, normal points are not', async () => {
    const { stdout, stderr, code } = await cli(['anomalies', 'detect', '--input', flat])
    assert.equal(code, 0)
    const lines = stdout.trimEnd().split('\n')
    assert.equal(lines.length, 201)
    assert.equal(lines[0], 'timestamp,value,expected,lower,upper,score,anomaly')
    // Warming up: nothing known yet; then a forecast; then a range and a score.
    assert.equal(lines[1], `${T0},99,,,,0,0`)
    assert.equal(lines[11], `${T0 + 600},99,100,,,0,0`)
    assert.equal(lines[99], `${T0 + 98 * 60},99,100,92.587,107.413,0.674491,0`)
    assert.equal(lines[100], `${T0 + 99 * 60},101,100,92.587,107.413,0.674491,0`)
    assert.equal(lines[101], `${T0 + 100 * 60},130,100,92.587,107.413,20.2347,1`)
    assert.equal(lines[121], `${T0 + 120 * 60},,101,93.587,108.413,0,0`)
    assert.deepEqual(
      lines.filter((l) => l.endsWith(',1')),
      [`${T0 + 100 * 60},130,100,92.587,107.413,20.2347,1`],
    )
    assert.equal(stderr, '200 rows, 1 anomalous points, 1 episodes\n')
  })

  it('takes the threshold and prints only anomalies when asked', async () => {
    const high = await cli(['anomalies', 'detect', '--input', flat, '--threshold', '25'])
    assert.equal(high.code, 0)
    assert.equal(high.stdout.split('\n')[101], `${T0 + 100 * 60},130,100,62.935,137.065,20.2347,0`)
    const only = await cli(['anomalies', 'detect', '--input', flat, '--only-anomalies'])
    assert.equal(
      only.stdout,
      `timestamp,value,expected,lower,upper,score,anomaly\n${T0 + 100 * 60},130,100,92.587,107.413,20.2347,1\n`,
    )
  })

  it('reads ISO-8601 and epoch-millisecond timestamps, without a header', async () => {
    const file = join(dir, 'iso.csv')
    const lines = []
    for (let i = 0; i < 60; i++) {
      const t = (T0 + i * 60) * 1000
      const ts = i % 2 === 0 ? new Date(t).toISOString() : String(t)
      lines.push(`${ts},${i === 50 ? 200 : i % 2 === 0 ? 99 : 101}`)
    }
    writeFileSync(file, `${lines.join('\r\n')}\r\n`)
    const { stdout, code } = await cli(['anomalies', 'detect', '--input', file, '--only-anomalies'])
    assert.equal(code, 0)
    assert.equal(
      stdout,
      'timestamp,value,expected,lower,upper,score,anomaly\n2026-01-05T00:50:00.000Z,200,100,92.587,107.413,67.4491,1\n',
    )
  })

  it('reports every bad row with its line number and exits with 2 before printing anything', async () => {
    const file = join(dir, 'bad.csv')
    writeFileSync(
      file,
      [
        'timestamp,value',
        `${T0},1`,
        `${T0 + 60},abc`,
        `2026-01-05T00:02:00,3`,
        `${T0 + 180},4,5`,
        `${T0 * 1000},6`,
        'yesterday,7',
      ].join('\n'),
    )
    const { stdout, stderr, code } = await cli(['anomalies', 'detect', '--input', file])
    assert.equal(code, 2)
    assert.equal(stdout, '')
    assert.equal(
      stderr,
      [
        `${file}:3: value "abc" is not a number (leave it empty for a missing minute)`,
        `${file}:4: timestamp "2026-01-05T00:02:00" has no time zone; add Z or an offset such as +02:00`,
        `${file}:5: expected 2 fields (timestamp,value), found 3`,
        `${file}:6: timestamp ${T0 * 1000} is not after the previous row's (rows must be in time order, one per 60 s step)`,
        `${file}:7: timestamp "yesterday" is neither ISO-8601 nor epoch seconds/milliseconds`,
        '5 bad rows; nothing was scored',
        '',
      ].join('\n'),
    )
  })

  it('finds the four anomalies of the shipped example (the README command)', async () => {
    const { stdout, stderr, code } = await cli([
      'anomalies',
      'detect',
      '--input',
      'examples/anomalies-series.csv',
    ])
    assert.equal(code, 0)
    assert.equal(stderr, '2880 rows, 68 anomalous points, 5 episodes\n')
    // The first point of each run of flagged points: a drop to zero and its recovery at a higher
    // level (one episode), a 3-point spike (flagged at its third point by the run test), a level
    // shift, and a 37-minute dip and its end (the dip had been taken as the level meanwhile).
    const lines = stdout.trimEnd().split('\n')
    const starts = lines
      .filter((l, i) => l.endsWith(',1') && !lines[i - 1]!.endsWith(',1'))
      .map((l) => l.split(',')[0])
    assert.deepEqual(starts, [
      '2026-01-05T05:10:00Z',
      '2026-01-05T05:47:00Z',
      '2026-01-05T17:07:00Z',
      '2026-01-06T02:07:00Z',
      '2026-01-06T13:50:00Z',
      '2026-01-06T14:27:00Z',
    ])
  })

  it('--series runs the settings the server gives that series; the options override them', async () => {
    // A failure rate at 0 for 200 minutes, then one failed send among a thousand (0.001).
    const rate = join(dir, 'rate.csv')
    const lines = Array.from({ length: 201 }, (_, i) => `${T0 + i * 60},${i === 200 ? 0.001 : 0}`)
    writeFileSync(rate, `${lines.join('\n')}\n`)
    const last = (out: string) => out.trimEnd().split('\n').at(-1)?.split(',').at(-1)
    // The detector's defaults (a count's): the MAD of a constant is 0, so any change is flagged.
    const plain = await cli(['anomalies', 'detect', '--input', rate])
    assert.equal(plain.code, 0, plain.stderr)
    assert.equal(last(plain.stdout), '1')
    // The server's settings for send_failure_rate (up only, a floor of 0.02 under the scale): not flagged.
    const server = await cli(['anomalies', 'detect', '--input', rate, '--series', 'send_failure_rate'])
    assert.equal(server.code, 0, server.stderr)
    assert.equal(last(server.stdout), '0')
    // An explicit option wins over the series' setting.
    const floorless = await cli([
      'anomalies',
      'detect',
      '--input',
      rate,
      '--series',
      'send_failure_rate',
      '--min-scale',
      '0',
    ])
    assert.equal(last(floorless.stdout), '1')
    const unknown = await cli(['anomalies', 'detect', '--input', rate, '--series', 'failures'])
    assert.equal(unknown.code, 2)
    assert.match(
      unknown.stderr,
      /^--series must name a rollup series \(ingest_rate, .*cc_success_ratio:<source>\), got "failures"/,
    )
  })

  it('exits with 2 and the usage on a missing input, an unreadable file or a bad option', async () => {
    const noInput = await cli(['anomalies', 'detect'])
    assert.equal(noInput.code, 2)
    assert.match(noInput.stderr, /^--input is required\nusage: inkstream anomalies detect/)
    const missing = await cli(['anomalies', 'detect', '--input', join(dir, 'nope.csv')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /^cannot read .*nope\.csv: ENOENT/)
    const bad = await cli(['anomalies', 'detect', '--input', flat, '--threshold', 'high'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^--threshold must be a number ≥ 0, got "high"/)
    const unknown = await cli(['anomalies', 'scan', '--input', flat])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /^unknown anomalies command "scan"/)
  })
})
