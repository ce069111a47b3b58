/**
 * SIGKILL in the middle of a campaign, then a restart: nobody gets a message twice, and every
 * recipient the ledger calls `sent` has exactly one at the server.
 */

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DEFAULT_CONCURRENCY } from '../../src/campaigns/campaign-runner.ts'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { tempDir } from '../helpers/app.ts'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const COUNT = 200

let smtp: TestSmtpServer
let dataDir: string

before(async () => {
  smtp = await startSmtpServer()
  dataDir = tempDir('inkstream-campaign-crash-')
})

after(async () => {
  await smtp.close()
  rmSync(dataDir, { recursive: true, force: true })
})

function child(): { proc: ChildProcess; output: () => string; exited: Promise<number | string | null> } {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('INKSTREAM_') && !name.startsWith('NODE_TEST')) env[name] = value
  Object.assign(env, {
    INK_CHILD_DATA_DIR: dataDir,
    INK_CHILD_SMTP_PORT: String(smtp.port),
    INK_CHILD_COUNT: String(COUNT),
    INK_CHILD_RATE: '100',
  })
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/campaigns/run-campaign-child.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(signal ?? code)),
  )
  return { proc, output: () => output, exited }
}

test('a campaign killed with SIGKILL and restarted sends each recipient at most one message', async (t) => {
  const first = child()
  // Kill mid-campaign: after the 60th message (about 0.6 s of sends at 100 a second), long before the 200th.
  await smtp.waitForMessages(60, 30_000).catch((err: Error) => {
    first.proc.kill('SIGKILL')
    throw new Error(`${err.message}; child output:\n${first.output()}`)
  })
  first.proc.kill('SIGKILL')
  assert.equal(await first.exited, 'SIGKILL')
  const atKill = smtp.received.length
  assert.ok(atKill < COUNT, `the child finished before it was killed (${atKill} messages)`)

  const second = child()
  assert.equal(await second.exited, 0, second.output())
  const summary = JSON.parse(second.output().trim().split('\n').at(-1) ?? '{}') as Record<string, number>

  const perRecipient = new Map<string, number>()
  for (const m of smtp.received) {
    const to = m.rcptTo[0] ?? ''
    perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1)
  }
  const db = openSqlite(join(dataDir, 'ledger.db'))
  const ledger = new SqliteSendLedger(db)
  try {
    const entries = await ledger.list(workspaceOf(db), 'crash-campaign')
    assert.equal(entries.length, COUNT)
    for (const [to, n] of perRecipient) assert.ok(n <= 1, `${to} received ${n} messages`)
    let sent = 0
    let unknown = 0
    for (const e of entries) {
      const got = perRecipient.get(e.email) ?? 0
      if (e.state === 'sent') {
        sent++
        assert.equal(got, 1, `${e.recipient} is sent in the ledger but received ${got}`)
      } else {
        assert.equal(e.state, 'unknown', `${e.recipient} is ${e.state}: ${e.detail}`)
        unknown++
      }
    }
    // At most one message was in flight when the process died (one connection, one send at a time).
    // Each recipient in flight at the kill was claimed before its send: at most one per concurrent send.
    assert.ok(unknown <= DEFAULT_CONCURRENCY, `${unknown} recipients are unknown`)
    assert.equal(sent + unknown, COUNT)
    // The restarted run reports the recovered row as unknown, the first run's rows as skipped.
    assert.equal(summary.unknown, unknown)
    assert.ok((summary.sent ?? 0) > 0 && (summary.skipped ?? 0) > 0, JSON.stringify(summary))
    assert.equal((summary.sent ?? 0) + (summary.skipped ?? 0) + unknown, COUNT, JSON.stringify(summary))
    assert.equal(summary.remaining, 0)
    t.diagnostic(`killed after ${atKill} messages; restart: ${JSON.stringify(summary)}`)
  } finally {
    await ledger.close()
    db.close()
  }
})

function workspaceOf(db: ReturnType<typeof openSqlite>): string {
  const ws = db.prepare('SELECT DISTINCT workspace_id FROM send_ledger').pluck().all() as string[]
  assert.equal(ws.length, 1)
  return ws[0]!
}
