/** Build workers: a message tracked and built in a worker is the one the main thread would build. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { BuildPool } from '../../src/delivery/build-pool.ts'
import { type BuildJob, buildMessage } from '../../src/delivery/message-build.ts'
import { createTokenCodec } from '../../src/delivery/tokens.ts'
import type { OutgoingMessage } from '../../src/delivery/transport.ts'

// A fixed clock far from now: tokens signed in the worker must expire by it, not by the worker's clock.
const NOW = 1_700_000_000_000
const codec = createTokenCodec({
  keys: { k1: Buffer.alloc(32, 7) },
  currentKid: 'k1',
  clock: { now: () => NOW },
})

const job: BuildJob = {
  message: {
    messageId: 'ink-c.abc',
    from: 'Shop <news@shop.example.com>',
    to: 'ada@example.com',
    subject: 'Spring = sale',
    html: '<html><body><p>Hi Ada</p><a href="https://shop.example.com/p/1">one</a><!-- <a href="https://x.example/">no</a> --></body></html>',
    text: 'Hi Ada\n.a line starting with a dot',
  },
  track: {
    tracking: {
      baseUrl: 'https://t.example.com',
      ttlMs: 86_400_000,
      workspaceId: 'ws',
      campaignId: 'spring',
      recipient: 'ada',
      messageId: 'ink-c.abc',
    },
    unsubscribeEmail: 'ada@example.com',
  },
  messageIdDomain: 'mail.shop.example.com',
}

/** Runs `job` in the pool once a worker is ready (a worker takes a moment to start). */
async function inWorker(pool: BuildPool): Promise<OutgoingMessage> {
  const signing = codec.signing
  assert.ok(signing, 'createTokenCodec exposes its signing key')
  for (let i = 0; i < 600; i++) {
    const built = pool.run(job, signing, NOW)
    if (built) return built
    await delay(50)
  }
  throw new Error('no build worker became ready within 30 s')
}

test('a worker tracks links, signs tokens at the caller’s clock and builds the MIME bytes as inline building does', async () => {
  const pool = new BuildPool(1)
  try {
    const worker = await inWorker(pool)
    const inline = buildMessage(job, codec)
    assert.equal(worker.html, inline.html)
    assert.deepEqual(worker.headers, inline.headers)
    assert.match(worker.html, /https:\/\/t\.example\.com\/c\//)
    assert.match(worker.headers?.['List-Unsubscribe'] ?? '', /^<https:\/\/t\.example\.com\/u\//)
    const tokens = [...worker.html.matchAll(/\/c\/([^"]+)"/g)].map((m) => m[1]!)
    assert.equal(tokens.length, 1)
    const verified = codec.verify(tokens[0]!)
    assert.ok(verified.ok)
    assert.equal(verified.expiresAt, NOW + 86_400_000)
    const prepared = worker.prepared
    assert.ok(prepared)
    assert.ok(Buffer.isBuffer(prepared.raw))
    assert.deepEqual(prepared.envelope, { from: 'news@shop.example.com', to: ['ada@example.com'] })
    assert.equal(prepared.messageIdHeader, '<ink-c.abc@mail.shop.example.com>')
    const raw = prepared.raw.toString()
    assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m)
    assert.match(raw, /^Subject: Spring = sale\r$/m)
    // The same bytes as inline building, but for the Date and the part boundary (per thread).
    const normalize = (s: string) =>
      s.replace(/^Date: .*$/m, 'Date: -').replace(/=_ink_[0-9a-f]+_[0-9a-z]+/g, 'BOUNDARY')
    assert.equal(normalize(raw), normalize(Buffer.from(inline.prepared!.raw).toString()))
  } finally {
    await pool.close()
  }
})

test('a closed pool answers undefined: the caller builds inline', async () => {
  const pool = new BuildPool(1)
  await pool.close()
  assert.equal(pool.run(job, codec.signing, NOW), undefined)
})
