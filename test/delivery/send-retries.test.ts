/**
 * How many times a message is handed to the server, counted as DATA commands at a real SMTP server,
 * for both senders (the campaign runner and the trigger dispatcher): a send whose acceptance is
 * unknown (the connection dropped after the body) is never retried, and a refused one is sent at
 * most maxAttempts times, not once more.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import {
  buildCampaignPieces,
  type CampaignPieces,
  PUBLIC_URL,
  putTemplate,
} from '../campaigns/campaign-fixture.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

describe('campaign runner: sends per recipient', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  let dir: string
  const pieces: CampaignPieces[] = []
  let n = 0
  /** A runner with its own ledger: each campaign id is fresh, so every recipient is sent to. */
  const runOne = async (email: string, deps: { maxAttempts?: number; pauseAfterFailures?: number } = {}) => {
    const p = buildCampaignPieces({
      app,
      smtpPort: smtp.port,
      ledgerFile: join(dir, `ledger-${++n}.db`),
      deps,
    })
    pieces.push(p)
    const summary = await p.runner.run(app.workspace.id, {
      id: `retries-${n}`,
      templateId: 'spring',
      from: 'news@shop.example',
      audience: [{ userId: email.split('@')[0] ?? email, email }],
      vars: { greeting: 'Hi' },
    })
    return summary
  }

  before(async () => {
    smtp = await startSmtpServer()
    dir = tempDir()
    app = await startTestApp({ publicUrl: PUBLIC_URL })
    await putTemplate(app, 'spring')
  })
  after(async () => {
    for (const p of pieces) await p.close()
    await app.close()
    await smtp.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a send whose acceptance is unknown is not retried: one DATA, state unknown', async () => {
    smtp.answer('lost@example.com', 'data-drop-after')
    const summary = await runOne('lost@example.com')
    assert.equal(summary.unknown, 1, JSON.stringify(summary))
    assert.equal(smtp.dataCommandsTo('lost@example.com'), 1)
  })

  test('a refused send is tried exactly maxAttempts times, then deferred (retried minutes later), not failed', async () => {
    smtp.answer('busy@example.com', 'data-451')
    // Pausing after the first refusal ends the run instead of waiting a minute for the retry.
    const summary = await runOne('busy@example.com', { pauseAfterFailures: 1 })
    assert.deepEqual([summary.deferred, summary.failed], [1, 0], JSON.stringify(summary))
    assert.equal(smtp.dataCommandsTo('busy@example.com'), 3, 'the default maxAttempts is 3')
    smtp.answer('busy2@example.com', 'data-451')
    await runOne('busy2@example.com', { maxAttempts: 2, pauseAfterFailures: 1 })
    assert.equal(smtp.dataCommandsTo('busy2@example.com'), 2)
  })

  test('a send refused maxAttempts - 1 times is delivered by the last attempt', async () => {
    smtp.answer('late@example.com', 'data-451', 2)
    const summary = await runOne('late@example.com')
    assert.equal(summary.sent, 1, JSON.stringify(summary))
    assert.equal(smtp.dataCommandsTo('late@example.com'), 3)
  })
})

describe('trigger dispatcher: sends per job', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' })
    await putTemplate(app, 'spring')
    const put = await api(app, 'PUT', '/v1/triggers/retry', { event: 'Poked', templateId: 'spring' })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    await identify(app, {
      lost: { email: 'lost@example.com' },
      busy: { email: 'busy@example.com' },
      late: { email: 'late@example.com' },
    })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  /**
   * Tracks one event for `userId` and waits until its job left `pending`/`sending`, or (`retried`)
   * went back to `pending` after a temporary failure.
   */
  const poke = async (userId: string, retried = false) => {
    const messageId = randomUUID()
    const res = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [{ type: 'track', userId, event: 'Poked', messageId, properties: {} }] }),
    })
    assert.equal(res.status, 200)
    await waitForProcessed(app)
    const jobId = triggerJobId(app.workspace.id, 'retry', messageId)
    const deadline = Date.now() + 10_000
    for (;;) {
      const job = await app.triggers.getJob(app.workspace.id, jobId)
      const back = retried && job?.state === 'pending' && job.attempts > 0
      if (job && (back || (job.state !== 'pending' && job.state !== 'sending'))) {
        await app.triggerDispatcher?.idle()
        return job
      }
      if (Date.now() > deadline) throw new Error(`job still ${JSON.stringify(job)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  test('a send whose acceptance is unknown is not retried: one DATA, state unknown', async () => {
    smtp.answer('lost@example.com', 'data-drop-after')
    const job = await poke('lost')
    assert.equal(job.state, 'unknown', JSON.stringify(job))
    assert.equal(smtp.dataCommandsTo('lost@example.com'), 1)
  })

  test('a refused send is tried exactly three times (the default maxAttempts), then due again in 30 s, not failed', async () => {
    smtp.answer('busy@example.com', 'data-451')
    const job = await poke('busy', true)
    // Issue 10: a temporary failure leaves the job pending with a backoff, never failed for good.
    assert.deepEqual(
      [job.state, job.attempts, job.reason, job.dueAt - (job.firstFailedAt ?? 0)],
      ['pending', 1, 'transport_deferred', 30_000],
      JSON.stringify(job),
    )
    assert.equal(smtp.dataCommandsTo('busy@example.com'), 3)
  })

  test('a send refused twice is delivered by the third attempt', async () => {
    smtp.answer('late@example.com', 'data-451', 2)
    const job = await poke('late')
    assert.equal(job.state, 'sent', JSON.stringify(job))
    assert.equal(smtp.dataCommandsTo('late@example.com'), 3)
  })
})
