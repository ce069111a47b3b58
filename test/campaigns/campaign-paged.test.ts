/**
 * Paged audiences: a segment larger than one page is read page by page and each member gets one
 * message; a run aborted mid-campaign and started again reads no profile of the recipients it
 * already handled and sends nobody twice. The runner against a real SMTP server and a real app.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { DATABASE_FILE } from '../../src/app.ts'
import { type MemberRow, ProfileAudienceResolver } from '../../src/campaigns/audience.ts'
import type { Campaign } from '../../src/campaigns/campaign-runner.ts'
import { segmentMembersOf } from '../../src/composition.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { Transport } from '../../src/delivery/transport.ts'
import { SqliteSegmentStore } from '../../src/segments/sqlite-segment-store.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { api, identify } from './campaign-api.ts'
import { buildCampaignPieces, putTemplate } from './campaign-fixture.ts'

let app: TestApp
let smtp: TestSmtpServer

before(async () => {
  app = await startTestApp()
  smtp = await startSmtpServer()
  await putTemplate(app, 'paged')
})

after(async () => {
  await smtp.close()
  await app.close()
})

const message = (id: string): Omit<Campaign, 'audience'> => ({
  id,
  templateId: 'paged',
  from: 'Shop <shop@example.com>',
  vars: { greeting: 'Hi' },
})

const receivedBy = (prefix: string) => {
  const counts = new Map<string, number>()
  for (const m of smtp.received) {
    const to = m.rcptTo[0] ?? ''
    if (to.startsWith(prefix)) counts.set(to, (counts.get(to) ?? 0) + 1)
  }
  return counts
}

test('a segment of 25 read 7 at a time: 4 pages, each member one message', async () => {
  const ids = Array.from({ length: 25 }, (_, i) => `seg-${String(i).padStart(2, '0')}`)
  await identify(app, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com`, tier: 'gold' }])))
  await identify(app, { 'seg-silver': { email: 'seg-silver@example.com', tier: 'silver' } })
  assert.ok((await api(app, 'PUT', '/v1/segments/gold', { condition: { tier: 'gold' } })).status < 300)
  const db = openSqlite(join(app.dataDir, DATABASE_FILE))
  const segments = new SqliteSegmentStore(db)
  const pieces = buildCampaignPieces({ app, smtpPort: smtp.port, ledgerFile: join(app.dataDir, 'paged.db') })
  try {
    const deadline = Date.now() + 20_000
    while ((await segments.members(app.workspace.id, 'gold', { limit: 100 })).length < 25) {
      assert.ok(Date.now() < deadline, 'the segment was not filled')
      await new Promise((r) => setTimeout(r, 20))
    }
    const pages: MemberRow[][] = []
    const members = segmentMembersOf(segments)
    const resolver = new ProfileAudienceResolver({
      segmentMembers: {
        page: async (ws, seg, p) => {
          const rows = await members.page(ws, seg, p)
          pages.push(rows)
          return rows
        },
      },
      lookupEmail: async () => assert.fail('a segment member row carries the address: no profile read'),
      pageSize: 7,
    })
    const summary = await pieces.runner.run(app.workspace.id, {
      ...message('segment-paged'),
      audience: (handled) => resolver.pages(app.workspace.id, { segment: 'gold' }, { handled }),
    })
    assert.deepEqual(
      pages.map((p) => p.length),
      [7, 7, 7, 4],
    )
    assert.deepEqual(summary, {
      sent: 25,
      failed: 0,
      suppressed: 0,
      skipped: 0,
      unknown: 0,
      deferred: 0,
      remaining: 0,
    })
    const counts = receivedBy('seg-')
    assert.deepEqual(
      [...counts.keys()].sort(),
      ids.map((id) => `${id}@example.com`),
    )
    for (const n of counts.values()) assert.equal(n, 1)
  } finally {
    await pieces.close()
    await segments.close()
    db.close()
  }
})

test('a run aborted mid-campaign resumes without reading handled profiles again or sending twice', async () => {
  const ids = Array.from({ length: 30 }, (_, i) => `res-${String(i).padStart(2, '0')}`)
  await identify(app, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com` }])))
  let sends = 0
  const controller = new AbortController()
  const counting = (inner: Transport): Transport => ({
    send: async (m) => {
      const outcome = await inner.send(m)
      if (++sends === 10) controller.abort()
      return outcome
    },
    close: () => inner.close(),
  })
  const pieces = buildCampaignPieces({
    app,
    smtpPort: smtp.port,
    ledgerFile: join(app.dataDir, 'resume.db'),
    wrapTransport: counting,
    deps: { concurrency: 2 },
  })
  const looked: string[] = []
  const resolver = new ProfileAudienceResolver({
    lookupEmail: async (_ws, userId) => {
      looked.push(userId)
      return `${userId}@example.com`
    },
    pageSize: 4,
  })
  const campaign: Campaign = {
    ...message('resume-paged'),
    audience: (handled) => resolver.pages(app.workspace.id, { userIds: ids }, { handled }),
    total: ids.length,
  }
  try {
    const first = await pieces.runner.run(app.workspace.id, campaign, undefined, {
      signal: controller.signal,
    })
    assert.ok(first.remaining > 0)
    const handled = (await pieces.ledger.list(app.workspace.id, 'resume-paged')).map((e) => e.recipient)
    assert.ok(handled.length >= 10 && handled.length < ids.length, `${handled.length} handled`)
    looked.length = 0
    const second = await pieces.runner.run(app.workspace.id, campaign)
    // Only the recipients without a ledger row were read again, each once.
    assert.deepEqual(
      looked,
      ids.filter((id) => !handled.includes(id)),
    )
    assert.deepEqual(
      [second.sent, second.skipped, second.remaining],
      [ids.length - handled.length, handled.length, 0],
    )
    const counts = receivedBy('res-')
    assert.equal(counts.size, ids.length)
    for (const [to, n] of counts) assert.equal(n, 1, to)
  } finally {
    await pieces.close()
  }
})
