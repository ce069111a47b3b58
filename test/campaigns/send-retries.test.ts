import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isRecipientBounce, ledgerState, sendWithRetries } from '../../src/campaigns/send-retries.ts'
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

  test('the failed detail carries the server words: code and text, the invalid field, or "no reply"', () => {
    assert.deepEqual(ledgerState({ outcome: 'permanent', code: 550, message: '5.1.1 no such user' }, 1), [
      'failed',
      '550 5.1.1 no such user',
    ])
    assert.deepEqual(ledgerState({ outcome: 'invalid', field: 'to', message: 'not an address' }, 1), [
      'failed',
      'invalid to: not an address',
    ])
    const refusedConnection: SendOutcome = {
      outcome: 'temporary',
      code: null,
      message: 'connect ECONNREFUSED',
      accepted: 'no',
    }
    assert.deepEqual(ledgerState(refusedConnection, 3), [
      'failed',
      'no reply connect ECONNREFUSED (after 3 attempts)',
    ])
  })

  test('without a beforeAttempt hook the message is still sent and retried', async () => {
    const answers = [refused]
    let sends = 0
    const policy = { maxAttempts: 3, retryDelayMs: 1, sleep: async () => {} }
    const { outcome, attempts } = await sendWithRetries(
      async () => {
        sends++
        return answers.shift() ?? sent
      },
      message,
      policy,
    )
    assert.deepEqual([outcome, attempts, sends], [sent, 2, 2])
  })
})

describe('which permanent failures suppress the address as bounced', () => {
  const permanent = (code: number, text: string): SendOutcome => ({
    outcome: 'permanent',
    code,
    message: text,
  })
  const cases: [string, SendOutcome, boolean][] = [
    ['5.1.1 bad mailbox', permanent(550, '5.1.1 no such user'), true],
    ['5.1.10 (three-digit detail) bad mailbox', permanent(550, '5.1.10 recipient address rejected'), true],
    ['5.2.1 mailbox disabled', permanent(550, '5.2.1 mailbox disabled'), true],
    [
      '5.2.2 mailbox full: about the message size, not the address',
      permanent(552, '5.2.2 mailbox full'),
      false,
    ],
    ['5.7.1 policy, even with code 550', permanent(550, '5.7.1 message refused'), false],
    ['5.7.26 (two-digit detail) policy, even with code 550', permanent(550, '5.7.26 unauthenticated'), false],
    [
      '5.10.1 (two-digit subject) not about the mailbox, even with code 550',
      permanent(550, '5.10.1 odd'),
      false,
    ],
    ['550 without an enhanced code', permanent(550, 'no such user here'), true],
    ['551 without an enhanced code', permanent(551, 'user not local'), true],
    ['553 without an enhanced code', permanent(553, 'mailbox name not allowed'), true],
    ['552 without an enhanced code', permanent(552, 'exceeded storage'), false],
    ['554 without an enhanced code', permanent(554, 'transaction failed'), false],
    [
      'a temporary failure that quotes 5.1.1',
      { outcome: 'temporary', code: 450, message: 'was 5.1.1, try later', accepted: 'no' },
      false,
    ],
    ['a sent message', sent, false],
    ['an invalid message', { outcome: 'invalid', field: 'to', message: '5.1.1 not an address' }, false],
  ]
  for (const [name, outcome, bounce] of cases)
    test(`${name}: ${bounce ? 'suppressed' : 'not suppressed'}`, () => {
      assert.equal(isRecipientBounce(outcome), bounce)
    })
})
