/**
 * The SNS verifier with a fake fetch: certificates are fetched once per URL (a failed fetch is not
 * kept), an unreachable certificate is 503 (SNS retries) rather than 401, and a SubscribeURL off the
 * SNS hosts is never requested.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { InkError } from '../../src/core/errors.ts'
import { espWebhookSettings, parseHostPatterns } from '../../src/delivery/esp/esp-config.ts'
import { espWebhookRoutes } from '../../src/delivery/esp/esp-routes.ts'
import { parseSnsMessage, SnsVerifier } from '../../src/delivery/esp/sns.ts'
import { installErrorHandler } from '../../src/http/error-handler.ts'
import { createLogger, EcsLogController } from '../../src/observe/logging.ts'
import { selfSigned, snsSigned, TOPIC } from './esp-fixtures.ts'

const signer = selfSigned('sns.amazonaws.com')
const CERT = 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem'
const hosts = parseHostPatterns('sns.*.amazonaws.com')
if (!hosts.ok) throw new Error('host patterns')

const notification = (id: string, certUrl = CERT) =>
  parseSnsMessage(
    JSON.stringify(
      snsSigned(
        {
          Type: 'Notification',
          MessageId: id,
          TopicArn: TOPIC,
          Message: '{}',
          Timestamp: '2026-11-28T11:00:00Z',
          Subject: 'Hi',
        },
        signer.key,
        certUrl,
      ),
    ),
  )
const code = (c: string) => (err: unknown) => err instanceof InkError && err.code === c

describe('the SNS verifier', () => {
  test('fetches a certificate once per URL, and again after a failed fetch', async () => {
    const fetched: string[] = []
    let fail = true
    const verifier = new SnsVerifier({
      allowHost: hosts.value,
      fetchText: async (url) => {
        fetched.push(url.href)
        if (fail) throw new Error('connect ETIMEDOUT')
        return signer.cert
      },
    })
    await assert.rejects(verifier.verify(notification('1')), code('INK_ERR_WEBHOOK_UNVERIFIABLE'))
    fail = false
    await verifier.verify(notification('2'))
    await verifier.verify(notification('3'))
    assert.deepEqual(fetched, [CERT, CERT])
    // A Subject is part of what is signed: changing it breaks the signature.
    await assert.rejects(
      verifier.verify({ ...notification('4'), Subject: 'Changed' }),
      code('INK_ERR_WEBHOOK_UNAUTHORIZED'),
    )
  })

  test('a certificate URL or SubscribeURL off the SNS hosts is refused without a request', async () => {
    const fetched: string[] = []
    const verifier = new SnsVerifier({
      allowHost: hosts.value,
      fetchText: async (url) => {
        fetched.push(url.href)
        return signer.cert
      },
    })
    for (const url of [
      'https://sns.us-west-2.amazonaws.com.evil.example/SimpleNotificationService-abc.pem',
      'https://evil.example/sns.us-west-2.amazonaws.com/x.pem',
      'https://user@sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-west-2.amazonaws.com/not-a-certificate.txt',
      'not a url',
    ])
      await assert.rejects(verifier.verify(notification('5', url)), code('INK_ERR_WEBHOOK_UNAUTHORIZED'), url)
    const confirmation = { ...notification('6'), Type: 'SubscriptionConfirmation' as const }
    await assert.rejects(
      verifier.confirm({ ...confirmation, SubscribeURL: 'https://evil.example/?Action=ConfirmSubscription' }),
      code('INK_ERR_WEBHOOK_UNAUTHORIZED'),
    )
    assert.deepEqual(fetched, [])
    await verifier.confirm({
      ...confirmation,
      SubscribeURL: 'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=t',
    })
    assert.deepEqual(fetched, ['https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=t'])
  })
})

describe('the SES route with INKSTREAM_SNS_TOPIC_ARNS', () => {
  test('refuses another topic before any certificate is fetched', async () => {
    const fetched: string[] = []
    const recorded: unknown[] = []
    const lines: string[] = []
    const logger: FastifyBaseLogger = createLogger({
      level: 'info',
      serviceName: 'test',
      destination: { write: (line: string) => void lines.push(line) },
    })
    // As buildServer does: request lines name the route pattern, never the path.
    const app = Fastify({ loggerInstance: logger, logController: new EcsLogController() })
    installErrorHandler(app)
    await espWebhookRoutes(app, {
      settings: espWebhookSettings({
        workspaceId: 'w',
        espWebhookSecrets: 'w:secret-secret-secret',
        snsCertHosts: 'sns.*.amazonaws.com',
        snsTopicArns: 'arn:aws:sns:us-west-2:123456789012:ours',
      }),
      sink: {
        record: async (_ws, f) => {
          recorded.push(...f)
          return f.map(() => 'recorded' as const)
        },
      },
      workspaces: { byId: (id) => (id === 'w' ? { id, writeKey: 'x', adminKey: 'y' } : undefined) },
      sns: new SnsVerifier({
        allowHost: hosts.value,
        fetchText: async (url) => {
          fetched.push(url.href)
          return signer.cert
        },
      }),
      clock: { now: () => Date.now() },
    })
    const res = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/ses/w/secret-secret-secret',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      payload: JSON.stringify(notification('7')),
    })
    await app.close()
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'INK_ERR_WEBHOOK_UNAUTHORIZED')
    assert.match(res.json().message, /INKSTREAM_SNS_TOPIC_ARNS/)
    assert.deepEqual([fetched, recorded], [[], []])
    // The refusal is logged with its code; the secret is not.
    const log = lines.join('')
    assert.match(log, /"code":"INK_ERR_WEBHOOK_UNAUTHORIZED"/)
    assert.match(log, /\/v1\/webhooks\/ses\/:workspaceId\/:secret/)
    assert.ok(!log.includes('secret-secret-secret'), log)
  })
})
