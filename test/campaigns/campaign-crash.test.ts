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
import { PgSendLedger } from '../../src/campaigns/pg-send-ledger.ts'
import type { LedgerEntry } from '../../src/campaigns/send-ledger.ts'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import { openPg } from '../../src/db/pg.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { tempDir } from '../helpers/app.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'

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

function child(opts: { dir?: string; count?: number; failpoints?: string; databaseUrl?: string } = {}): {
  proc: ChildProcess
  output: () => string
  exited: Promise<number | string | null>
} {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('INKSTREAM_') && !name.startsWith('NODE_TEST')) env[name] = value
  Object.assign(env, {
    INK_CHILD_DATA_DIR: opts.dir ?? dataDir,
    INK_CHILD_SMTP_PORT: String(smtp.port),
    INK_CHILD_COUNT: String(opts.count ?? COUNT),
    INK_CHILD_RATE: '100',
    ...(opts.failpoints ? { INK_CHILD_FAILPOINTS: opts.failpoints } : {}),
    ...(opts.databaseUrl ? { INK_CHILD_DATABASE_URL: opts.databaseUrl } : {}),
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

/** The ledger's rows after a run, from the SQLite file or the PostgreSQL database the child used. */
async function ledgerRows(dir: string, databaseUrl: string | undefined): Promise<LedgerEntry[]> {
  if (databaseUrl !== undefined) {
    const pool = openPg(databaseUrl, { max: 1 })
    const ledger = new PgSendLedger(pool)
    try {
      const { rows } = await pool.query<{ w: string }>('SELECT DISTINCT workspace_id AS w FROM send_ledger')
      assert.equal(rows.length, 1)
      return await ledger.list(rows[0]!.w, 'crash-campaign')
    } finally {
      await ledger.close()
      await pool.end()
    }
  }
  const db = openSqlite(join(dir, 'ledger.db'))
  const ledger = new SqliteSendLedger(db)
  try {
    return await ledger.list(workspaceOf(db), 'crash-campaign')
  } finally {
    await ledger.close()
    db.close()
  }
}

const pgMissing = await pgSkip()
for (const backend of ['SQLite', 'PostgreSQL'] as const)
  for (const point of ['ledger.after-claim', 'ledger.before-record'] as const) {
    test(`${backend} ledger, killed at ${point}: the interrupted recipient becomes unknown and is never sent twice`, {
      skip: backend === 'PostgreSQL' ? pgMissing : false,
    }, async () => {
      const dir = tempDir('inkstream-ledger-fp-')
      const database = backend === 'PostgreSQL' ? await freshDatabase('ink_ledger_fp') : undefined
      const databaseUrl = database?.url
      const count = 6
      // A server of its own: a child killed mid-connection can leave the previous one refusing.
      const previous = smtp
      smtp = await startSmtpServer()
      await previous.close().catch(() => {})
      const from = 0
      try {
        const first = child({
          dir,
          count,
          failpoints: `${point}=kill`,
          ...(databaseUrl ? { databaseUrl } : {}),
        })
        assert.equal(await first.exited, 'SIGKILL', `the child did not reach ${point}:\n${first.output()}`)
        // after-claim: killed right after the first claim, before any send; before-record: after a
        // send (the server may still be parsing the message it acknowledged when the child died).
        if (point === 'ledger.after-claim') assert.equal(smtp.received.length, from)
        else await smtp.waitForMessages(from + 1, 10_000)

        const second = child({ dir, count, ...(databaseUrl ? { databaseUrl } : {}) })
        assert.equal(await second.exited, 0, second.output())
        const perRecipient = new Map<string, number>()
        for (const m of smtp.received.slice(from)) {
          const to = m.rcptTo[0] ?? ''
          perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1)
        }
        const entries = await ledgerRows(dir, databaseUrl)
        assert.equal(entries.length, count)
        const unknown = entries.filter((e) => e.state === 'unknown')
        assert.ok(unknown.length >= 1 && unknown.length <= DEFAULT_CONCURRENCY, `${unknown.length} unknown`)
        for (const e of entries) {
          const got = perRecipient.get(e.email) ?? 0
          if (e.state === 'sent') assert.equal(got, 1, `${e.recipient} is sent but received ${got}`)
          else assert.equal(e.state, 'unknown', `${e.recipient} is ${e.state}: ${e.detail}`)
          assert.ok(got <= 1, `${e.recipient} received ${got} messages`)
        }
        // Claimed, then killed: not sent, and not sent after the restart either.
        if (point === 'ledger.after-claim')
          assert.ok(unknown.every((e) => (perRecipient.get(e.email) ?? 0) === 0))
        // Sent, then killed before the outcome was written: the one message stays the only one.
        else assert.ok(unknown.some((e) => perRecipient.get(e.email) === 1))
      } finally {
        rmSync(dir, { recursive: true, force: true })
        await database?.drop()
      }
    })
  }
