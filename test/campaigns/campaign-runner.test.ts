/** CampaignRunner against a real SMTP server and a real app: delivery, the ledger, suppression, retries. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Campaign, Progress } from '../../src/campaigns/campaign-runner.ts'
import type { Transport } from '../../src/delivery/transport.ts'
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

const html = (m: ReceivedMessage) => mimeParts(m.raw).find((p) => p.contentType.startsWith('text/html'))?.body

describe('a campaign', () => {
  test('delivers one personalized, tracked message with one-click unsubscribe to each recipient', async () => {
    const progress: Progress[] = []
    const summary = await pieces.runner.run(app.workspace.id, campaign('five', 5), (p) => progress.push(p))
    assert.deepEqual(summary, { sent: 5, failed: 0, suppressed: 0, skipped: 0, unknown: 0, remaining: 0 })
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
    assert.equal(progress.at(-1)?.etaMs, 0)
    assert.ok((progress[0]?.ratePerSecond ?? 0) > 0)
    assert.deepEqual(await pieces.runner.progress(app.workspace.id, 'five'), {
      sending: 0,
      sent: 5,
      failed: 0,
      unknown: 0,
      suppressed: 0,
      skipped: 0,
    })
  })

  test('run again, it sends nothing: every recipient is already in the ledger', async () => {
    await pieces.runner.run(app.workspace.id, campaign('again', 3))
    const before = smtp.received.length
    const summary = await pieces.runner.run(app.workspace.id, campaign('again', 3))
    assert.deepEqual(summary, { sent: 0, failed: 0, suppressed: 0, skipped: 3, unknown: 0, remaining: 0 })
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
      await pieces.runner.run(app.workspace.id, campaign('race', 3))
    } finally {
      ledger.claim = claim
    }
    assert.equal(receivedBy('race-1@example.com').length, 0, 'sent although the claim answered false')
    assert.equal(receivedBy('race-0@example.com').length, 1)
    assert.equal(receivedBy('race-2@example.com').length, 1)
    const entry = await ledger.get({ workspaceId: app.workspace.id, campaignId: 'race', recipient: 'race-1' })
    assert.equal(entry?.messageId, 'other-runner', "the other runner's claim stands")
  })

  test('a suppressed address gets nothing and is counted as suppressed', async () => {
    await app.suppressions.suppress(app.workspace.id, 'supp-1@example.com', {
      reason: 'unsubscribed',
      source: 'test',
    })
    const summary = await pieces.runner.run(app.workspace.id, campaign('supp', 3))
    assert.deepEqual(summary, { sent: 2, failed: 0, suppressed: 1, skipped: 0, unknown: 0, remaining: 0 })
    assert.equal(receivedBy('supp-1@example.com').length, 0)
    assert.equal(receivedBy('supp-0@example.com').length, 1)
    assert.equal(receivedBy('supp-2@example.com').length, 1)
    const entry = await pieces.ledger.get({
      workspaceId: app.workspace.id,
      campaignId: 'supp',
      recipient: 'supp-1',
    })
    assert.equal(entry?.state, 'suppressed')
    assert.equal(entry?.attempts, 0)
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
    assert.deepEqual(summary, { sent: 1, failed: 0, suppressed: 0, skipped: 2, unknown: 0, remaining: 0 })
    assert.equal(smtp.received.filter((m) => m.rcptTo[0]?.toLowerCase() === 'home@example.com').length, 1)
    const b = await pieces.ledger.get({
      workspaceId: app.workspace.id,
      campaignId: 'household',
      recipient: 'home-b',
    })
    assert.equal(b?.state, 'skipped')
    assert.match(b?.detail ?? '', /another recipient of this campaign has the address home@example.com/)
  })

  test('a recipient rejected with 554 fails once, is suppressed as bounced, and the others get one each', async () => {
    smtp.answer('bounce-2@example.com', 'rcpt-554')
    const summary = await pieces.runner.run(app.workspace.id, campaign('bounce', 5))
    assert.deepEqual(summary, { sent: 4, failed: 1, suppressed: 0, skipped: 0, unknown: 0, remaining: 0 })
    for (const i of [0, 1, 3, 4]) assert.equal(receivedBy(`bounce-${i}@example.com`).length, 1)
    assert.equal(receivedBy('bounce-2@example.com').length, 0)
    const entry = await pieces.ledger.get({
      workspaceId: app.workspace.id,
      campaignId: 'bounce',
      recipient: 'bounce-2',
    })
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
      assert.deepEqual(summary, { sent: 3, failed: 0, suppressed: 0, skipped: 0, unknown: 0, remaining: 0 })
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
    const entry = await pieces.ledger.get({
      workspaceId: app.workspace.id,
      campaignId: 'retry',
      recipient: 'retry-1',
    })
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

  test('the rate limit spaces the sends', async () => {
    const started = Date.now()
    const summary = await pieces.runner.run(app.workspace.id, campaign('rate', 6, { ratePerSecond: 20 }))
    assert.equal(summary.sent, 6)
    // One token at the start, then one every 50 ms.
    assert.ok(Date.now() - started >= 240, `took ${Date.now() - started} ms`)
  })
})
