/**
 * The bounce mailbox reader against a real IMAP server (Debian's dovecot, test/helpers/dovecot.ts):
 * real DSNs and abuse reports APPENDed to INBOX become the exact Feedback values, processed
 * messages are flagged and moved (or deleted), a second run reads nothing, a sink failure and a
 * server restart lose nothing, and an unreachable server is retried without a crash.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseBounceImapUrl } from '../../src/delivery/bounce-imap-url.ts'
import { BounceMailbox, type PassReport } from '../../src/delivery/bounce-mailbox.ts'
import type { Feedback, FeedbackSink } from '../../src/delivery/feedback.ts'
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.ts'
import { closedPort } from '../helpers/ports.ts'
import {
  autoReply,
  BOUNCE,
  eximDsn,
  gmailDsn,
  ID_A,
  ID_B,
  ID_C,
  microsoftArf,
  postfixDsn,
  rfc5965Arf,
  verpOnlyDsn,
} from './report-samples.ts'

/** The seam's test double: keeps what it is given; can be told to fail. */
class CollectingSink implements FeedbackSink {
  readonly got: { workspaceId: string; feedback: Feedback }[] = []
  failing = false
  failed = 0
  async record(workspaceId: string, feedback: readonly Feedback[]): Promise<('recorded' | 'unmatched')[]> {
    if (this.failing) {
      this.failed++
      throw new Error('the event log is unavailable')
    }
    for (const f of feedback) this.got.push({ workspaceId, feedback: f })
    return feedback.map((f) => (f.emailId === undefined ? 'unmatched' : 'recorded'))
  }
}

interface Run {
  mailbox: BounceMailbox
  passes: PassReport[]
  logs: { level: string; obj: object; msg: string }[]
  /** Resolves with the first pass after now that matches. */
  next(pred?: (p: PassReport) => boolean, timeoutMs?: number): Promise<PassReport>
}

const skip = dovecotMissing()

describe('the bounce mailbox on a real IMAP server', { skip }, () => {
  let dovecot: Dovecot
  const runs: BounceMailbox[] = []

  const run = (sink: FeedbackSink, query = '?pollSeconds=3600', port?: number): Run => {
    const url = dovecot.url('INBOX', query).replace(`:${dovecot.port}/`, `:${port ?? dovecot.port}/`)
    const parsed = parseBounceImapUrl(url)
    assert.ok(parsed.ok, JSON.stringify(parsed))
    const passes: PassReport[] = []
    const logs: Run['logs'] = []
    const waiters = new Set<(p: PassReport) => void>()
    const mailbox = new BounceMailbox({
      settings: parsed.settings,
      sink,
      workspaceId: 'ws-bounces',
      bounceAddress: BOUNCE,
      clock: { now: () => Date.now() },
      logger: {
        info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
      },
      retryMs: { min: 50, max: 400 },
      connectTimeoutMs: 2_000,
      onPass: (p) => {
        passes.push(p)
        for (const w of [...waiters]) w(p)
      },
    })
    runs.push(mailbox)
    mailbox.start()
    return {
      mailbox,
      passes,
      logs,
      next: (pred = () => true, timeoutMs = 15_000) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(w)
            reject(
              new Error(
                `no such pass in ${timeoutMs} ms; passes ${JSON.stringify(passes)}; ${dovecot.log()}`,
              ),
            )
          }, timeoutMs)
          const w = (p: PassReport) => {
            if (!pred(p)) return
            clearTimeout(timer)
            waiters.delete(w)
            resolve(p)
          }
          waiters.add(w)
        }),
    }
  }

  before(async () => {
    dovecot = await startDovecot()
  })
  after(async () => {
    for (const r of runs) await r.close()
    await dovecot?.close()
  })

  test('reports become exact feedback; processed ones are seen and moved; the rest stays; a second run reads nothing', async () => {
    for (const raw of [
      postfixDsn(),
      autoReply(),
      eximDsn(),
      rfc5965Arf(),
      verpOnlyDsn('ink-c.aaaabbbbccccddddeeeeffff0000111122223333'),
    ])
      await dovecot.append('INBOX', raw)
    const sink = new CollectingSink()
    const first = run(sink)
    const pass = await first.next()
    assert.deepEqual(pass, { read: 5, reports: 4, recorded: 4, unmatched: 0, ignored: 1, sinkFailed: false })
    assert.deepEqual(
      sink.got.map(({ workspaceId, feedback: f }) => [
        workspaceId,
        f.kind,
        f.bounce?.type ?? f.complaint?.type,
        f.bounce?.status,
        f.emailId,
        f.recipient,
        f.source,
      ]),
      [
        ['ws-bounces', 'bounced', 'hard', '5.1.1', ID_A, 'nobody@example.org', 'mailbox'],
        ['ws-bounces', 'bounced', 'hard', '5.1.1', ID_B, 'gone@example.net', 'mailbox'],
        ['ws-bounces', 'complained', 'abuse', undefined, ID_C, 'user@example.com', 'mailbox'],
        [
          'ws-bounces',
          'bounced',
          'hard',
          '5.1.1',
          'ink-c.aaaabbbbccccddddeeeeffff0000111122223333',
          'absent@example.org',
          'mailbox',
        ],
      ],
    )
    assert.equal(
      sink.got[0]?.feedback.bounce?.diagnostic,
      '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table',
    )
    assert.equal(
      sink.got[0]?.feedback.feedbackId,
      '<20261130031000.4D2E31C0A3@mx.shop.example> nobody@example.org',
    )
    // The auto-reply stays in INBOX, seen; the four reports are in Processed, seen.
    assert.deepEqual(await dovecot.list('INBOX'), [
      { uid: 2, flags: ['\\Seen'], messageId: '<ooo-1@example.org>' },
    ])
    const processed = await dovecot.list('Processed')
    assert.deepEqual(
      processed.map((m) => [m.messageId, m.flags]),
      [
        ['<20261130031000.4D2E31C0A3@mx.shop.example>', ['\\Seen']],
        ['<E1tGx2C-0004Xy-0b@relay.shop.example>', ['\\Seen']],
        ['<arf-5965@example.com>', ['\\Seen']],
        ['<dsn-7781@mx.example.org>', ['\\Seen']],
      ],
    )
    await first.mailbox.close()

    const second = run(sink)
    assert.deepEqual(await second.next(), {
      read: 0,
      reports: 0,
      recorded: 0,
      unmatched: 0,
      ignored: 0,
      sinkFailed: false,
    })
    assert.equal(sink.got.length, 4)
    await second.mailbox.close()
  })

  test('a sink failure leaves the message unseen in place; the next pass records it, with the same feedback id', async () => {
    const sink = new CollectingSink()
    sink.failing = true
    const r = run(sink)
    await r.next()
    await dovecot.append('INBOX', gmailDsn())
    r.mailbox.wake()
    const failed = await r.next((p) => p.read > 0)
    assert.equal(failed.sinkFailed, true)
    assert.equal(failed.reports, 0)
    const inbox = await dovecot.list('INBOX')
    assert.deepEqual(
      inbox.map((m) => [m.messageId, m.flags]),
      [
        ['<ooo-1@example.org>', ['\\Seen']],
        ['<674ac1f4.050a0220.3b1b4c.b0e6.GMR@mx.google.com>', []],
      ],
    )
    sink.failing = false
    r.mailbox.wake()
    const ok = await r.next((p) => p.read > 0 && !p.sinkFailed)
    assert.deepEqual(ok, { read: 1, reports: 1, recorded: 1, unmatched: 0, ignored: 0, sinkFailed: false })
    assert.deepEqual(
      sink.got.map((g) => [g.feedback.emailId, g.feedback.recipient, g.feedback.feedbackId]),
      [
        [
          ID_C,
          'nosuchuser@gmail.com',
          '<674ac1f4.050a0220.3b1b4c.b0e6.GMR@mx.google.com> nosuchuser@gmail.com',
        ],
      ],
    )
    assert.equal((await dovecot.list('INBOX')).length, 1)
    await r.mailbox.close()
  })

  test('a server restart mid-way is survived: the reader reconnects, and IDLE brings the next report without waiting for a poll', async () => {
    const sink = new CollectingSink()
    const r = run(sink)
    await r.next()
    await dovecot.stop()
    // The reader notices the drop and retries with backoff while the server is down.
    const deadline = Date.now() + 10_000
    const retried = () =>
      r.logs.filter((l) => l.level === 'warn' && /ECONNREFUSED/.test(JSON.stringify(l.obj)))
    while (retried().length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50))
    assert.ok(
      r.logs.some((l) => l.level === 'warn' && /connection closed; reconnecting/.test(l.msg)),
      JSON.stringify(r.logs),
    )
    assert.ok(retried().length >= 2, JSON.stringify(r.logs))
    const before = r.passes.length
    await dovecot.start()
    // Reconnected and read (nothing) first: only IDLE can bring what comes next (the poll is an hour).
    while (r.passes.length === before) await new Promise((res) => setTimeout(res, 20))
    await dovecot.append('INBOX', microsoftArf())
    const after = await r.next((p) => p.read > 0)
    assert.deepEqual(after, { read: 1, reports: 1, recorded: 1, unmatched: 0, ignored: 0, sinkFailed: false })
    assert.deepEqual(
      sink.got.map((g) => [g.feedback.kind, g.feedback.complaint, g.feedback.emailId, g.feedback.recipient]),
      [['complained', { type: 'abuse' }, ID_A, 'Reader@outlook.com']],
    )
    await r.mailbox.close()
  })

  test('a connection lost after the sink took a report but before the move: it is read again, with the same feedback id', async () => {
    const sink = new CollectingSink()
    let dropped = false
    const dropping: FeedbackSink = {
      record: async (workspaceId, feedback) => {
        const answers = await sink.record(workspaceId, feedback)
        if (!dropped) {
          dropped = true
          // The server goes away between the sink's answer and \Seen + MOVE (a crash there is the same).
          await dovecot.stop()
          await dovecot.start()
        }
        return answers
      },
    }
    const r = run(dropping)
    await r.next()
    await dovecot.append('INBOX', eximDsn(ID_C))
    await r.next((p) => p.reports === 1)
    assert.equal(sink.got.length, 2)
    const [first, second] = sink.got
    assert.equal(first?.feedback.emailId, ID_C)
    assert.deepEqual(second, first)
    assert.equal(first?.feedback.feedbackId, '<E1tGx2C-0004Xy-0b@relay.shop.example> gone@example.net')
    // Moved once (the other copy is the first test's Exim report).
    assert.equal(
      (await dovecot.list('Processed')).filter(
        (m) => m.messageId === '<E1tGx2C-0004Xy-0b@relay.shop.example>',
      ).length,
      2,
    )
    assert.ok(
      !(await dovecot.list('INBOX')).some((m) => m.messageId === '<E1tGx2C-0004Xy-0b@relay.shop.example>'),
    )
    await r.mailbox.close()
  })

  test('with delete=true processed reports are deleted and no folder is made; non-reports are kept', async () => {
    await dovecot.append('INBOX', postfixDsn(ID_B))
    await dovecot.append('INBOX', autoReply(ID_B))
    const before = (await dovecot.list('INBOX')).length
    const sink = new CollectingSink()
    const r = run(sink, '?delete=true&pollSeconds=3600')
    const pass = await r.next()
    assert.deepEqual(pass, { read: 2, reports: 1, recorded: 1, unmatched: 0, ignored: 1, sinkFailed: false })
    const inbox = await dovecot.list('INBOX')
    assert.equal(inbox.length, before - 1)
    assert.ok(!inbox.some((m) => m.messageId === '<20261130031000.4D2E31C0A3@mx.shop.example>'))
    assert.ok(inbox.every((m) => m.flags.includes('\\Seen')))
    await r.mailbox.close()
  })

  test('an unreachable server is logged and retried, never thrown; the password is in no log line', async () => {
    const sink = new CollectingSink()
    const r = run(sink, '?pollSeconds=3600', await closedPort())
    const deadline = Date.now() + 10_000
    while (r.logs.filter((l) => l.level === 'warn').length < 3 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50))
    const warnings = r.logs.filter((l) => l.level === 'warn')
    assert.ok(warnings.length >= 3, JSON.stringify(r.logs))
    // Backoff: the delays grow.
    const delays = warnings.map((w) => (w.obj as { retryInMs: number }).retryInMs)
    assert.deepEqual(delays.slice(0, 3), [50, 100, 200])
    const text = JSON.stringify(r.logs)
    assert.ok(!text.includes(dovecot.pass) && !text.includes(encodeURIComponent(dovecot.pass)), text)
    assert.equal(r.passes.length, 0)
    await r.mailbox.close()
  })
})
