/**
 * INKSTREAM_OPEN_TIME_TTL_DAYS: how long the open-time URLs of a sent message keep working. The
 * setting is read by the config and reaches the one send path of both origins: a campaign's
 * message carries a token that expires that many days after the send.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'

const DAY = 86_400_000

describe('the open-time token lifetime', () => {
  test('INKSTREAM_OPEN_TIME_TTL_DAYS is read (default 180) and bounded to 1..3650 days', () => {
    assert.equal(loadConfig({}).openTimeTtlDays, 180)
    assert.equal(loadConfig({ INKSTREAM_OPEN_TIME_TTL_DAYS: '7' }).openTimeTtlDays, 7)
    for (const bad of ['0', '3651', 'soon'])
      assert.throws(
        () => loadConfig({ INKSTREAM_OPEN_TIME_TTL_DAYS: bad }),
        (err: Error & { code?: string }) =>
          err.code === 'INK_ERR_INVALID_CONFIG' && /INKSTREAM_OPEN_TIME_TTL_DAYS/.test(err.message),
        bad,
      )
  })

  describe('a campaign sent with INKSTREAM_OPEN_TIME_TTL_DAYS=7', () => {
    let smtp: TestSmtpServer
    let app: TestApp
    before(async () => {
      smtp = await startSmtpServer()
      app = await startTestApp({
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        from: 'Shop <news@shop.example>',
        openTimeTtlDays: 7,
      })
    })
    after(async () => {
      await app?.close()
      await smtp?.close()
    })

    test('carries a live block URL whose token expires 7 days after the send', async () => {
      const template = {
        subject: 'Hi',
        html: '<p>Hi</p>{% live "hero" width: 300, height: 100 %}<div style="display:flex">{{ first_name }}</div>{% fallback %}Hello{% endlive %}',
      }
      assert.equal((await api(app, 'PUT', '/v1/templates/ttl', template)).status, 201)
      await identify(app, { bo: { email: 'bo@example.com', firstName: 'Bo' } })
      const put = await api(app, 'PUT', '/v1/campaigns/ttl', {
        templateId: 'ttl',
        audience: { userIds: ['bo'] },
      })
      assert.equal(put.status < 300, true, JSON.stringify(put.body))
      const startedAt = Date.now()
      assert.equal((await api(app, 'POST', '/v1/campaigns/ttl/start')).status, 202)
      const [message] = await smtp.waitForMessages(1, 10_000)
      const sentBy = Date.now()
      const html =
        mimeParts(message?.raw ?? '').find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
      const token = /\/o\/([^/"]+)\/hero\.png"/.exec(html)?.[1]
      assert.ok(token, html)
      const verified = app.codec.verify(token)
      assert.ok(verified.ok, JSON.stringify(verified))
      assert.equal(verified.payload.kind, 'open-time')
      assert.ok(
        verified.expiresAt >= startedAt + 7 * DAY && verified.expiresAt <= sentBy + 7 * DAY,
        `expires ${new Date(verified.expiresAt).toISOString()}, not 7 days after the send`,
      )
    })
  })
})
