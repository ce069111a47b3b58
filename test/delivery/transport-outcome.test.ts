import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { classifySendError } from '../../src/delivery/smtp-outcome.ts'

/** Errors as nodemailer 10.6 produced them against smtp-server (see transport-smtp.test.ts). */
const nodemailerError = (message: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(message), fields)

const before = { bodyStarted: false }
const after = { bodyStarted: true }

describe('classifying nodemailer errors', () => {
  test('a 421 that closed the session is temporary and not accepted', () => {
    const err = nodemailerError('Server closed the connection: 421 4.3.2 Try again later', {
      code: 'ECONNECTION',
      command: 'CONN',
      responseCode: 421,
    })
    assert.deepEqual(classifySendError(err, before), {
      outcome: 'temporary',
      code: 421,
      message: 'ECONNECTION (CONN): Server closed the connection: 421 4.3.2 Try again later',
      accepted: 'no',
    })
  })

  test('a 5xx to RCPT TO is permanent', () => {
    const err = nodemailerError("Can't send mail - all recipients were rejected: 554 5.1.1 No such user", {
      code: 'EENVELOPE',
      command: 'RCPT TO',
      responseCode: 554,
    })
    const outcome = classifySendError(err, before)
    assert.equal(outcome.outcome, 'permanent')
    assert.equal(outcome.outcome === 'permanent' && outcome.code, 554)
  })

  test('a 5xx to the end of the data is permanent', () => {
    const err = nodemailerError('Message failed: 554 5.7.1 Message refused', {
      code: 'EMESSAGE',
      command: 'DATA',
      responseCode: 554,
    })
    assert.equal(classifySendError(err, after).outcome, 'permanent')
  })

  test('a 4xx to the end of the data is a refusal, so the message was not accepted', () => {
    const err = nodemailerError('Message failed: 451 4.3.0 Local problem', {
      code: 'EMESSAGE',
      command: 'DATA',
      responseCode: 451,
    })
    assert.deepEqual(classifySendError(err, after), {
      outcome: 'temporary',
      code: 451,
      message: 'EMESSAGE (DATA): Message failed: 451 4.3.0 Local problem',
      accepted: 'no',
    })
  })

  test('a 503 (bad sequence of commands) is temporary, as nodemailer treats it', () => {
    const err = nodemailerError('Data command failed: 503 5.5.1 Error: need RCPT command', {
      code: 'EENVELOPE',
      command: 'DATA',
      responseCode: 503,
    })
    assert.equal(classifySendError(err, before).outcome, 'temporary')
  })

  test('a 5xx to MAIL FROM or AUTH is about our sender or session, so it is temporary', () => {
    const mailFrom = nodemailerError('Mail command failed: 550 5.7.1 Sender rejected', {
      code: 'EENVELOPE',
      command: 'MAIL FROM',
      responseCode: 550,
    })
    const auth = nodemailerError('Invalid login: 535 5.7.8 Authentication failed', {
      code: 'EAUTH',
      command: 'AUTH PLAIN',
      responseCode: 535,
    })
    assert.deepEqual(
      [classifySendError(mailFrom, before), classifySendError(auth, before)].map((o) => [
        o.outcome,
        o.outcome === 'temporary' && o.code,
      ]),
      [
        ['temporary', 550],
        ['temporary', 535],
      ],
    )
  })

  test('a closed connection before the body is temporary and not accepted', () => {
    const err = nodemailerError('Connection closed unexpectedly', { code: 'ECONNECTION', command: 'CONN' })
    assert.deepEqual(classifySendError(err, before), {
      outcome: 'temporary',
      code: null,
      message: 'ECONNECTION (CONN): Connection closed unexpectedly',
      accepted: 'no',
    })
  })

  test('the same closed connection after the body started is temporary with acceptance unknown', () => {
    const err = nodemailerError('Connection closed unexpectedly', { code: 'ECONNECTION', command: 'CONN' })
    const outcome = classifySendError(err, after)
    assert.equal(outcome.outcome === 'temporary' && outcome.accepted, 'unknown')
  })

  test('a refused connection keeps the system error code in the message', () => {
    const err = nodemailerError('connect ECONNREFUSED 127.0.0.1:1', {
      code: 'ESOCKET',
      originalCode: 'ECONNREFUSED',
      command: 'CONN',
    })
    assert.deepEqual(classifySendError(err, before), {
      outcome: 'temporary',
      code: null,
      message: 'ESOCKET/ECONNREFUSED (CONN): connect ECONNREFUSED 127.0.0.1:1',
      accepted: 'no',
    })
  })

  test('a socket timeout after the body is temporary with acceptance unknown', () => {
    const err = nodemailerError('Timeout', { code: 'ETIMEDOUT', command: 'CONN' })
    const outcome = classifySendError(err, after)
    assert.deepEqual(
      [outcome.outcome, outcome.outcome === 'temporary' && outcome.accepted],
      ['temporary', 'unknown'],
    )
  })

  test('a message over the advertised SIZE, refused by nodemailer itself, is permanent 552', () => {
    const err = nodemailerError('Message size larger than allowed 1000', {
      code: 'EMESSAGE',
      command: 'MAIL FROM',
    })
    assert.deepEqual(classifySendError(err, before), {
      outcome: 'permanent',
      code: 552,
      message: 'EMESSAGE (MAIL FROM): Message size larger than allowed 1000',
    })
  })

  test('a 2xx on an error (protocol confusion) is not read as a refusal after the body', () => {
    const err = nodemailerError('Unexpected Response: 250 OK', {
      code: 'EPROTOCOL',
      command: 'CONN',
      responseCode: 250,
    })
    const outcome = classifySendError(err, after)
    assert.deepEqual(
      [outcome.outcome, outcome.outcome === 'temporary' && outcome.accepted],
      ['temporary', 'unknown'],
    )
  })

  test('something that is not an Error still becomes a temporary outcome', () => {
    assert.deepEqual(classifySendError('boom', before), {
      outcome: 'temporary',
      code: null,
      message: 'boom',
      accepted: 'no',
    })
  })
})
