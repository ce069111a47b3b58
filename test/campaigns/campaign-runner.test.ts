/** CampaignRunner against a real SMTP server and a real app: delivery, the ledger, suppression, retries. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  type Campaign,
  type CampaignRunnerDeps,
  campaignMessageId,
  type Progress,
  type RunSummary,
} from '../../src/campaigns/campaign-runner.ts'
import type { Transport } from '../../src/delivery/transport.ts'
import type { Renderer } from '../../src/render/renderer.ts'
import {
  header,
  mimeParts,
  type ReceivedMessage,
  startSmtpServer,
  type TestSmtpServer,
} from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import {
  audience,
  buildCampaignPieces,
  type CampaignPieces,
  PUBLIC_URL,
  putTemplate,
} from './campaign-fixture.ts'

let app: TestApp
let smtp: TestSmtpServer
let pieces: CampaignPieces
/** Set by a test to see every send (the 421 test uses it to change the server's answer). */
let onSend: ((to: string) => void) | undefined

before(async () => {
  app = await startTestApp({ publicUrl: PUBLIC_URL })
  smtp = await startSmtpServer()
  await putTemplate(app, 'promo')
  const wrap = (inner: Transport): Transport => ({
    send: async (message) => {
      const outcome = await inner.send(message)
      onSend?.(message.to)
      return outcome
    },
    close: () => inner.close(),
  })
  pieces = buildCampaignPieces({
    app,
    smtpPort: smtp.port,
    ledgerFile: join(app.dataDir, 'ledger.db'),
    wrapTransport: wrap,
  })
})

after(async () => {
  await pieces.close()
  await smtp.close()
  await app.close()
})

const campaign = (id: string, n: number, extra: Partial<Campaign> = {}): Campaign => ({
  id,
  templateId: 'promo',
  from: 'Shop <shop@example.com>',
  audience: audience(id, n),
  vars: { greeting: 'Bonjour' },
  ...extra,
})

const receivedBy = (email: string): ReceivedMessage[] => smtp.received.filter((m) => m.rcptTo[0] === email)

/** A run's summary: the counts given, every other one 0 (compared whole, so an unexpected count fails). */
const counts = (c: Partial<RunSummary>): RunSummary => ({
  sent: 0,
  failed: 0,
  suppressed: 0,
  skipped: 0,
  unknown: 0,
  deferred: 0,
  remaining: 0,
  ...c,
})

const ledgerEntry = (campaignId: string, recipient: string) =>
  pieces.ledger.get({ workspaceId: app.workspace.id, campaignId, recipient })

const html = (m: ReceivedMessage) => mimeParts(m.raw).find((p) => p.contentType.startsWith('text/html'))?.body

describe('a campaign', () => {
  test('delivers one personalized, tracked message with one-click unsubscribe to each recipient', async () => {
    const progress: Progress[] = []
    const summary = await pieces.runner.run(app.workspace.id, campaign('five', 5), (p) => progress.push(p))
    assert.deepEqual(summary, counts({ sent: 5 }))
    for (let i = 0; i < 5; i++) {
      const got = receivedBy(`five-${i}@example.com`)
      assert.equal(got.length, 1, `five-${i} received ${got.length} messages`)
      const raw = got[0]!.raw
      assert.equal(header(raw, 'Subject'), `Bonjour, five-${i}`)
      const body = html(got[0]!) ?? ''
      assert.match(body, new RegExp(`Bonjour, five-${i}!`))
      assert.match(body, new RegExp(`href="${PUBLIC_URL}/c/[^"]+"`))
      assert.doesNotMatch(body, /href="https:\/\/shop\.example\.com/)
      assert.match(body, new RegExp(`<img src="${PUBLIC_URL}/p/[^"]+"`))
      assert.match(header(raw, 'List-Unsubscribe') ?? '', new RegExp(`^<${PUBLIC_URL}/u/[^>]+>$`))
      assert.equal(header(raw, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click')
    }
    assert.deepEqual(
      progress.map((p) => [p.done, p.sent, p.remaining]),
      [
        [1, 1, 4],
        [2, 2, 3],
        [3, 3, 2],
        [4, 4, 1],
        [5, 5, 0],
      ],
    )
    const ids = new Set(audience('five', 5).map((r) => header(receivedBy(r.email)[0]!.raw, 'Message-ID')))
    assert.equal(ids.size, 5, 'each recipient has its own Message-ID')
    for (let i = 0; i < 5; i++)
      assert.deepEqual(await app.suppressions.get(app.workspace.id, `five-${i}@example.com`), [])
    assert.equal(progress.at(-1)?.etaMs, 0)
    assert.ok((progress[0]?.ratePerSecond ?? 0) > 0)
    assert.deepEqual(await pieces.runner.progress(app.workspace.id, 'five'), {
      sending: 0,
      sent: 5,
      failed: 0,
      unknown: 0,
      suppressed: 0,
      skipped: 0,
      deferred: 0,
    })
  })

  test('run again, it sends nothing: every recipient is already in the ledger', async () => {
    await pieces.runner.run(app.workspace.id, campaign('again', 3))
    const before = smtp.received.length
    const summary = await pieces.runner.run(app.workspace.id, campaign('again', 3))
    assert.deepEqual(summary, counts({ skipped: 3 }))
    assert.equal(smtp.received.length, before)
    for (let i = 0; i < 3; i++) assert.equal(receivedBy(`again-${i}@example.com`).length, 1)
  })

  test('a recipient another runner claims between the ledger check and the claim is not sent', async () => {
    const ledger = pieces.ledger
    const claim = ledger.claim.bind(ledger)
    // The race: the other runner's claim lands after this runner saw no row, before its own claim.
    ledger.claim = async (key, email, messageId) => {
      if (key.recipient === 'race-1') assert.equal(await claim(key, email, 'other-runner'), true)
      return claim(key, email, messageId)
    }
    try {
      const summary = await pieces.runner.run(app.workspace.id, campaign('race', 3))
      assert.deepEqual(summary, counts({ sent: 2, skipped: 1 }))
    } finally {
      ledger.claim = claim
    }
    assert.equal(receivedBy('race-1@example.com').length, 0, 'sent although the claim answered false')
    assert.equal(receivedBy('race-0@example.com').length, 1)
    assert.equal(receivedBy('race-2@example.com').length, 1)
    const entry = await ledgerEntry('race', 'race-1')
    assert.equal(entry?.messageId, 'other-runner', "the other runner's claim stands")
  })

  test('a suppressed address gets nothing and is counted as suppressed', async () => {
    await app.suppressions.suppress(app.workspace.id, 'supp-1@example.com', {
      reason: 'unsubscribed',
      source: 'test',
    })
    const summary = await pieces.runner.run(app.workspace.id, campaign('supp', 3))
    assert.deepEqual(summary, counts({ sent: 2, suppressed: 1 }))
    assert.equal(receivedBy('supp-1@example.com').length, 0)
    assert.equal(receivedBy('supp-0@example.com').length, 1)
    assert.equal(receivedBy('supp-2@example.com').length, 1)
    const entry = await ledgerEntry('supp', 'supp-1')
    assert.equal(entry?.state, 'suppressed')
    assert.equal(entry?.attempts, 0)
    assert.equal(entry?.detail, 'the address is suppressed')
  })

  test('a suppressed address written in another case is suppressed, and the ledger keeps it normalized', async () => {
    await app.suppressions.suppress(app.workspace.id, 'norm-1@example.com', {
      reason: 'unsubscribed',
      source: 'test',
    })
    const summary = await pieces.runner.run(app.workspace.id, {
      ...campaign('norm', 0),
      audience: [{ userId: 'norm-1', email: ' Norm-1@Example.COM ' }],
    })
    assert.deepEqual(summary, counts({ suppressed: 1 }))
    const entry = await ledgerEntry('norm', 'norm-1')
    assert.deepEqual([entry?.state, entry?.email], ['suppressed', 'norm-1@example.com'])
  })

  test("a recipient another runner records first is counted as skipped, not as this run's outcome", async () => {
    await app.suppressions.suppress(app.workspace.id, 'rrace-1@example.com', {
      reason: 'unsubscribed',
      source: 'test',
    })
    const ledger = pieces.ledger
    const record = ledger.record.bind(ledger)
    ledger.record = async (key, email, messageId, state, detail) => {
      if (key.recipient === 'rrace-1')
        assert.equal(await record(key, email, 'other-runner', 'failed', 'x'), true)
      return record(key, email, messageId, state, detail)
    }
    try {
      const summary = await pieces.runner.run(app.workspace.id, campaign('rrace', 3))
      assert.deepEqual(summary, counts({ sent: 2, skipped: 1 }))
    } finally {
      ledger.record = record
    }
    const entry = await ledgerEntry('rrace', 'rrace-1')
    assert.deepEqual([entry?.state, entry?.messageId], ['failed', 'other-runner'])
  })

  test('a recipient without a usable address is skipped with the reason and never handed to the server', async () => {
    const before = smtp.received.length
    const summary = await pieces.runner.run(app.workspace.id, {
      ...campaign('noaddr', 0),
      audience: [{ userId: 'noaddr-0', email: 'not-an-email' }],
    })
    assert.deepEqual(summary, counts({ skipped: 1 }))
    assert.equal(smtp.received.length, before)
    const entry = await ledgerEntry('noaddr', 'noaddr-0')
    assert.deepEqual(
      [entry?.state, entry?.email, entry?.attempts, entry?.detail],
      ['skipped', 'not-an-email', 0, '"not-an-email" is not an email address'],
    )
  })

  test('a row left in sending by an interrupted run becomes unknown, is counted as unknown, and is not resent', async () => {
    const key = { workspaceId: app.workspace.id, campaignId: 'interrupted', recipient: 'interrupted-1' }
    assert.equal(await pieces.ledger.claim(key, 'interrupted-1@example.com', 'earlier-run'), true)
    const summary = await pieces.runner.run(app.workspace.id, campaign('interrupted', 3))
    assert.deepEqual(summary, counts({ sent: 2, unknown: 1 }))
    assert.equal(receivedBy('interrupted-1@example.com').length, 0)
    assert.equal((await pieces.ledger.get(key))?.state, 'unknown')
  })

  test('three profiles sharing one address get one message: the first in audience order', async () => {
    const shared = [
      { userId: 'home-a', email: 'Home@Example.com' },
      { userId: 'home-b', email: 'home@example.com' },
      { userId: 'home-c', email: ' home@EXAMPLE.com ' },
    ]
    const summary = await pieces.runner.run(app.workspace.id, {
      ...campaign('household', 0),
      audience: shared,
    })
    assert.deepEqual(summary, counts({ sent: 1, skipped: 2 }))
    assert.equal(smtp.received.filter((m) => m.rcptTo[0]?.toLowerCase() === 'home@example.com').length, 1)
    const b = await ledgerEntry('household', 'home-b')
    assert.equal(b?.state, 'skipped')
    assert.match(b?.detail ?? '', /another recipient of this campaign has the address home@example.com/)
  })

  test('a recipient rejected with 554 fails once, is suppressed as bounced, and the others get one each', async () => {
    smtp.answer('bounce-2@example.com', 'rcpt-554')
    const summary = await pieces.runner.run(app.workspace.id, campaign('bounce', 5))
    assert.deepEqual(summary, counts({ sent: 4, failed: 1 }))
    for (const i of [0, 1, 3, 4]) assert.equal(receivedBy(`bounce-${i}@example.com`).length, 1)
    assert.equal(receivedBy('bounce-2@example.com').length, 0)
    const entry = await ledgerEntry('bounce', 'bounce-2')
    assert.equal(entry?.state, 'failed')
    assert.equal(entry?.attempts, 1)
    assert.match(entry?.detail ?? '', /^554 /)
    const suppressions = await app.suppressions.get(app.workspace.id, 'bounce-2@example.com')
    assert.deepEqual(
      suppressions.map((s) => [s.reason, s.source]),
      [['bounced', 'campaign:bounce']],
    )
  })

  test('a 421 the first time is retried with the same Message-ID and delivered once', async () => {
    smtp.answer('retry-1@example.com', 'rcpt-421')
    const tries: string[] = []
    onSend = (to) => {
      tries.push(to)
      if (to === 'retry-1@example.com') smtp.answer(to, 'accept')
    }
    try {
      const summary = await pieces.runner.run(app.workspace.id, campaign('retry', 3))
      assert.deepEqual(summary, counts({ sent: 3 }))
    } finally {
      onSend = undefined
    }
    // Recipients are sent concurrently, so only the count per address is fixed.
    assert.deepEqual([...tries].sort(), [
      'retry-0@example.com',
      'retry-1@example.com',
      'retry-1@example.com',
      'retry-2@example.com',
    ])
    const got = receivedBy('retry-1@example.com')
    assert.equal(got.length, 1)
    const entry = await ledgerEntry('retry', 'retry-1')
    assert.equal(entry?.state, 'sent')
    assert.equal(entry?.attempts, 2)
    assert.equal(header(got[0]!.raw, 'Message-ID'), `<${entry?.messageId}@mail.example.com>`)
  })

  test('a missing template fails the run before any recipient is touched', async () => {
    await assert.rejects(
      pieces.runner.run(app.workspace.id, campaign('missing', 2, { templateId: 'nope' })),
      /template "nope"/,
    )
    assert.equal((await pieces.ledger.list(app.workspace.id, 'missing')).length, 0)
  })
})

describe('a campaign runner configured by its deps', () => {
  let n = 0
  const built: CampaignPieces[] = []
  const build = (deps: Partial<CampaignRunnerDeps>, wrapTransport?: (t: Transport) => Transport) => {
    const p = buildCampaignPieces({
      app,
      smtpPort: smtp.port,
      ledgerFile: join(app.dataDir, `ledger-deps-${++n}.db`),
      deps,
      ...(wrapTransport ? { wrapTransport } : {}),
    })
    built.push(p)
    return p
  }
  after(async () => {
    for (const p of built) await p.close()
  })
  const putAbortTemplate = async () => {
    const res = await app.server.inject({
      method: 'PUT',
      url: '/v1/templates/abort-first',
      headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        subject: 'Hi {{ user_id }}',
        html: "<p>{% if user_id == 'hh-a' or user_id == 'ab-0' %}{% abort_message('opted out') %}{% endif %}Hi {{ user_id }}</p>",
      }),
    })
    assert.ok(res.statusCode === 200 || res.statusCode === 201, res.body)
  }

  test('progress reports the rate and the time left from the clock', async () => {
    let now = 1_000_000
    const p = build({ clock: { now: () => now }, concurrency: 1 }, (inner) => ({
      send: async (m) => {
        now += 500
        return inner.send(m)
      },
      close: () => inner.close(),
    }))
    const progress: Progress[] = []
    await p.runner.run(app.workspace.id, campaign('clock', 3), (x) => progress.push(x))
    assert.deepEqual(
      progress.map((x) => [x.done, x.ratePerSecond, x.etaMs]),
      [
        [1, 2, 1000],
        [2, 2, 500],
        [3, 2, 0],
      ],
    )
  })

  test('the rate limit spaces the sends by 1/rate on the clock', async () => {
    let now = 5_000
    const sentAt: number[] = []
    const p = build(
      {
        clock: { now: () => now },
        sleep: async (ms) => {
          now += ms
        },
        concurrency: 1,
      },
      (inner) => ({
        send: (m) => {
          sentAt.push(now)
          return inner.send(m)
        },
        close: () => inner.close(),
      }),
    )
    const summary = await p.runner.run(app.workspace.id, campaign('rate', 6, { ratePerSecond: 20 }))
    assert.equal(summary.sent, 6)
    // One token at the start, then one every 50 ms.
    assert.deepEqual(sentAt, [5_000, 5_050, 5_100, 5_150, 5_200, 5_250])
  })

  test('a run stopped while its workers wait for rate tokens claims and sends nothing more', async () => {
    let sent = 0
    let now = 5_000
    const controller = new AbortController()
    // Time stands still until the first message is sent: the other 7 workers wait for a token.
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const p = build(
      {
        clock: { now: () => now },
        sleep: async (ms) => {
          await gate
          now += ms
        },
        concurrency: 8,
      },
      (inner) => ({
        send: async (m) => {
          const outcome = await inner.send(m)
          // Paused after the first message (as POST /pause aborts the run), then time moves on.
          if (++sent === 1) {
            controller.abort()
            release()
          }
          return outcome
        },
        close: () => inner.close(),
      }),
    )
    const summary = await p.runner.run(
      app.workspace.id,
      campaign('rate-pause', 20, { ratePerSecond: 20 }),
      undefined,
      { signal: controller.signal },
    )
    // Claiming before taking the token, the 7 waiting workers each held a claimed recipient and sent
    // it after the stop; now they claim nothing.
    assert.equal(sent, 1)
    assert.equal(summary.sent, 1)
    const rows = await p.ledger.list(app.workspace.id, 'rate-pause')
    assert.deepEqual(
      rows.map((r) => r.state),
      ['sent'],
    )
  })

  test('concurrency 0 still runs one worker: every recipient is sent to', async () => {
    const p = build({ concurrency: 0 })
    const summary = await p.runner.run(app.workspace.id, campaign('conc0', 3))
    assert.deepEqual(summary, counts({ sent: 3 }))
  })

  test('the first retry waits retryDelayMs', async () => {
    const sleeps: number[] = []
    smtp.answer('delay-0@example.com', 'data-451', 1)
    const p = build({ retryDelayMs: 35, sleep: async (ms) => void sleeps.push(ms) })
    const summary = await p.runner.run(app.workspace.id, campaign('delay', 1))
    assert.equal(summary.sent, 1)
    assert.deepEqual(sleeps, [35])
  })

  test('a recipient with a ledger row is not rendered again', async () => {
    let renders = 0
    const renderer: Pick<Renderer, 'render' | 'compiled'> = {
      compiled: (w, t, v) => app.renderer.compiled(w, t, v),
      render: (w, req) => {
        renders++
        return app.renderer.render(w, req)
      },
    }
    const p = build({ renderer })
    await p.runner.run(app.workspace.id, campaign('rerender', 2))
    assert.equal(renders, 2)
    await p.runner.run(app.workspace.id, campaign('rerender', 2))
    assert.equal(renders, 2, 'the second run rendered a recipient the ledger already had')
  })

  test('abort_message skips the recipient; a render error fails it; a throw is deferred, retried after the backoff, then failed after maxDeferrals', async () => {
    await putAbortTemplate()
    const warnings: unknown[] = []
    const renderer: Pick<Renderer, 'render' | 'compiled'> = {
      compiled: (w, t, v) => app.renderer.compiled(w, t, v),
      render: async (w, req) => {
        if (req.userId === 'ab-1')
          return {
            ok: false,
            error: { code: 'INK_ERR_RENDER_FAILED', message: 'bad filter' },
            report: (await app.renderer.render(w, req)).report,
          }
        if (req.userId === 'ab-2') throw new Error('renderer down')
        return app.renderer.render(w, req)
      },
    }
    let now = 1_900_000_000_000
    const sleeps: number[] = []
    const p = build({
      renderer,
      logger: { warn: (obj) => void warnings.push(obj) },
      clock: { now: () => now },
      sleep: async (ms) => {
        sleeps.push(ms)
        now += ms
      },
      maxDeferrals: 1,
    })
    const summary = await p.runner.run(app.workspace.id, {
      ...campaign('ab', 4),
      templateId: 'abort-first',
    })
    // ab-2: deferred once, retried a minute later (the backoff), then failed for good.
    assert.deepEqual(summary, counts({ sent: 1, failed: 2, skipped: 1, deferred: 1 }))
    assert.deepEqual(sleeps, [60_000])
    const rows = await p.ledger.list(app.workspace.id, 'ab')
    assert.deepEqual(
      rows.map((r) => [r.recipient, r.state, r.reason, r.detail, r.deferrals]),
      [
        ['ab-0', 'skipped', 'abort_message', 'abort_message: opted out', 0],
        ['ab-1', 'failed', 'render_error', 'render failed: bad filter', 0],
        ['ab-2', 'failed', 'gave_up', 'could not be built: renderer down; gave up after 1 retries', 1],
        ['ab-3', 'sent', null, rows[3]?.detail ?? null, 0],
      ],
    )
    assert.deepEqual([receivedBy('ab-0@example.com').length, receivedBy('ab-3@example.com').length], [0, 1])
    assert.equal(warnings.length, 2)
    const warning = warnings[0] as { messageId?: string; err?: Error }
    assert.deepEqual(
      [warning.messageId, warning.err?.message],
      [campaignMessageId(app.workspace.id, 'ab', 'ab-2'), 'renderer down'],
    )
  })

  test('profiles sharing an address whose first is skipped by the template: only the second is sent to', async () => {
    await putAbortTemplate()
    const p = build({ concurrency: 2 })
    const summary = await p.runner.run(app.workspace.id, {
      ...campaign('hh', 0),
      templateId: 'abort-first',
      audience: [
        { userId: 'hh-a', email: 'hh@example.com' },
        { userId: 'hh-b', email: 'HH@example.com' },
        { userId: 'hh-c', email: 'hh@Example.com' },
      ],
    })
    assert.deepEqual(summary, counts({ sent: 1, skipped: 2 }))
    assert.equal(smtp.received.filter((m) => m.rcptTo[0]?.toLowerCase() === 'hh@example.com').length, 1)
    const rows = await p.ledger.list(app.workspace.id, 'hh')
    assert.deepEqual(
      rows.map((r) => [r.recipient, r.state]),
      [
        ['hh-a', 'skipped'],
        ['hh-b', 'sent'],
        ['hh-c', 'skipped'],
      ],
    )
  })
})

describe('a campaign at a local time', () => {
  test("each recipient gets it when their clock shows the time (timezone trait, else the campaign's zone); holds survive a restart and are not retries", async () => {
    let now = Date.parse('2030-12-02T06:00:00Z')
    const sleeps: number[] = []
    const held: { count: number; until?: number }[] = []
    const zones: Record<string, string | undefined> = {
      'lt-0': 'Asia/Tokyo', // 15:00 there: 09:00 has passed, sent at once
      'lt-1': 'Europe/Paris', // 07:00 there: due 09:00 CET = 08:00 UTC
      'lt-2': undefined, // no trait: the campaign's America/New_York, due 14:00 UTC
      'lt-3': 'Mars/Olympus', // not a zone: the campaign's too
    }
    let stop: AbortController | undefined
    const p = buildCampaignPieces({
      app,
      smtpPort: smtp.port,
      ledgerFile: join(app.dataDir, 'ledger-local-time.db'),
      deps: {
        clock: { now: () => now },
        maxDeferrals: 1,
        lookupTimezone: async (_ws, userId) => zones[userId],
        sleep: async (ms) => {
          sleeps.push(ms)
          held.push(await p.ledger.held(app.workspace.id, 'lt'))
          // The restart comes before the time does: the clock stands still for the stopped run.
          if (stop) stop.abort()
          else now += ms
        },
      },
    })
    try {
      const localTime = { year: 2030, month: 12, day: 2, hour: 9, minute: 0 }
      const c = { ...campaign('lt', 4), sendAt: { localTime, defaultTimezone: 'America/New_York' } }
      // A first run stopped while it waits (a restart): only Tokyo was sent.
      stop = new AbortController()
      const first = await p.runner.run(app.workspace.id, c, undefined, { signal: stop.signal })
      assert.deepEqual([first.sent, first.deferred], [1, 3])
      assert.deepEqual(
        ['lt-0', 'lt-1', 'lt-2', 'lt-3'].map((u) => receivedBy(`${u}@example.com`).length),
        [1, 0, 0, 0],
      )
      const rows = await p.ledger.list(app.workspace.id, 'lt')
      assert.deepEqual(
        rows.slice(1).map((r) => [r.state, r.reason, r.retryAt, r.deferrals]),
        [
          ['deferred', 'local_time', Date.parse('2030-12-02T08:00:00Z'), 0],
          ['deferred', 'local_time', Date.parse('2030-12-02T14:00:00Z'), 0],
          ['deferred', 'local_time', Date.parse('2030-12-02T14:00:00Z'), 0],
        ],
      )
      assert.match(
        String(rows[1]?.detail),
        /held for the local send time \(Europe\/Paris\) until 2030-12-02T08:00:00.000Z/,
      )
      // The next run, still at 06:00: the held rows are held again (not sent early, not counted as retries).
      stop = undefined
      sleeps.length = 0
      held.length = 0
      const second = await p.runner.run(app.workspace.id, c)
      assert.deepEqual([second.sent, second.skipped], [3, 1])
      assert.deepEqual(sleeps, [2 * 3_600_000, 6 * 3_600_000])
      const until = Date.parse('2030-12-02T14:00:00Z')
      assert.deepEqual(held, [
        { count: 3, until },
        { count: 2, until },
      ])
      assert.deepEqual(
        ['lt-0', 'lt-1', 'lt-2', 'lt-3'].map((u) => receivedBy(`${u}@example.com`).length),
        [1, 1, 1, 1],
      )
      const after = await p.ledger.list(app.workspace.id, 'lt')
      assert.deepEqual(
        after.map((r) => [r.state, r.deferrals]),
        Array.from({ length: 4 }, () => ['sent', 0]),
      )
      assert.deepEqual(await p.ledger.held(app.workspace.id, 'lt'), { count: 0 })
    } finally {
      await p.close()
    }
  })
})

describe('campaignMessageId', () => {
  test('is stable, of the form ink-c.<40 hex>, and differs by workspace, campaign and recipient', () => {
    const id = campaignMessageId('w1', 'c1', 'u1')
    assert.match(id, /^ink-c\.[0-9a-f]{40}$/)
    assert.equal(campaignMessageId('w1', 'c1', 'u1'), id)
    const others = [
      campaignMessageId('w2', 'c1', 'u1'),
      campaignMessageId('w1', 'c2', 'u1'),
      campaignMessageId('w1', 'c1', 'u2'),
    ]
    assert.equal(new Set([id, ...others]).size, 4)
  })
})
