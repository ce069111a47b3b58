import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isInkError } from '../../src/core/errors.ts'
import { FileTransport } from '../../src/delivery/file-transport.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'
import { header } from './smtp-test-server.ts'

const message = (overrides: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  messageId: 'demo-1',
  from: 'shop@example.com',
  to: 'ann@example.org',
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello\nline two',
  ...overrides,
})

describe('file transport', () => {
  let root: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'inkstream-file-transport-'))
  })
  after(() => rm(root, { recursive: true, force: true }))

  test('each message becomes <messageId>.eml in a folder it creates, with CRLF line ends', async () => {
    const dir = join(root, 'new', 'folder')
    const t = new FileTransport({ dir, messageIdDomain: 'mail.example.com' })
    const outcome = await t.send(message())
    await t.close()
    assert.deepEqual(outcome, {
      outcome: 'sent',
      response: `written to ${join(dir, 'demo-1.eml')}`,
      smtpMessageId: '<demo-1@mail.example.com>',
    })
    assert.deepEqual(await readdir(dir), ['demo-1.eml'])
    const raw = await readFile(join(dir, 'demo-1.eml'), 'utf8')
    assert.equal(header(raw, 'Message-ID'), '<demo-1@mail.example.com>')
    assert.equal(raw.replace(/\r\n/g, '').includes('\n'), false)
  })

  test('a second message with the same id replaces the file and leaves no temporary file behind', async () => {
    const dir = join(root, 'replace')
    const t = new FileTransport({ dir, messageIdDomain: 'mail.example.com' })
    await t.send(message({ subject: 'first' }))
    await t.send(message({ subject: 'second' }))
    await t.close()
    assert.deepEqual(await readdir(dir), ['demo-1.eml'])
    assert.equal(header(await readFile(join(dir, 'demo-1.eml'), 'utf8'), 'Subject'), 'second')
  })

  test('ids with characters unsafe in file names are escaped and never leave the folder', async () => {
    const dir = join(root, 'escape')
    const t = new FileTransport({ dir, messageIdDomain: 'mail.example.com' })
    const outcomes = await Promise.all(
      ['a/b', 'a%2Fb', 'x.y'].map((messageId) => t.send(message({ messageId }))),
    )
    await t.close()
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['sent', 'sent', 'sent'],
    )
    assert.deepEqual((await readdir(dir)).sort(), ['a%252Fb.eml', 'a%2Fb.eml', 'x.y.eml'])
  })

  test('a folder that cannot be created is a temporary failure, not an exception', async () => {
    const blocker = join(root, 'blocker')
    await writeFile(blocker, 'a file where the folder should be')
    const t = new FileTransport({ dir: join(blocker, 'sub'), messageIdDomain: 'mail.example.com' })
    const outcome = await t.send(message())
    await t.close()
    assert.deepEqual(
      [outcome.outcome, outcome.outcome === 'temporary' && outcome.accepted],
      ['temporary', 'no'],
    )
  })

  test('an empty dir or a bad messageIdDomain is refused at construction', () => {
    assert.throws(
      () => new FileTransport({ dir: ' ', messageIdDomain: 'nodots' }),
      (err: unknown) =>
        isInkError(err) &&
        err.code === 'INK_ERR_INVALID_CONFIG' &&
        Array.isArray(err.details) &&
        err.details.length === 2,
    )
  })
})
