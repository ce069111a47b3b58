/**
 * An erasure interrupted after the store's transaction and before the log's copies were deleted
 * (src/privacy/erasure-resume.ts): the audit says `log: 'pending'`, and the next start of the app
 * deletes the person's events from the SQLite log by the hashes of its identities (the store keeps
 * no ids), completes the audit, and leaves everyone else's events.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { LOG_FILE } from '../../src/app.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteEventLog } from '../../src/log/sqlite-event-log.ts'
import { identityHash } from '../../src/privacy/erasure-plan.ts'
import { ErasuresInFlight, resumeErasures } from '../../src/privacy/erasure-resume.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'

/** Events in the log file naming `id` as userId, anonymousId or previousId. */
function logEventsOf(dataDir: string, id: string): number {
  const db = new Database(join(dataDir, LOG_FILE), { readonly: true })
  try {
    return db
      .prepare(
        `SELECT count(*) FROM log_events WHERE json_extract(payload, '$.userId') = @id
           OR json_extract(payload, '$.anonymousId') = @id OR json_extract(payload, '$.previousId') = @id`,
      )
      .pluck()
      .get({ id }) as number
  } finally {
    db.close()
  }
}

async function send(app: TestApp, path: string, body: object): Promise<void> {
  const res = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  assert.equal(res.status, 200, await res.text())
}

/** An audit entry as GET /v1/audit lists it (the fields read here). */
interface AuditEntry {
  action: string
  details: Record<string, number | string | null>
}

const admin = async (app: TestApp, method: string, path: string) => {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  return { status: res.status, body: (await res.json()) as { entries: AuditEntry[] } }
}

test('an erasure killed before the log was erased is finished when the app starts again', {
  timeout: 60_000,
}, async () => {
  const dataDir = tempDir('inkstream-erase-resume-')
  try {
    // First life: the erasure's transaction commits, then the step before the log's copies fails.
    const first = await startTestApp({ dataDir, failpoints: 'privacy.after-erase=throw' })
    try {
      // Before she signed in (anonymous), then as ann; bob alongside.
      await send(first, '/v1/page', { anonymousId: 'anon-ann', name: 'Home' })
      await send(first, '/v1/identify', {
        userId: 'ann',
        anonymousId: 'anon-ann',
        traits: { email: 'ann@example.com' },
      })
      await send(first, '/v1/track', { userId: 'ann', event: 'Product Viewed', properties: { sku: 'a1' } })
      await send(first, '/v1/track', { userId: 'bob', event: 'Product Viewed', properties: { sku: 'b1' } })
      await waitForProcessed(first)
      const erase = await admin(first, 'DELETE', '/v1/profiles/ann')
      assert.equal(erase.status, 500, JSON.stringify(erase.body))
      const [entry] = (await admin(first, 'GET', '/v1/audit')).body.entries
      assert.deepEqual(
        [entry?.action, entry?.details.log, entry?.details.logEvents],
        ['erase', 'pending', null],
      )
      // The profile is gone (a second DELETE could not reach the log), her events are not.
      assert.equal((await admin(first, 'DELETE', '/v1/profiles/ann')).status, 404)
    } finally {
      await first.close()
    }
    assert.equal(logEventsOf(dataDir, 'ann'), 2)
    assert.equal(logEventsOf(dataDir, 'anon-ann'), 2)

    // Second life: finished at start.
    const second = await startTestApp({ dataDir })
    try {
      const deadline = Date.now() + 10_000
      let entry: AuditEntry | undefined
      for (;;) {
        ;[entry] = (await admin(second, 'GET', '/v1/audit')).body.entries
        if (entry!.details.log !== 'pending' || Date.now() > deadline) break
        await new Promise((r) => setTimeout(r, 50))
      }
      // The identify names both ids: three events in all.
      assert.deepEqual([entry!.details.log, entry!.details.logEvents], ['erased', 3])
      assert.equal(entry!.details.profiles, 1, 'the store counts are kept')
      assert.equal(logEventsOf(dataDir, 'ann'), 0)
      assert.equal(logEventsOf(dataDir, 'anon-ann'), 0)
      assert.equal(logEventsOf(dataDir, 'bob'), 1)
    } finally {
      await second.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
})

test('the resume skips an erasure in flight, finishes each pending one once, and says retention where the log cannot delete', async () => {
  const dir = tempDir('inkstream-erase-resume-unit-')
  const db = openSqlite(join(dir, 'log.db'))
  const log = new SqliteEventLog(db, { pollMs: 10, eraseChunk: 3 })
  try {
    const at = Date.parse('2026-12-01T00:00:00Z')
    const ev = (i: number, userId: string, ws = 'w') => ({
      type: 'track' as const,
      event: 'Viewed',
      userId,
      workspaceId: ws,
      messageId: `m${i}`,
      timestamp: new Date(at).toISOString(),
      receivedAt: new Date(at).toISOString(),
    })
    // Chunks of 3 offsets: the erasure by hash runs across chunk boundaries, and only in workspace w.
    await log.append(Array.from({ length: 10 }, (_, i) => ev(i, i % 2 === 0 ? 'ann' : 'bob')))
    await log.append([ev(10, 'ann', 'other-workspace')])
    const completed: [number, Record<string, unknown>][] = []
    const pending = [
      {
        auditId: 1,
        workspaceId: 'w',
        at,
        details: { profiles: 1, logEvents: null, log: 'pending' },
        idHashes: [identityHash('w', 'ann')],
      },
      {
        auditId: 2,
        workspaceId: 'w',
        at,
        details: { profiles: 1, logEvents: null, log: 'pending' },
        idHashes: [identityHash('w', 'bob')],
      },
    ]
    const privacy = {
      pendingErasures: async (before: number) =>
        before >= at ? pending.filter((p) => !completed.some(([id]) => id === p.auditId)) : [],
      // As the stores do: only a pending entry is completed.
      completeAudit: async (id: number, details: Record<string, unknown>) => {
        if (completed.some(([done]) => done === id)) return false
        completed.push([id, details])
        return true
      },
    }
    const logger = { info: () => {}, warn: () => {}, error: () => {} }
    const inFlight = new ErasuresInFlight()
    const deps = {
      privacy: privacy as never,
      eraseLogEventsByHash: (ws: string, hashes: readonly string[]) =>
        log.eraseEventsByHash(ws, hashes, identityHash),
      logger,
      clock: { now: () => at },
    }
    // bob's erasure is still being carried out by its route: left to it.
    let done = 0
    await inFlight.around(2, async () => {
      done = await resumeErasures(deps, at, inFlight)
    })
    assert.equal(done, 1)
    assert.deepEqual(completed, [[1, { profiles: 1, logEvents: 5, log: 'erased' }]])
    assert.equal(await resumeErasures(deps, at - 1, inFlight), 0, 'none audited that early')
    // Where the log cannot delete (Kafka), the audit says so instead.
    assert.equal(await resumeErasures({ ...deps, eraseLogEventsByHash: undefined }, at, inFlight), 1)
    assert.deepEqual(completed[1], [2, { profiles: 1, logEvents: null, log: 'retention' }])
    // ann's events of the other workspace are not hers there (a hash includes the workspace).
    const left = db
      .prepare("SELECT workspace_id, json_extract(payload, '$.userId') AS u FROM log_events ORDER BY offset")
      .all()
    assert.deepEqual(left, [
      ...Array.from({ length: 5 }, () => ({ workspace_id: 'w', u: 'bob' })),
      { workspace_id: 'other-workspace', u: 'ann' },
    ])
  } finally {
    await log.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the resume goes on past an erasure that fails, and keeps what another finished first', async () => {
  const at = Date.parse('2026-12-01T00:00:00Z')
  const pending = [1, 2, 3].map((auditId) => ({
    auditId,
    workspaceId: 'w',
    at,
    details: { profiles: 1, logEvents: null, log: 'pending' },
    idHashes: [`h${auditId}`],
  }))
  const completed = new Map<number, Record<string, unknown>>([
    [3, { profiles: 1, logEvents: 7, log: 'erased' }],
  ])
  const logged: [string, string, unknown][] = []
  const deps = {
    privacy: {
      // Entry 3 was finished by its route between the read and the resume's completion.
      pendingErasures: async () => pending,
      completeAudit: async (id: number, details: Record<string, unknown>) => {
        if (completed.has(id)) return false
        completed.set(id, details)
        return true
      },
    } as never,
    // The log refuses entry 1's erasure (a locked database, a full disk).
    eraseLogEventsByHash: async (_ws: string, hashes: readonly string[]) => {
      if (hashes[0] === 'h1') throw new Error('database is locked')
      return 2
    },
    logger: {
      info: (o: object, msg: string) =>
        logged.push(['info', msg, (o as Record<string, unknown>)['inkstream.audit_id']]),
      warn: (o: object, msg: string) =>
        logged.push(['warn', msg, (o as Record<string, unknown>)['inkstream.audit_id']]),
      error: (o: object, msg: string) =>
        logged.push(['error', msg, (o as Record<string, unknown>)['inkstream.audit_id']]),
    },
    clock: { now: () => at },
  }
  assert.equal(await resumeErasures(deps, at, new ErasuresInFlight()), 1, 'only entry 2 finished by this run')
  assert.deepEqual(
    [...completed.entries()].sort(([a], [b]) => a - b),
    [
      [2, { profiles: 1, logEvents: 2, log: 'erased' }],
      // Not overwritten by the resume's own count.
      [3, { profiles: 1, logEvents: 7, log: 'erased' }],
    ],
  )
  assert.deepEqual(
    logged.map(([level, , id]) => [level, id]),
    [
      ['error', 1],
      ['info', 2],
      ['warn', 3],
    ],
  )
})
