import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ledgerState, sendWithRetries } from '../../src/campaigns/send-retries.ts'
import type { OutgoingMessage, SendOutcome } from '../../src/delivery/transport.ts'

const message: OutgoingMessage = {
  messageId: 'm1',
  from: 'a@example.com',
  to: 'b@example.com',
  subject: 's',
  text: '',
  html: '',
}
const refused: SendOutcome = { outcome: 'temporary', code: 451, message: '4.3.0 try later', accepted: 'no' }
const lost: SendOutcome = {
  outcome: 'temporary',
  code: null,
  message: 'connection lost',
  accepted: 'unknown',
}
const sent: SendOutcome = { outcome: 'sent', response: '250 ok', smtpMessageId: '<m1@example.com>' }

/** A transport answering `answers` in turn; records the sleeps and the hooks between attempts. */
function script(answers: SendOutcome[]) {
  const events: string[] = []
  const send = async (m: OutgoingMessage) => {
    events.push(`send ${m.messageId}`)
    return answers.shift() ?? sent
  }
  const policy = {
    maxAttempts: 3,
    retryDelayMs: 200,
    sleep: async (ms: number) => {
      events.push(`sleep ${ms}`)
    },
  }
  const before = async () => {
    events.push('before')
  }
  return { events, run: () => sendWithRetries(send, message, policy, before) }
}

describe('the campaign retry policy', () => {
  test('a refusal the server certainly did not keep is sent again, the delay doubling, same message', async () => {
    const s = script([refused, refused])
    const { outcome, attempts } = await s.run()
    assert.deepEqual(outcome, sent)
    assert.equal(attempts, 3)
    assert.deepEqual(s.events, [
      'before',
      'send m1',
      'sleep 200',
      'before',
      'send m1',
      'sleep 400',
      'before',
      'send m1',
    ])
  })

  test('attempts stop at maxAttempts and the failure names them', async () => {
    const s = script([refused, refused, refused, refused])
    const { outcome, attempts } = await s.run()
    assert.equal(attempts, 3)
    assert.deepEqual(ledgerState(outcome, attempts), ['failed', '451 4.3.0 try later (after 3 attempts)'])
  })

  test('a failure after the body is never sent again: the server may have it', async () => {
    const s = script([lost])
    const { outcome, attempts } = await s.run()
    assert.equal(attempts, 1)
    assert.deepEqual(ledgerState(outcome, attempts), [
      'unknown',
      'the server may have the message: connection lost',
    ])
  })

  test('permanent and invalid outcomes end at once as failed', async () => {
    const answers: SendOutcome[] = [
      { outcome: 'permanent', code: 550, message: '5.1.1 no such user' },
      { outcome: 'invalid', field: 'to', message: 'not an address' },
    ]
    for (const answer of answers) {
      const s = script([answer])
      const { outcome, attempts } = await s.run()
      assert.equal(attempts, 1)
      assert.equal(ledgerState(outcome, attempts)[0], 'failed')
    }
  })
})
