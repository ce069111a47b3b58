/**
 * The SNS verifier with a fake fetch: certificates are fetched once per URL (a failed fetch is not
 * kept), an unreachable certificate is 503 (SNS retries) rather than 401, and a SubscribeURL off the
 * SNS hosts is never requested.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InkError } from '../../src/core/errors.ts'
import { parseHostPatterns } from '../../src/delivery/esp/esp-config.ts'
import { parseSnsMessage, SnsVerifier } from '../../src/delivery/esp/sns.ts'
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
