/**
 * The PrivacyStore on both backends, on stores opened as the app opens them: an erasure removes the
 * open-webhook deliveries whose event names the person (pending and delivered), keeps everyone
 * else's, and a second erasure of the same profile finds nothing.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { PgAnalyticsStore } from '../../src/analytics/pg-analytics-store.ts'
import { SqliteAnalyticsStore } from '../../src/analytics/sqlite-analytics-store.ts'
import { PgCampaignStore } from '../../src/campaigns/pg-campaign-store.ts'
import { PgSendLedger } from '../../src/campaigns/pg-send-ledger.ts'
import { SqliteCampaignStore } from '../../src/campaigns/sqlite-campaign-store.ts'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { PgSuppressionStore } from '../../src/delivery/pg-suppression-store.ts'
import { SqliteSuppressionStore } from '../../src/delivery/sqlite-suppression-store.ts'
import { hashedAddress, type SuppressionStore } from '../../src/delivery/suppression-store.ts'
import type { BatchStore } from '../../src/pipeline/batch-store.ts'
import { PgBatchStore } from '../../src/pipeline/pg-batch-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { identityHash } from '../../src/privacy/erasure-plan.ts'
import { PgPrivacyStore } from '../../src/privacy/pg-privacy-store.ts'
import type { PrivacyStore } from '../../src/privacy/privacy-store.ts'
import { SqlitePrivacyStore } from '../../src/privacy/sqlite-privacy-store.ts'
import { emptyState } from '../../src/traits/computed-traits.ts'
import type { WebhookOutbox } from '../../src/webhooks/outbox.ts'
import { PgWebhookOutbox } from '../../src/webhooks/pg-outbox.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { changes, profile } from '../pipeline/batch-store-suite.ts'

interface Opened {
  batch: BatchStore
  privacy: PrivacyStore
  outbox: WebhookOutbox
  suppressions: SuppressionStore
  /** The event ids of the webhook deliveries left. */
  deliveries(): Promise<string[]>
  close(): Promise<void>
}

const open = (userId: string, messageId: string): InkEvent => ({
  type: 'track',
  event: 'Email Opened',
  messageId,
  workspaceId: 'w',
  userId,
  properties: { email_id: `e-${messageId}` },
  timestamp: new Date(1_800_000_000_000).toISOString(),
  receivedAt: new Date(1_800_000_000_000).toISOString(),
})

function privacySuite(name: string, skip: string | false, opener: () => Promise<Opened>) {
  describe(`PrivacyStore: ${name}`, { skip }, () => {
    test('an erasure deletes the open-webhook deliveries naming the person, and only those', async () => {
      const s = await opener()
      try {
        const ann = profile('p-ann', {
          userId: 'ann%_1',
          state: { ...emptyState(), traits: { email: 'ann@example.com' } },
        })
        await s.batch.commit(
          changes({
            upserts: [ann, profile('p-bob', { userId: 'bob' })],
            identities: [
              { workspaceId: 'w', kind: 'userId', value: 'ann%_1', profileId: 'p-ann' },
              { workspaceId: 'w', kind: 'userId', value: 'bob', profileId: 'p-bob' },
            ],
          }),
        )
        // An id with LIKE's wildcards: matched as itself, never as a pattern (bob's `ann-x1` is not hers).
        await s.outbox.enqueue(open('ann%_1', 'm1'))
        await s.outbox.enqueue(open('ann%_1', 'm2'))
        await s.outbox.enqueue(open('annXX1', 'm3'))
        await s.outbox.enqueue(open('bob', 'm4'))
        // The audit row is part of the erasure's transaction: when it cannot be written (no actor:
        // NOT NULL), nothing is erased.
        await assert.rejects(s.privacy.erase('w', 'p-ann', 1_800_000_000_000, null as never))
        assert.equal((await s.batch.getProfile('w', 'p-ann'))?.userId, 'ann%_1')
        assert.deepEqual(await s.privacy.auditPage('w', { limit: 10 }), [])
        const erased = await s.privacy.erase('w', 'p-ann', 1_800_000_000_000, 'admin-key:test')
        assert.equal(erased?.counts.webhookDeliveries, 2)
        assert.equal(erased?.counts.profiles, 1)
        assert.equal(erased?.counts.erasedAddresses, 1)
        assert.deepEqual(erased?.ids, ['ann%_1'])
        assert.deepEqual((await s.deliveries()).sort(), ['m3', 'm4'])
        // Audited with the erasure: the log's count is null until completeAudit.
        const [entry] = await s.privacy.auditPage('w', { limit: 10 })
        assert.deepEqual(
          [entry?.id, entry?.action, entry?.profileId, entry?.actor, entry?.at],
          [erased?.auditId, 'erase', 'p-ann', 'admin-key:test', 1_800_000_000_000],
        )
        assert.deepEqual(entry?.details, { ...erased?.counts, logEvents: null, log: 'pending' })
        // Pending until completed: what erasure-resume.ts finishes after a crash, with the hashes of
        // the identities (the tombstones), never the ids; not before the erasure's time.
        assert.deepEqual(await s.privacy.pendingErasures(1_800_000_000_000 - 1), [])
        assert.deepEqual(await s.privacy.pendingErasures(1_800_000_000_000), [
          {
            auditId: erased!.auditId,
            workspaceId: 'w',
            at: 1_800_000_000_000,
            details: entry!.details,
            idHashes: [identityHash('w', 'ann%_1')],
          },
        ])
        assert.equal(
          await s.privacy.completeAudit(erased!.auditId, { ...erased!.counts, logEvents: 3, log: 'erased' }),
          true,
        )
        assert.equal((await s.privacy.auditPage('w', { limit: 10 }))[0]?.details.logEvents, 3)
        // The first to finish it is what it says: a late second completion changes nothing.
        assert.equal(
          await s.privacy.completeAudit(erased!.auditId, { ...erased!.counts, logEvents: 0, log: 'erased' }),
          false,
        )
        assert.equal((await s.privacy.auditPage('w', { limit: 10 }))[0]?.details.logEvents, 3)
        assert.deepEqual(await s.privacy.pendingErasures(1_800_000_000_000), [])
        assert.equal(await s.privacy.erase('w', 'p-ann', 1_800_000_000_001, 'admin-key:test'), undefined)
        assert.equal(
          (await s.privacy.auditPage('w', { limit: 10 })).length,
          1,
          'nothing erased, nothing audited',
        )
        assert.equal((await s.batch.getProfile('w', 'p-bob'))?.userId, 'bob')

        // The hashed entry suppresses the address in any spelling, for one send and for an audience;
        // the list shows the hash; lifting by address does not lift it.
        const hash = hashedAddress('ann@example.com')
        assert.equal(await s.suppressions.isSuppressed('w', ' Ann@EXAMPLE.com'), true)
        assert.equal(await s.suppressions.isSuppressed('other-workspace', 'ann@example.com'), false)
        assert.deepEqual(
          [...(await s.suppressions.suppressed('w', ['ANN@example.com', 'bob@example.com']))],
          ['ANN@example.com'],
        )
        assert.deepEqual(
          (await s.suppressions.get('w', 'ann@example.com')).map((e) => [e.email, e.reason, e.source]),
          [[hash, 'erased', 'erasure']],
        )
        assert.deepEqual(
          (await s.suppressions.list('w')).map((e) => e.email),
          [hash],
        )
        assert.equal(await s.suppressions.remove('w', 'ann@example.com'), 0)
        assert.equal(await s.suppressions.isSuppressed('w', 'ann@example.com'), true)
        // PUT cannot write the reason: only an erasure does.
        await assert.rejects(
          s.suppressions.suppress('w', 'carl@example.com', { reason: 'erased' as never, source: 'api' }),
          /unknown suppression reason/,
        )
      } finally {
        await s.close()
      }
    })
  })
}

privacySuite('SQLite', false, async () => {
  const dir = tempDir('inkstream-privacy-')
  const db = openSqlite(join(dir, 'store.db'))
  const suppressions = new SqliteSuppressionStore(db)
  const stores = [
    suppressions,
    new SqliteSendLedger(db),
    new SqliteCampaignStore(db),
    new SqliteAnalyticsStore(db),
  ]
  const outbox = new SqliteWebhookOutbox(db)
  return {
    batch: new SqliteBatchStore(db),
    privacy: new SqlitePrivacyStore(db),
    outbox,
    suppressions,
    deliveries: async () => db.prepare('SELECT event_id FROM webhook_deliveries').pluck().all() as string[],
    async close() {
      for (const st of stores) await st.close()
      await outbox.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

privacySuite('PostgreSQL', await pgSkip(), async () => {
  const schema = await freshSchema()
  const pool = schema.connect()
  const batch = new PgBatchStore(pool)
  const suppressions = new PgSuppressionStore(pool)
  const ledger = new PgSendLedger(pool)
  const campaigns = new PgCampaignStore(pool)
  const outbox = new PgWebhookOutbox(pool)
  const privacy = new PgPrivacyStore(pool)
  await Promise.all([
    batch.ready(),
    suppressions.ready(),
    ledger.ready(),
    campaigns.ready(),
    outbox.ready(),
    privacy.ready(),
  ])
  await PgAnalyticsStore.open(pool)
  return {
    batch,
    privacy,
    outbox,
    suppressions,
    deliveries: async () =>
      (await pool.query<{ event_id: string }>('SELECT event_id FROM webhook_deliveries')).rows.map(
        (r) => r.event_id,
      ),
    close: () => schema.drop(),
  }
})
