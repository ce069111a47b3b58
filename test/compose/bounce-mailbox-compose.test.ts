/**
 * The bounce mailbox in the composition: with INKSTREAM_BOUNCE_IMAP, a process that sends
 * (embedded mode; the scale-out sender role) reads the mailbox once it listens and gives the
 * feedback to the sink it was composed with, in its workspace; a process without the sender role
 * does not read it; closing the app stops the reader. A real dovecot, Kafka, PostgreSQL, Redis.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { type ComposedApp, composeEmbedded, composeScaleOut } from '../../src/compose/root.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import type { Feedback, FeedbackSink } from '../../src/delivery/feedback.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { postfixDsn, rfc5965Arf } from '../delivery/report-samples.ts'
import { startTestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'

class CollectingSink implements FeedbackSink {
  readonly got: { workspaceId: string; feedback: Feedback }[] = []
  async record(workspaceId: string, feedback: readonly Feedback[]): Promise<('recorded' | 'unmatched')[]> {
    for (const f of feedback) this.got.push({ workspaceId, feedback: f })
    return feedback.map(() => 'recorded')
  }
}

const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const dovecotSkip = dovecotMissing()

describe('the bounce mailbox in an embedded app', { skip: dovecotSkip }, () => {
  let dovecot: Dovecot
  before(async () => {
    dovecot = await startDovecot()
  })
  after(async () => {
    await dovecot?.close()
  })

  const config = (dataDir: string, extra: ConfigInput = {}) =>
    loadConfig(
      {},
      {
        port: 0,
        logLevel: 'silent',
        dataDir,
        workspaceId: 'shop',
        bounceImap: dovecot.url('INBOX', '?pollSeconds=1'),
        bounceAddress: 'bounces@shop.example',
        ...extra,
      },
    )

  test('reads the mailbox once listening, into the sink, in the workspace; stops with the app', async () => {
    const dataDir = tempDir('inkstream-bounces-')
    const sink = new CollectingSink()
    await dovecot.append('INBOX', postfixDsn())
    const app = await composeEmbedded(config(dataDir), { feedbackSink: sink })
    try {
      // Not before listen (longer than a poll): the senders start then.
      await new Promise((r) => setTimeout(r, 1_500))
      assert.equal(sink.got.length, 0)
      await app.listen()
      await waitFor('the bounce', () => sink.got.length === 1)
      assert.deepEqual(
        sink.got.map((g) => [
          g.workspaceId,
          g.feedback.kind,
          g.feedback.recipient,
          g.feedback.bounce?.status,
        ]),
        [['shop', 'bounced', 'nobody@example.org', '5.1.1']],
      )
      await waitFor('the move', async () => (await dovecot.list('Processed')).length === 1)
    } finally {
      await app.close()
    }
    // Closed: a new report stays unread.
    await dovecot.append('INBOX', rfc5965Arf())
    await new Promise((r) => setTimeout(r, 1_500))
    assert.equal(sink.got.length, 1)
    assert.deepEqual(
      (await dovecot.list('INBOX')).map((m) => m.flags),
      [[]],
    )
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('with the app own sink: a DSN in the mailbox becomes Email Bounced on the profile, and the processor suppresses the address', async () => {
    const app = await startTestApp({
      workspaceId: 'shop',
      bounceImap: dovecot.url('INBOX', '?pollSeconds=1'),
      bounceAddress: 'bounces@shop.example',
    })
    try {
      await identify(app, { nobody: { email: 'Nobody@Example.org' } })
      await dovecot.append('INBOX', postfixDsn())
      const admin = { authorization: `Bearer ${app.workspace.adminKey}` }
      await waitFor('the suppression', async () => {
        const res = await fetch(`${app.url}/v1/suppressions/nobody@example.org`, { headers: admin })
        return res.status === 200
      })
      const got = await (
        await fetch(`${app.url}/v1/suppressions/nobody@example.org`, { headers: admin })
      ).json()
      assert.deepEqual(
        got.suppressions.map((e: { reason: string }) => e.reason),
        ['bounced'],
      )
      const events = await (await fetch(`${app.url}/v1/profiles/nobody/events`, { headers: admin })).json()
      const bounce = events.events.find((e: { name: string }) => e.name === 'Email Bounced')
      assert.ok(bounce, JSON.stringify(events))
      assert.deepEqual(
        [bounce.data.properties.source, bounce.data.properties.bounce_type, bounce.data.properties.status],
        ['mailbox', 'hard', '5.1.1'],
      )
      await waitFor('the move', async () => (await dovecot.list('Processed')).length >= 1)
    } finally {
      await app.close()
    }
  })

  test("a DSN about another workspace's message is recorded in that workspace, not in the reader's", async () => {
    // Two workspaces in one store: "eu" sends a campaign, then the process restarts as "shop" (a
    // deployment whose workspaces share one bounce address and mailbox) and reads the bounce.
    const dataDir = tempDir('inkstream-bounces-two-')
    const address = 'Nobody@Example.org'
    const eu = await startTestApp({ dataDir, workspaceId: 'eu', bounceAddress: 'bounces@shop.example' })
    let emailId = ''
    const euKeys = eu.workspace
    try {
      await identify(eu, { nobody: { email: address } })
      await putTemplate(eu, 'spring')
      const put = await api(eu, 'PUT', '/v1/campaigns/spring', {
        templateId: 'spring',
        audience: { userIds: ['nobody'] },
        from: 'news@shop.example',
        vars: { greeting: 'Hi' },
      })
      assert.equal(put.status, 201, JSON.stringify(put.body))
      const start = await api(eu, 'POST', '/v1/campaigns/spring/start')
      assert.equal(start.status, 202, JSON.stringify(start.body))
      // Sent (to the outbox), and its row in analytics, which is what the sink resolves it by.
      await waitFor('the message row', async () => {
        const res = await api(eu, 'GET', '/v1/profiles/nobody/messages')
        emailId = res.body.messages?.[0]?.outcome === 'sent' ? res.body.messages[0].emailId : ''
        return emailId !== ''
      })
    } finally {
      await eu.close()
    }
    const shop = await startTestApp({
      dataDir,
      workspaceId: 'shop',
      bounceImap: dovecot.url('INBOX', '?pollSeconds=1'),
      bounceAddress: 'bounces@shop.example',
    })
    try {
      // The same address in the reader's own workspace: matching by address there would be wrong.
      await identify(shop, { nobody: { email: address } })
      await dovecot.append('INBOX', postfixDsn(emailId))
      const euAdmin = { authorization: `Bearer ${euKeys.adminKey}` }
      const suppressed = async (headers: Record<string, string>) =>
        (await fetch(`${shop.url}/v1/suppressions/nobody@example.org`, { headers })).status === 200
      await waitFor('the suppression in eu', () => suppressed(euAdmin))
      const events = await (await fetch(`${shop.url}/v1/profiles/nobody/events`, { headers: euAdmin })).json()
      const bounce = events.events.find((e: { name: string }) => e.name === 'Email Bounced')
      assert.deepEqual(
        [
          bounce?.data.properties.email_id,
          bounce?.data.properties.campaign_id,
          bounce?.data.properties.source,
        ],
        [emailId, 'spring', 'mailbox'],
      )
      await waitFor('the move', async () => (await dovecot.list('Processed')).length >= 1)
      await waitForProcessed(shop)
      assert.equal(await suppressed({ authorization: `Bearer ${shop.workspace.adminKey}` }), false)
      const shopEvents = await api(shop, 'GET', '/v1/profiles/nobody/events')
      assert.deepEqual(
        shopEvents.body.events.map((e: { name: string | null }) => e.name),
        [null],
        'shop only has its identify',
      )
    } finally {
      await shop.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

const scaleOutSkip = dovecotSkip || (await kafkaMissing()) || (await pgSkip()) || (await redisMissing())

describe('the bounce mailbox in scale-out roles', { skip: scaleOutSkip, timeout: 300_000 }, () => {
  let dovecot: Dovecot
  let database: { url: string; drop(): Promise<void> } | undefined
  const topic = KafkaEventLog.uniqueTopic('inkstream-bounce-mailbox')
  before(async () => {
    dovecot = await startDovecot()
    database = await freshDatabase('ink_bounces')
  })
  after(async () => {
    await dovecot?.close()
    await database?.drop()
  })

  const start = async (roles: string, sink: FeedbackSink): Promise<ComposedApp> => {
    const config = loadConfig(
      {},
      {
        port: 0,
        logLevel: 'silent',
        dataDir: tempDir('inkstream-bounces-'),
        roles,
        kafkaBrokers: kafkaBrokers().join(','),
        kafkaTopic: topic,
        kafkaPartitions: 2,
        databaseUrl: database?.url,
        redisUrl: REDIS_URL,
        bounceImap: dovecot.url('INBOX', '?pollSeconds=1'),
      },
    )
    const app = await composeScaleOut(config, { feedbackSink: sink })
    await app.listen()
    return app
  }

  test('the api role does not read the mailbox; the sender role does', async () => {
    await dovecot.append('INBOX', rfc5965Arf())
    const apiSink = new CollectingSink()
    const api = await start('api', apiSink)
    try {
      await new Promise((r) => setTimeout(r, 1_500))
      assert.equal(apiSink.got.length, 0)
    } finally {
      await api.close()
    }
    const senderSink = new CollectingSink()
    const sender = await start('sender', senderSink)
    try {
      await waitFor('the complaint', () => senderSink.got.length === 1)
      assert.deepEqual(
        senderSink.got.map((g) => [g.workspaceId, g.feedback.kind, g.feedback.recipient]),
        [['default', 'complained', 'user@example.com']],
      )
    } finally {
      await sender.close()
    }
  })
})
