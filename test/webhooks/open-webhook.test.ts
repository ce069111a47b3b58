/** The webhook's config, and what a process composes from it: hooks that enqueue, a dispatcher in the sender. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InkError } from '../../src/core/errors.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { NO_OPEN_HOOKS } from '../../src/webhooks/open-hooks.ts'
import { composeOpenWebhook } from '../../src/webhooks/open-webhook.ts'
import { SqliteWebhookOutbox } from '../../src/webhooks/sqlite-outbox.ts'
import { webhookConfigOf } from '../../src/webhooks/webhook-config.ts'
import { openEvent, recordingLogger, SECRET, T0 } from './outbox-suite.ts'
import { startReceiver, until } from './receiver.ts'

describe('webhookConfigOf', () => {
  test('reads content.openTime.webhook, and nothing when it is absent', () => {
    assert.equal(webhookConfigOf({}), undefined)
    assert.equal(webhookConfigOf({ fallbacks: {}, openTime: { deadlineMs: 250 } }), undefined)
    assert.deepEqual(
      webhookConfigOf({
        openTime: { deadlineMs: 250, webhook: { url: 'https://hooks.example/open', secret: SECRET } },
      }),
      { url: 'https://hooks.example/open', secret: SECRET },
    )
  })

  test('refuses a non-http URL and a short secret, naming the fields and never the secret', () => {
    const secret = 'short-secret'
    assert.throws(
      () => webhookConfigOf({ openTime: { webhook: { url: 'ftp://hooks.example/', secret } } }),
      (err: unknown) => {
        assert.ok(err instanceof InkError)
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.equal(
          err.message,
          'invalid configuration:\n  - openTime.webhook.url: webhook.url must be an http(s) URL\n  - openTime.webhook.secret: webhook.secret must be at least 16 characters',
        )
        assert.equal(JSON.stringify({ ...err, message: err.message }).includes(secret), false)
        return true
      },
    )
  })
})

describe('composeOpenWebhook', () => {
  const setup = () => {
    const db = openSqlite(':memory:')
    const clock = { t: T0, now: () => clock.t }
    return { db, clock, outbox: new SqliteWebhookOutbox(db, { clock }) }
  }

  test('without a webhook, opens are not enqueued and nothing dispatches', async () => {
    const { db, clock, outbox } = setup()
    const w = composeOpenWebhook(outbox, undefined, { dispatch: true, clock, logger: recordingLogger() })
    assert.equal(w.hooks, NO_OPEN_HOOKS)
    assert.equal(w.dispatcher, undefined)
    await w.hooks.opened(openEvent('msg-1'))
    assert.deepEqual(await outbox.list('w'), [])
    db.close()
  })

  test('an api-only process enqueues without a dispatcher; the sender process delivers, started after listen', async () => {
    const { db, clock, outbox } = setup()
    const receiver = await startReceiver(() => 200)
    try {
      const webhook = { url: receiver.url, secret: SECRET }
      const api = composeOpenWebhook(outbox, webhook, { dispatch: false, clock, logger: recordingLogger() })
      assert.equal(api.dispatcher, undefined)
      await api.hooks.opened(openEvent('msg-1'))
      const [row] = await outbox.list('w')
      assert.deepEqual([row?.eventId, row?.state], ['msg-1', 'pending'])

      const sender = composeOpenWebhook(outbox, webhook, { dispatch: true, clock, logger: recordingLogger() })
      assert.ok(sender.dispatcher)
      await sender.hooks.opened(openEvent('msg-2'))
      assert.equal(receiver.requests.length, 0, 'nothing is sent before start()')
      sender.start()
      await until(
        async () => (await outbox.list('w', { state: 'delivered' })).length === 2,
        'both deliveries',
      )
      assert.deepEqual(receiver.requests.map((r) => JSON.parse(r.body).event.messageId).sort(), [
        'msg-1',
        'msg-2',
      ])
      await sender.close()
      await api.close()
    } finally {
      await receiver.close()
      db.close()
    }
  })
})
