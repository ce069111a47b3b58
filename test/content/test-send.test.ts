/**
 * POST /v1/templates/:id/test-send on a running app, through a real SMTP server: the message arrives
 * marked as a test and personalised with the chosen profile, and nothing else changes — no ledger
 * row, no event in the log, no tracked links, no suppression from a bounce; a suppressed address is
 * refused.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DATABASE_FILE } from '../../src/app.ts'
import { LOG_FILE } from '../../src/compose/embedded-files.ts'
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { decodeWords, header, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

const TEMPLATE = {
  subject: 'Hi {{ first_name | default: "there" }}',
  html: '<html><body><p>Hello {{ first_name | default: "there" }} from {{ city | default: "your city" }}</p><a href="https://shop.example.com/sale">Sale</a></body></html>',
}

/** Rows in the send ledger's tables and in the event log: what a real send would add to. */
function footprint(db: SqliteDatabase, logDb: SqliteDatabase): { ledger: number; log: number } {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'send_ledger%'")
    .pluck()
    .all() as string[]
  assert.ok(tables.length > 0, 'the ledger has a table')
  let ledger = 0
  for (const t of tables) ledger += db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number
  const log = logDb.prepare('SELECT COUNT(*) FROM log_events').pluck().get() as number
  return { ledger, log }
}

describe('sending a template as a test', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let db: SqliteDatabase
  let logDb: SqliteDatabase
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    assert.ok((await api(app, 'PUT', '/v1/templates/promo', TEMPLATE)).status < 300)
    await identify(app, { zed: { firstName: 'Zed', city: 'Oslo', email: 'zed@example.com' } })
    await waitForProcessed(app)
    db = openSqlite(join(app.dataDir, DATABASE_FILE))
    logDb = openSqlite(join(app.dataDir, LOG_FILE))
  })
  after(async () => {
    db.close()
    logDb.close()
    await app.close()
    await smtp.close()
  })

  test('an inline profile renders into a message marked as a test, with no ledger row and no event', async () => {
    const before = footprint(db, logDb)
    const res = await api(app, 'POST', '/v1/templates/promo/test-send', {
      to: 'qa@example.com',
      profile: { first_name: 'Zoe' },
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.sent, true)
    assert.deepEqual(res.body.accepted, ['qa@example.com'])
    assert.equal(res.body.subject, '[TEST] Hi Zoe')
    assert.match(res.body.messageId, /^<ink-t\.[0-9a-f]{32}@/)
    // The render's fallback report: `city` was missing from the inline profile.
    assert.deepEqual(
      [...new Set(res.body.report.fallbacks.map((f: { placeholder: string }) => f.placeholder))],
      ['city'],
    )

    const [mail] = await smtp.waitForMessages(1)
    assert.ok(mail)
    assert.deepEqual(mail.rcptTo, ['qa@example.com'])
    assert.equal(decodeWords(header(mail.raw, 'subject') ?? ''), '[TEST] Hi Zoe')
    assert.equal(header(mail.raw, 'x-inkstream-test'), '1')
    assert.equal(header(mail.raw, 'message-id'), res.body.messageId)
    assert.match(mail.raw, /Hello Zoe from your city/)
    // Not tracked: the link is the template's own, and there is no unsubscribe token.
    assert.match(mail.raw, /https:\/\/shop\.example\.com\/sale/)
    assert.equal(header(mail.raw, 'list-unsubscribe'), undefined)

    await waitForProcessed(app)
    assert.deepEqual(footprint(db, logDb), before, 'no ledger row and no event in the log')
  })

  test("a stored user's profile personalises the message, which goes to `to`, not to the user", async () => {
    const res = await api(app, 'POST', '/v1/templates/promo/test-send', {
      to: 'qa2@example.com',
      userId: 'zed',
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.report.fallbacks, [])
    assert.equal(
      res.body.report.profile.outcome !== 'not-found',
      true,
      JSON.stringify(res.body.report.profile),
    )
    const mail = (await smtp.waitForMessages(2)).find((m) => m.rcptTo.includes('qa2@example.com'))
    assert.ok(mail)
    assert.match(mail.raw, /Hello Zed from Oslo/)
    assert.equal(smtp.received.filter((m) => m.rcptTo.includes('zed@example.com')).length, 0)
  })

  test('a suppressed address is refused with the entries that stop it, and nothing is sent', async () => {
    assert.equal(
      (await api(app, 'PUT', '/v1/suppressions/blocked@example.com', { reason: 'unsubscribed' })).status,
      201,
    )
    const count = smtp.received.length
    const res = await api(app, 'POST', '/v1/templates/promo/test-send', {
      to: 'Blocked@Example.com',
      profile: {},
    })
    assert.equal(res.status, 409)
    assert.equal(res.body.code, 'INK_ERR_RECIPIENT_SUPPRESSED')
    assert.match(res.body.message, /^to: blocked@example\.com is suppressed \(unsubscribed\)/)
    assert.deepEqual(
      res.body.suppressions.map((s: { reason: string; source: string }) => [s.reason, s.source]),
      [['unsubscribed', 'api']],
    )
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(smtp.received.length, count)
  })

  test('a refused test message is a 502 and suppresses nothing, even a hard bounce', async () => {
    smtp.answer('gone@example.com', 'rcpt-550')
    const before = footprint(db, logDb)
    const res = await api(app, 'POST', '/v1/templates/promo/test-send', {
      to: 'gone@example.com',
      profile: {},
    })
    assert.equal(res.status, 502, JSON.stringify(res.body))
    assert.equal(res.body.code, 'INK_ERR_TEST_SEND_FAILED')
    assert.equal(res.body.outcome, 'permanent')
    assert.equal(res.body.smtpCode, 550)
    assert.equal((await api(app, 'GET', '/v1/suppressions/gone@example.com')).status, 404)
    await waitForProcessed(app)
    assert.deepEqual(footprint(db, logDb), before)
  })

  test('a template that aborts for the profile answers `sent: false` with the reason and sends nothing', async () => {
    const put = await api(app, 'PUT', '/v1/templates/vip', {
      subject: 'For VIPs',
      html: "<p>{% if tier != 'vip' %}{% abort_message('not a vip') %}{% endif %}Hello VIP</p>",
    })
    assert.ok(put.status < 300, JSON.stringify(put.body))
    const count = smtp.received.length
    const res = await api(app, 'POST', '/v1/templates/vip/test-send', { to: 'qa@example.com', profile: {} })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(
      [res.body.sent, res.body.skipped],
      [false, { type: 'abort_message', reason: 'not a vip' }],
    )
    const vip = await api(app, 'POST', '/v1/templates/vip/test-send', {
      to: 'qa@example.com',
      profile: { tier: 'vip' },
    })
    assert.equal(vip.body.sent, true, JSON.stringify(vip.body))
    await smtp.waitForMessages(count + 1)
    assert.equal(smtp.received.length, count + 1)
  })

  test('an unknown template is a 404 and a bad address a 400 naming `to`', async () => {
    const missing = await api(app, 'POST', '/v1/templates/nope/test-send', { to: 'qa@example.com' })
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'INK_ERR_NOT_FOUND')
    assert.match(missing.body.message, /template "nope"/)
    const bad = await api(app, 'POST', '/v1/templates/promo/test-send', { to: 'qa at example.com' })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
    assert.match(bad.body.message, /^invalid request: to: not an email address/)
  })
})
