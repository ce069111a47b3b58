/**
 * The WebhookOutbox seam suite over PostgreSQL (a location is a schema, reopening is a new pool), and
 * two dispatchers in two "processes" (pools) on one outbox never sending one row twice.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PgWebhookOutbox } from '../../src/webhooks/pg-outbox.ts'
import { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher.ts'
import { freshSchema, type PgSchema, pgSkip } from '../helpers/pg.ts'
import { openEvent, outboxSuite, recordingLogger, SECRET, T0 } from './outbox-suite.ts'
import { startReceiver } from './receiver.ts'

const skip = await pgSkip()
const schemas = new Map<string, PgSchema>()

outboxSuite(
  {
    name: 'PgWebhookOutbox',
    async open(location, opts) {
      const schema = schemas.get(location)
      if (!schema) throw new Error(`no schema ${location}`)
      const outbox = new PgWebhookOutbox(schema.connect(4), opts)
      await outbox.ready()
      return outbox
    },
    async location() {
      const schema = await freshSchema()
      schemas.set(schema.name, schema)
      return schema.name
    },
    async cleanup(location) {
      await schemas.get(location)?.drop()
      schemas.delete(location)
    },
  },
  { skip },
)

describe('two dispatchers on one PostgreSQL outbox', { skip }, () => {
  test('deliver every row exactly once between them', async () => {
    const schema = await freshSchema()
    const receiver = await startReceiver(() => 200)
    try {
      const clock = { t: T0, now: () => clock.t }
      const a = new PgWebhookOutbox(schema.connect(6), { clock })
      const b = new PgWebhookOutbox(schema.connect(6), { clock })
      await Promise.all([a.ready(), b.ready()])
      const ids: string[] = []
      for (let i = 0; i < 60; i++) ids.push((await a.enqueue(openEvent(`msg-${i}`))).delivery.id)
      const dispatcher = (outbox: PgWebhookOutbox) =>
        new WebhookDispatcher({
          outbox,
          webhook: { url: receiver.url, secret: SECRET },
          clock,
          logger: recordingLogger(),
          concurrency: 6,
        })
      const [sentA, sentB] = await Promise.all([dispatcher(a).drain(), dispatcher(b).drain()])
      assert.equal(sentA + sentB, 60)
      const delivered = receiver.requests.map((r) => r.headers['inkstream-delivery'] as string)
      assert.deepEqual([...delivered].sort(), [...ids].sort())
      const rows = await a.list('w', { limit: 100 })
      assert.deepEqual(
        rows.map((r) => [r.state, r.attempts]),
        ids.map(() => ['delivered', 1]),
      )
      await a.close()
      await b.close()
    } finally {
      await receiver.close()
      await schema.drop()
    }
  })
})
