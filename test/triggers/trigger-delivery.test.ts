/**
 * The trigger dispatcher on the one send path, with real parts: the app's processor writing jobs
 * into SQLite, its renderer calling a real (slow) connected-content source, a real SMTP server
 * behind a TCP gate that can refuse connections. The dispatcher under test has a clock the test
 * moves, so due times and backoffs are exact; it runs a pass when woken (no poll in the way).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { InkEvent } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { messageIdFor } from '../../src/delivery/deliver.ts'
import { outcomeEventId } from '../../src/delivery/outcome-events.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { TriggerDispatcher } from '../../src/triggers/trigger-dispatcher.ts'
import { triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { PUBLIC_URL } from '../campaigns/campaign-fixture.ts'
import { startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { type SmtpGate, startSmtpGate } from '../helpers/smtp-gate.ts'
import { type SlowSource, startSlowSource } from './slow-source.ts'

const HOUR = 3_600_000

describe('trigger dispatcher on the one send path', () => {
  let smtp: TestSmtpServer
  let gate: SmtpGate
  let source: SlowSource
  let app: TestApp
  let transport: SmtpTransport
  let dispatcher: TriggerDispatcher
  const metrics = createMetrics({ defaultMetrics: false })
  const clock = { t: Date.now(), now: () => clock.t }
  const appended: InkEvent[] = []
  /** userIds whose next profile reads fail (a PostgreSQL pause), and how many times. */
  const unreadable = new Map<string, number>()
  let ws: string

  before(async () => {
    smtp = await startSmtpServer()
    gate = await startSmtpGate(smtp.port)
    source = await startSlowSource()
    const dir = tempDir()
    const contentFile = join(dir, 'content.json')
    writeFileSync(
      contentFile,
      JSON.stringify({
        connectedContent: { allowHosts: [`127.0.0.1:${source.port}`] },
        render: { deadlineMs: 10_000 },
      }),
    )
    app = await startTestApp({ contentFile, publicUrl: PUBLIC_URL, from: 'news@shop.example' })
    ws = app.workspace.id
    // The app's own dispatcher would send the jobs too: this test's one alone does.
    await app.triggerDispatcher?.close()
    transport = new SmtpTransport({
      host: '127.0.0.1',
      port: gate.port,
      secure: false,
      maxConnections: 2,
      messageIdDomain: 'mail.example.com',
    })
    const templates = {
      plain: { subject: 'Hi {{ user_id }}', html: '<p>Hi {{ user_id }}</p>' },
      slow: {
        subject: 'Picks',
        html: `{% connected_content http://127.0.0.1:${source.port}/recs?u={{ user_id }} :save recs :timeout 9000 %}<p>{{ recs.title }}</p>`,
      },
    }
    for (const [id, t] of Object.entries(templates)) {
      const put = await api(app, 'PUT', `/v1/templates/${id}`, t)
      assert.ok(put.status < 300, JSON.stringify(put.body))
    }
    for (const [id, t] of Object.entries({
      poke: { event: 'Poked', templateId: 'plain' },
      browse: { event: 'Browsed', templateId: 'slow' },
      capped: { event: 'Capped', templateId: 'plain', frequencyCap: { max: 1, perMs: 24 * HOUR } },
    })) {
      const put = await api(app, 'PUT', `/v1/triggers/${id}`, t)
      assert.equal(put.status, 200, JSON.stringify(put.body))
    }
    const users = ['sol', 'sue', 'tom', 'cap', 'gone', 'cara', 'old', 'dora']
    await identify(app, Object.fromEntries(users.map((u) => [u, { email: `${u}@example.com` }])))
    dispatcher = new TriggerDispatcher({
      store: app.triggers,
      renderer: app.renderer,
      transport,
      suppressions: app.suppressions,
      codec: app.codec,
      publicUrl: () => PUBLIC_URL,
      clock,
      logger: { warn: () => {}, error: () => {} },
      metrics,
      events: {
        append: async (events) => {
          appended.push(...events)
          await app.log.append(events)
        },
      },
      lookupEmail: async (_ws, userId) => {
        const left = unreadable.get(userId) ?? 0
        if (left > 0) {
          unreadable.set(userId, left - 1)
          throw new Error('the profile could not be read (timeout)')
        }
        const res = await api(app, 'GET', `/v1/profiles/${encodeURIComponent(userId)}`)
        return res.status === 404 ? undefined : res.body.traits.email
      },
      lookupTimezone: async (_ws, userId) => {
        const res = await api(app, 'GET', `/v1/profiles/${encodeURIComponent(userId)}`)
        return res.status === 404 ? undefined : res.body.traits.timezone
      },
      isMember: async () => {
        throw new Error('no trigger here has a segment')
      },
      retryDelayMs: 5,
      pollMs: 3_600_000,
    })
    await dispatcher.start()
    await dispatcher.idle()
  })
  after(async () => {
    await dispatcher.close()
    await transport.close()
    await app.close()
    await gate.shut()
    await source.close()
    await smtp.close()
  })

  /** Tracks events, waits for the processor; answers their job ids. */
  const fire = async (trigger: string, event: string, userIds: string[]): Promise<string[]> => {
    const ids = userIds.map(() => randomUUID())
    const res = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: userIds.map((userId, i) => ({
          type: 'track',
          userId,
          event,
          messageId: ids[i],
          properties: {},
        })),
      }),
    })
    assert.equal(res.status, 200)
    await waitForProcessed(app)
    return ids.map((id) => triggerJobId(ws, trigger, id))
  }
  /** One pass of the dispatcher at `at` (its clock), to its end. */
  const passAt = async (at: number) => {
    clock.t = at
    dispatcher.wake()
    await dispatcher.idle()
  }
  const job = async (jobId: string) => {
    const j = await app.triggers.getJob(ws, jobId)
    assert.ok(j, jobId)
    return j
  }
  const emailId = (trigger: string, jobId: string) => messageIdFor(ws, `trigger:${trigger}`, jobId)
  const eventsOf = (trigger: string, jobId: string) =>
    appended.filter((e) => e.properties?.email_id === emailId(trigger, jobId))

  test('a slow connected-content source: the job stays pending while rendering (a restart then loses nothing), then is sent once', async () => {
    source.hold()
    const [sol] = await fire('browse', 'Browsed', ['sol'])
    clock.t = Date.now()
    dispatcher.wake()
    await source.waitForHeld(1)
    const rendering = await job(sol!)
    assert.deepEqual([rendering.state, rendering.attempts], ['pending', 0])
    // What a restarted process does first: jobs left in `sending` become unknown. There is none.
    assert.equal(await app.triggers.recoverInterrupted(), 0)
    source.release()
    await dispatcher.idle()
    const done = await job(sol!)
    assert.deepEqual([done.state, done.attempts], ['sent', 0], JSON.stringify(done))
    assert.equal(smtp.dataCommandsTo('sol@example.com'), 1)
    assert.match(smtp.received.find((m) => m.rcptTo.includes('sol@example.com'))?.raw ?? '', /Picks for sol/)
  })

  test('jobs are sent several at once; jobs for one address one after the other (the cap holds)', async () => {
    source.hold()
    const [sue, tom] = await fire('browse', 'Browsed', ['sue', 'tom'])
    clock.t = Date.now()
    dispatcher.wake()
    await source.waitForHeld(2)
    source.release()
    await dispatcher.idle()
    assert.deepEqual([(await job(sue!)).state, (await job(tom!)).state], ['sent', 'sent'])
    const capped = await fire('capped', 'Capped', ['cap', 'cap', 'cap'])
    await passAt(Date.now())
    const jobs = await Promise.all(capped.map((id) => job(id)))
    // One event time, one due time: which job goes first is the store's order; one is sent, two wait
    // for the one before them and then find the cap reached.
    assert.deepEqual(jobs.map((j) => `${j.state}:${j.reason}`).sort(), [
      'sent:null',
      'skipped:frequency_cap',
      'skipped:frequency_cap',
    ])
    assert.equal(smtp.dataCommandsTo('cap@example.com'), 1)
    const skippedJob = jobs.find((j) => j.state === 'skipped')!
    assert.deepEqual(
      eventsOf('capped', skippedJob.jobId).map((e) => [e.event, e.properties?.reason]),
      [['Email Skipped', 'frequency_cap']],
    )
  })

  test('550 5.1.1: the job ends bounced, the address is suppressed (source trigger:poke), Email Bounced is in the log', async () => {
    smtp.answer('gone@example.com', 'rcpt-550')
    const [gone] = await fire('poke', 'Poked', ['gone'])
    await passAt(Date.now())
    const j = await job(gone!)
    const detail =
      "550 EENVELOPE (RCPT TO): Can't send mail - all recipients were rejected: 550 5.1.1 <gone@example.com>: no such user"
    assert.deepEqual([j.state, j.detail, j.reason, j.sentAt], ['bounced', detail, null, null])
    const entries = await app.suppressions.get(ws, 'gone@example.com')
    assert.deepEqual(
      entries.map((e) => [e.reason, e.source]),
      [['bounced', 'trigger:poke']],
    )
    assert.deepEqual(
      eventsOf('poke', gone!).map((e) => [e.event, e.messageId, e.userId, e.properties]),
      [
        [
          'Email Bounced',
          outcomeEventId(ws, emailId('poke', gone!), 'bounced'),
          'gone',
          {
            campaign_id: 'trigger:poke',
            email_id: emailId('poke', gone!),
            origin: 'trigger',
            template_id: 'plain',
            template_version: 1,
            fallbacks: 0,
            reason: 'hard_bounce',
            detail,
            // The address that bounced: the processor's bounce policy suppresses that one.
            recipient: 'gone@example.com',
          },
        ],
      ],
    )
    // In the event log itself, once.
    const logDb = openSqlite(join(app.dataDir, 'log.db'))
    try {
      const rows = logDb
        .prepare('SELECT payload FROM log_events WHERE message_id = ?')
        .pluck()
        .all(outcomeEventId(ws, emailId('poke', gone!), 'bounced')) as string[]
      assert.equal(rows.length, 1)
      assert.equal(JSON.parse(rows[0]!).event, 'Email Bounced')
    } finally {
      logDb.close()
    }
    // The next trigger message to the address is suppressed, not sent.
    const [again] = await fire('poke', 'Poked', ['gone'])
    await passAt(Date.now())
    assert.equal((await job(again!)).state, 'suppressed')
    assert.equal(smtp.dataCommandsTo('gone@example.com'), 0)
  })

  test('the mail server refuses connections: pending with a backoff of 30 s, then 60 s; sent exactly once when it is back', async () => {
    await gate.shut()
    const [cara] = await fire('poke', 'Poked', ['cara'])
    const t1 = Date.now()
    await passAt(t1)
    let j = await job(cara!)
    assert.deepEqual(
      [j.state, j.attempts, j.dueAt, j.firstFailedAt, j.reason],
      ['pending', 1, t1 + 30_000, t1, 'transport_deferred'],
    )
    assert.match(j.detail ?? '', /ECONNREFUSED.*\(after 3 attempts\)$/)
    assert.deepEqual(eventsOf('poke', cara!), [], 'no outcome yet')
    await passAt(t1 + 29_999)
    assert.equal((await job(cara!)).attempts, 1, 'not due before its time')
    await passAt(t1 + 30_000)
    j = await job(cara!)
    assert.deepEqual([j.state, j.attempts, j.dueAt, j.firstFailedAt], ['pending', 2, t1 + 90_000, t1])
    await gate.open()
    await passAt(t1 + 90_000)
    j = await job(cara!)
    assert.deepEqual([j.state, j.attempts], ['sent', 2], JSON.stringify(j))
    await passAt(t1 + 10 * HOUR)
    assert.equal(smtp.dataCommandsTo('cara@example.com'), 1)
    assert.deepEqual(
      eventsOf('poke', cara!).map((e) => e.event),
      ['Email Sent'],
    )
  })

  test('a refusal that lasts past the maximum age (24 h) ends failed, reason expired, with Email Delivery Failed', async () => {
    await gate.shut()
    try {
      const [old] = await fire('poke', 'Poked', ['old'])
      const t1 = Date.now()
      await passAt(t1)
      assert.equal((await job(old!)).state, 'pending')
      await passAt(t1 + 24 * HOUR - 1)
      assert.deepEqual([(await job(old!)).state, (await job(old!)).attempts], ['pending', 2])
      await passAt(t1 + 24 * HOUR + 15 * 60_000)
      const j = await job(old!)
      assert.deepEqual([j.state, j.reason], ['failed', 'expired'])
      assert.match(j.detail ?? '', /^gave up after 3 attempts over 1455 min; last: .*ECONNREFUSED/)
      assert.deepEqual(
        eventsOf('poke', old!).map((e) => [e.event, e.properties?.reason]),
        [['Email Delivery Failed', 'expired']],
      )
    } finally {
      await gate.open()
    }
  })

  test('a profile that cannot be read for a moment: pending with a backoff, then sent', async () => {
    unreadable.set('dora', 1)
    const [dora] = await fire('poke', 'Poked', ['dora'])
    const t1 = Date.now()
    await passAt(t1)
    let j = await job(dora!)
    assert.deepEqual(
      [j.state, j.attempts, j.dueAt, j.reason, j.detail],
      [
        'pending',
        1,
        t1 + 30_000,
        'profile_unreadable',
        'the profile could not be read: the profile could not be read (timeout)',
      ],
    )
    await passAt(t1 + 30_000)
    j = await job(dora!)
    assert.deepEqual([j.state, j.attempts], ['sent', 1])
    assert.equal(smtp.dataCommandsTo('dora@example.com'), 1)
  })

  test('outcome events: one per message and outcome; appended again, the processor keeps one', async () => {
    const byName = new Map<string, number>()
    for (const e of appended) byName.set(e.event ?? '', (byName.get(e.event ?? '') ?? 0) + 1)
    assert.deepEqual(Object.fromEntries(byName), {
      'Email Sent': 6,
      'Email Skipped': 2,
      'Email Bounced': 1,
      'Email Suppressed': 1,
      'Email Delivery Failed': 1,
    })
    assert.equal(new Set(appended.map((e) => e.messageId)).size, appended.length)
    for (const e of appended) {
      assert.equal(e.type, 'track')
      assert.equal(e.workspaceId, ws)
      assert.equal(e.properties?.origin, 'trigger')
      assert.match(String(e.properties?.campaign_id), /^trigger:(poke|browse|capped)$/)
      assert.match(String(e.properties?.email_id), /^ink-c\.[0-9a-f]{40}$/)
    }
    const sent = (await metrics.deliveryOutcomes.get()).values
      .filter((v) => v.labels.origin === 'trigger' && v.labels.kind === 'sent')
      .reduce((a, v) => a + v.value, 0)
    assert.equal(sent, 6)
    await waitForProcessed(app)
    const duplicates = async () =>
      (await app.metrics.processedEvents.get()).values.find((v) => v.labels.outcome === 'duplicate')?.value ??
      0
    const before = await duplicates()
    await app.log.append(appended.slice())
    await waitForProcessed(app)
    assert.equal((await duplicates()) - before, appended.length)
  })

  test("a sent job's delay (due → sent) is observed once, in seconds of the dispatcher's clock", async () => {
    await identify(app, { late: { email: 'late@example.com' } })
    const put = await api(app, 'PUT', '/v1/triggers/later', {
      event: 'Later',
      templateId: 'plain',
      delayMs: HOUR,
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    metrics.triggerJobDelay.reset()
    const [late] = await fire('later', 'Later', ['late'])
    // Due an hour after the event: the delay counts from there, not from the event.
    const { dueAt, eventAt } = await job(late!)
    assert.equal(dueAt - eventAt, HOUR)
    await passAt(dueAt + 2_500)
    assert.equal((await job(late!)).state, 'sent')
    const values = (await metrics.triggerJobDelay.get()).values
    const of = (suffix: string) =>
      values.find((v) => v.metricName === `inkstream_trigger_job_delay_seconds${suffix}`)
    assert.deepEqual([of('_count')?.value, of('_sum')?.value], [1, 2.5])
    assert.equal(values.find((v) => v.labels.le === 2)?.value, 0)
    assert.equal(values.find((v) => v.labels.le === 5)?.value, 1)
  })

  test("quiet hours: a job due in the recipient's quiet hours (their timezone trait, else the trigger's) is held until they end, then sent", async () => {
    for (const [body, problem] of [
      [{ start: '21:00', end: '08:00', timezone: 'Mars/Olympus' }, /unknown time zone "Mars\/Olympus"/],
      [{ start: '21:00', end: '21:00' }, /start and end must differ/],
      [{ start: '25:00', end: '08:00' }, /quietHours\.start/],
    ] as const) {
      const bad = await api(app, 'PUT', '/v1/triggers/quiet', {
        event: 'Hushed',
        templateId: 'plain',
        quietHours: body,
      })
      assert.equal(bad.status, 400, JSON.stringify(bad.body))
      assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
      assert.match(bad.body.message, problem)
    }
    const put = await api(app, 'PUT', '/v1/triggers/quiet', {
      event: 'Hushed',
      templateId: 'plain',
      quietHours: { start: '21:00', end: '08:00', timezone: 'Europe/Paris' },
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    assert.deepEqual(put.body.quietHours, { start: '21:00', end: '08:00', timezone: 'Europe/Paris' })
    await identify(app, {
      'q-tokyo': { email: 'q-tokyo@example.com', timezone: 'Asia/Tokyo' },
      'q-none': { email: 'q-none@example.com' },
      'q-bogus': { email: 'q-bogus@example.com', timezone: 'Mars/Olympus' },
    })
    const held = metrics.triggerJobsHeld.get()
    const heldBefore = (await held).values[0]?.value ?? 0
    const [tokyo, none, bogus] = await fire('quiet', 'Hushed', ['q-tokyo', 'q-none', 'q-bogus'])
    // 02:00 UTC: 03:00 in Paris (quiet until 08:00, 07:00 UTC), 11:00 in Tokyo (daytime).
    const night = Date.parse('2030-12-02T02:00:00Z')
    await passAt(night)
    assert.equal((await job(tokyo!)).state, 'sent')
    const paris = Date.parse('2030-12-02T07:00:00Z')
    for (const id of [none!, bogus!]) {
      const j = await job(id)
      assert.deepEqual([j.state, j.reason, j.dueAt, j.attempts], ['pending', 'quiet_hours', paris, 0])
      assert.match(String(j.detail), /held for quiet hours \(Europe\/Paris\) until 2030-12-02T07:00:00.000Z/)
      assert.deepEqual(eventsOf('quiet', id), [], 'a hold is not an outcome')
    }
    assert.equal(((await metrics.triggerJobsHeld.get()).values[0]?.value ?? 0) - heldBefore, 2)
    await passAt(paris - 1)
    assert.equal((await job(none!)).state, 'pending')
    await passAt(paris)
    for (const id of [none!, bogus!]) {
      assert.equal((await job(id)).state, 'sent')
      assert.deepEqual(
        eventsOf('quiet', id).map((e) => e.event),
        ['Email Sent'],
      )
    }
  })
})
