/**
 * The erase-and-export scenario, run on the embedded backends (SQLite log and store) and on the
 * scale-out ones (Kafka + PostgreSQL) by erase-export.test.ts: a person created through the real
 * ingest API, mailed by a campaign through a real SMTP server, who opens and clicks; then export,
 * erase, and every table read directly.
 */
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { simpleParser } from 'mailparser'
import { ANALYTICS_GROUP } from '../../src/analytics/analytics-store.ts'
import type { EventLog } from '../../src/log/event-log.ts'
import { MACHINE_OPEN_WINDOW_MS } from '../../src/observe/machine-open.ts'
import { PROFILES_GROUP } from '../../src/pipeline/processor.ts'
import type { Workspace } from '../../src/workspaces/workspace-store.ts'
import type { ApiBody } from '../campaigns/campaign-api.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth } from '../helpers/app.ts'

/** What a backend gives the scenario: a listening app, and direct reads of its store (and log). */
export interface ScenarioApp {
  url: string
  workspace: Workspace
  log: EventLog
  /** Every row of every store table, as text, by table (for the "no personal data left" scan). */
  dumpStore(): Promise<Map<string, string[]>>
  /** One query on the store; `?` placeholders. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  /** The SQLite log's rows and consumer positions; undefined on Kafka. */
  logRows?: () => { payloads: string[]; positions: Record<string, number> }
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tag = randomUUID().slice(0, 8)
const ANN = `ann-${tag}`
const ANN_ANON = `anon-ann-${tag}`
const ANN_EMAIL = `ann.${tag}@example.com`
const BOB = `bob-${tag}`
const BOB_EMAIL = `bob.${tag}@example.com`
const hashOf = (email: string) => `sha256:${createHash('sha256').update(email).digest('hex')}`

export function eraseExportScenario(
  name: string,
  skip: () => Promise<string | false>,
  start: (smtpUrl: string) => Promise<ScenarioApp>,
): void {
  describe(`erase and export on ${name}`, { timeout: 180_000 }, async () => {
    const skipped = await skip()
    let smtp: TestSmtpServer
    let app: ScenarioApp
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${app.workspace.adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return { status: res.status, body: (await res.json()) as ApiBody }
    }
    const ingest = async (batch: Record<string, unknown>[]) => {
      const res = await fetch(`${app.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch: batch.map((e) => ({ messageId: randomUUID(), ...e })) }),
      })
      assert.equal(res.status, 200, await res.text())
    }
    const processed = async () => {
      const deadline = Date.now() + 30_000
      while ((await app.log.lag(PROFILES_GROUP)) > 0) {
        if (Date.now() > deadline) throw new Error('processor behind')
        await sleep(20)
      }
    }
    const until = async <T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
      const deadline = Date.now() + 30_000
      for (;;) {
        const v = await read()
        if (ok(v)) return v
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`)
        await sleep(50)
      }
    }
    const campaign = async (id: string, userIds: string[]) => {
      const put = await api('PUT', `/v1/campaigns/${id}`, { templateId: 'news', audience: { userIds } })
      assert.equal(put.status, 201, JSON.stringify(put.body))
      assert.equal((await api('POST', `/v1/campaigns/${id}/start`)).status, 202)
      return until(
        `campaign ${id}`,
        async () => (await api('GET', `/v1/campaigns/${id}`)).body,
        (b) => ['done', 'failed'].includes(b.state),
      )
    }

    before(async () => {
      if (skipped) return
      smtp = await startSmtpServer()
      app = await start(`smtp://127.0.0.1:${smtp.port}`)
      const template = {
        subject: 'Hello {{ first_name }}',
        html: '<html><body><p>Hi {{ first_name }}, <a href="https://shop.example/lamp">a lamp</a>.</p></body></html>',
      }
      assert.ok((await api('PUT', '/v1/templates/news', template)).status < 300)
      // A segment both people are in (its rows copy the address).
      const segment = { name: 'Viewers', condition: { products_viewed_7d: { $gte: 1 } } }
      const seg = await api('PUT', '/v1/segments/viewers', segment)
      assert.ok(seg.status < 300, JSON.stringify(seg.body))
      // A trigger an hour out: the person has a pending job when erased.
      const trigger = { event: 'Cart Viewed', templateId: 'news', delayMs: 3_600_000 }
      const put = await api('PUT', '/v1/triggers/cart', trigger)
      assert.ok(put.status < 300, JSON.stringify(put.body))
      await ingest([
        {
          type: 'identify',
          userId: ANN,
          anonymousId: ANN_ANON,
          traits: { email: ANN_EMAIL, firstName: 'Ann' },
        },
        { type: 'track', userId: ANN, event: 'Product Viewed', properties: { sku: 'lamp-1' } },
        { type: 'track', userId: ANN, event: 'Cart Viewed', properties: { items: 1 } },
        { type: 'identify', userId: BOB, traits: { email: BOB_EMAIL, firstName: 'Bob' } },
        { type: 'track', userId: BOB, event: 'Product Viewed', properties: { sku: 'desk-2' } },
      ])
      await processed()
    })
    after(async () => {
      if (skipped) return
      await app?.close()
      await smtp?.close()
    })

    test('export lists everything held, erase removes it from every table, keeps only the hashed suppression, and is audited', {
      skip: skipped,
    }, async () => {
      const first = await campaign('news-1', [ANN, BOB])
      assert.equal(first.progress.sent, 2, JSON.stringify(first))
      // Ann opens and clicks: her message's pixel and wrapped link, fetched as a mail client would.
      const raw = smtp.received.find((m) => m.rcptTo.includes(ANN_EMAIL))?.raw
      assert.ok(raw, 'ann got the campaign')
      const html = String((await simpleParser(raw)).html)
      const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'))
      const pixel = urls.find((u) => u.includes('/p/'))
      const link = urls.find((u) => u.includes('/c/'))
      assert.ok(pixel && link, `tracking urls in ${urls.join(' ')}`)
      // A human open: a browser's user agent, later than the machine-open window after the send.
      await sleep(MACHINE_OPEN_WINDOW_MS + 200)
      const headers = {
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36',
      }
      assert.equal((await fetch(pixel, { headers })).status, 200)
      assert.equal((await fetch(link, { headers, redirect: 'manual' })).status, 302)

      // Engagement is counted by the analytics consumer: wait for it (every export is audited, so not by exporting).
      await until(
        'engagement counted',
        async () => (await api('GET', `/v1/profiles/${ANN}/messages`)).body.messages?.[0],
        (m) => m?.opens === 1 && m?.clicks === 1,
      )
      // She unsubscribes (an operator records it): the export lists it, the erasure replaces it.
      const unsub = await api('PUT', `/v1/suppressions/${ANN_EMAIL}`, {
        reason: 'unsubscribed',
        source: 'manual',
      })
      assert.equal(unsub.status, 201, JSON.stringify(unsub.body))
      const exported = await api('GET', `/v1/profiles/${ANN}/export`)
      assert.equal(exported.status, 200, JSON.stringify(exported.body))
      const x = exported.body
      assert.equal(x.format, 'inkstream.profile-export/1')
      assert.equal(x.workspaceId, app.workspace.id)
      assert.equal(x.profile.userId, ANN)
      assert.equal(x.profile.traits.email, ANN_EMAIL)
      assert.equal(x.profile.traits.first_name, 'Ann')
      assert.deepEqual(x.identities, { userIds: [ANN], anonymousIds: [ANN_ANON] })
      const named = x.events.map((e: ApiBody) => `${e.type}:${e.name ?? ''}`).sort()
      assert.deepEqual(named, [
        'identify:',
        'track:Cart Viewed',
        'track:Email Link Clicked',
        'track:Email Opened',
        'track:Email Sent',
        'track:Product Viewed',
      ])
      assert.ok(
        x.events.every((e: ApiBody) => !JSON.stringify(e).includes(BOB)),
        'only her events',
      )
      assert.equal(x.messages.length, 1)
      assert.equal(x.messages[0].opens, 1)
      assert.equal(x.messages[0].clicks, 1)
      assert.equal(x.messages[0].campaignId, 'news-1')
      assert.equal(x.messages[0].recipient, ANN)
      assert.ok(x.messages[0].sentAt !== null)
      assert.deepEqual(
        x.sends.map((s: ApiBody) => [s.campaignId, s.recipient, s.email, s.state]),
        [['news-1', ANN, ANN_EMAIL, 'sent']],
      )
      assert.deepEqual(
        x.triggerJobs.map((j: ApiBody) => [j.triggerId, j.state]),
        [['cart', 'pending']],
      )
      assert.deepEqual(
        x.suppressions.map((e: ApiBody) => [e.email, e.reason, e.source]),
        [[ANN_EMAIL, 'unsubscribed', 'manual']],
      )
      assert.deepEqual(
        x.segments.map((m: ApiBody) => [m.id, m.name]),
        [['viewers', 'Viewers']],
      )
      const profileId = x.profile.profileId as string
      const positionsBefore = app.logRows?.().positions
      const bobEventsBefore = (await api('GET', `/v1/profiles/${BOB}/events`)).body.events.length

      // Erase.
      const erased = await api('DELETE', `/v1/profiles/${ANN}`)
      assert.equal(erased.status, 200, JSON.stringify(erased.body))
      assert.equal(erased.body.profileId, profileId)
      const removed = erased.body.removed
      assert.equal(removed.profiles, 1)
      assert.equal(removed.identities, 2)
      assert.equal(removed.recentEvents, 6)
      assert.equal(removed.triggerJobs, 1)
      assert.equal(removed.segmentMemberships, 1)
      assert.equal(removed.suppressionsReplaced, 1)
      assert.equal(removed.analyticsMessages, 1)
      assert.equal(removed.ledgerRowsAnonymised, 1)
      assert.equal(removed.campaignAudiences, 1)
      assert.equal(removed.erasedAddresses, 1)
      assert.equal(removed.tombstones, 2)
      if (app.logRows) {
        assert.ok(removed.logEvents >= 3, JSON.stringify(removed))
        assert.equal(removed.log, 'erased')
      } else assert.deepEqual([removed.logEvents, removed.log], [null, 'retention'])

      // Gone from the API: export and a second erase answer 404 with the stable code.
      for (const [method, path] of [
        ['GET', `/v1/profiles/${ANN}/export`],
        ['DELETE', `/v1/profiles/${ANN}`],
        ['GET', `/v1/profiles/${ANN_ANON}`],
      ] as const) {
        const r = await api(method, path)
        assert.equal(r.status, 404, `${method} ${path}`)
        assert.equal(r.body.code, 'INK_ERR_NOT_FOUND')
      }

      // No table holds her ids or address; the ledger row and the suppression hold only hashes.
      const scan = async () => {
        const hits: string[] = []
        for (const [table, rows] of await app.dumpStore())
          for (const row of rows)
            if ([ANN, ANN_ANON, ANN_EMAIL].some((s) => row.includes(s))) hits.push(`${table}: ${row}`)
        return hits
      }
      assert.deepEqual(await scan(), [])
      const ledger = await app.query(
        'SELECT recipient, email, state FROM send_ledger WHERE campaign_id = ? ORDER BY email',
        ['news-1'],
      )
      assert.equal(ledger.length, 2)
      const annRow = ledger.find((r) => String(r.recipient).startsWith('erased:'))
      assert.equal(annRow?.email, hashOf(ANN_EMAIL))
      const suppressions = await api('GET', '/v1/suppressions')
      assert.deepEqual(
        suppressions.body.suppressions.map((s: ApiBody) => [s.email, s.reason, s.source]),
        [[hashOf(ANN_EMAIL), 'erased', 'erasure']],
      )
      // Aggregate counters stay: the campaign still counts its two sends.
      const stats = await app.query(
        'SELECT sum(sent) AS sent FROM analytics_counters WHERE campaign_id = ?',
        ['news-1'],
      )
      assert.equal(Number(stats[0]?.sent), 2)

      // The SQLite log holds none of her events; bob's and the consumers' positions are intact.
      if (app.logRows) {
        const after = app.logRows()
        assert.equal(after.payloads.filter((p) => p.includes(ANN) || p.includes(ANN_ANON)).length, 0)
        assert.ok(after.payloads.some((p) => p.includes(BOB)))
        for (const [group, position] of Object.entries(positionsBefore ?? {}))
          assert.ok((after.positions[group] ?? 0) >= position, `${group} went back`)
      }

      // Audited, with who and what, and no personal data.
      const audit = await api('GET', '/v1/audit')
      assert.deepEqual(
        audit.body.entries.map((e: ApiBody) => [e.action, e.profileId, e.actor.startsWith('admin-key:')]),
        [
          ['erase', profileId, true],
          ['export', profileId, true],
        ],
      )
      assert.equal(audit.body.entries[0].details.profiles, 1)
      // The audit says where the log's copies stand, as the response did (never left `pending`).
      assert.deepEqual(
        [audit.body.entries[0].details.log, audit.body.entries[0].details.logEvents],
        [removed.log, removed.logEvents],
      )
      const rows = await app.query('SELECT action, profile_id FROM privacy_audit ORDER BY id')
      assert.deepEqual(
        rows.map((r) => [r.action, r.profile_id]),
        [
          ['export', profileId],
          ['erase', profileId],
        ],
      )

      // Later events of her ids are dropped (tombstones): no profile comes back. Bob's still apply.
      await ingest([
        { type: 'track', userId: ANN, event: 'Product Viewed', properties: { sku: 'lamp-2' } },
        { type: 'identify', anonymousId: ANN_ANON, traits: { email: ANN_EMAIL } },
        { type: 'track', userId: BOB, event: 'Product Viewed', properties: { sku: 'desk-3' } },
      ])
      // She opens and clicks her old email again: the tracking events are dropped by the processor
      // and by the analytics consumer alike (no profile, no message row comes back).
      assert.equal((await fetch(pixel, { headers })).status, 200)
      assert.equal((await fetch(link, { headers, redirect: 'manual' })).status, 302)
      // (Those may count as repeats of the first open and click: one more open, a new event id.)
      const mail = { email_id: x.messages[0].emailId, campaign_id: 'news-1' }
      await ingest([{ type: 'track', userId: ANN, event: 'Email Opened', properties: mail }])
      await processed()
      await until(
        'analytics caught up',
        () => app.log.lag(ANALYTICS_GROUP),
        (lag) => lag === 0,
      )
      assert.equal((await api('GET', `/v1/profiles/${ANN}`)).status, 404)
      assert.equal((await api('GET', `/v1/profiles/${ANN_ANON}?by=anonymousId`)).status, 404)
      const bobEvents = (await api('GET', `/v1/profiles/${BOB}/events`)).body.events.length
      assert.equal(bobEvents, bobEventsBefore + 1)
      assert.deepEqual(await scan(), [])

      // The address under a new id: the hashed entry suppresses the send.
      const ANN2 = `ann2-${tag}`
      await ingest([{ type: 'identify', userId: ANN2, traits: { email: ANN_EMAIL.toUpperCase() } }])
      await processed()
      const again = await campaign('news-2', [ANN2])
      assert.equal(again.progress.suppressed, 1, JSON.stringify(again))
      assert.equal(again.progress.sent, 0)
      assert.equal(smtp.received.filter((m) => m.rcptTo.some((r) => r.toLowerCase() === ANN_EMAIL)).length, 1)
    })
  })
}
