/**
 * The demo's pieces that need no server: its options, the shape of a simulated visit (what the
 * triggers and segments rely on), and reading the tracking URLs back out of a message as the file
 * transport writes it (quoted-printable, long URLs folded with soft line breaks).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDemoArgs } from '../../src/cli/demo.ts'
import { READER_AGENT, readMessage } from '../../src/cli/demo-reader.ts'
import { visit } from '../../src/cli/demo-shoppers.ts'
import { prepareMessage } from '../../src/delivery/mime.ts'
import { isMachineOpen } from '../../src/observe/machine-open.ts'

/** A deterministic random source (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('inkstream demo options', () => {
  test('defaults, every option, and a clear message for a bad one', () => {
    assert.deepEqual(parseDemoArgs([]), {
      rate: 10,
      port: undefined,
      dataDir: 'data/demo',
      reset: false,
      statusEvery: 5,
    })
    assert.deepEqual(
      parseDemoArgs(['--rate', '20', '--port=0', '--data-dir', '/tmp/d', '--reset', '--status-every', '1']),
      {
        rate: 20,
        port: 0,
        dataDir: '/tmp/d',
        reset: true,
        statusEvery: 1,
      },
    )
    assert.throws(() => parseDemoArgs(['--rate', 'fast']), /--rate must be a number from 0.1 to 500/)
    assert.throws(() => parseDemoArgs(['--rate', '0']), /--rate must be a number/)
    assert.throws(() => parseDemoArgs(['--port']), /--port needs a value/)
    assert.throws(() => parseDemoArgs(['--verbose']), /unknown option "--verbose" for demo/)
  })
})

describe('a simulated visit', () => {
  test('new visitors sign up before anything is tracked; orders follow a cart add and a checkout', () => {
    const random = seeded(7)
    const seen = { orders: 0, abandoned: 0 }
    for (let n = 1; n <= 500; n++) {
      const isNew = n % 2 === 0
      const calls = visit(n, isNew, random)
      assert.equal(calls[0]?.path, '/v1/page')
      const events = calls.map((c) => (c.path === '/v1/track' ? String(c.body.event) : c.path))
      if (isNew) assert.deepEqual(events.slice(1, 3), ['/v1/identify', 'Signed Up'])
      else assert.ok(!events.includes('/v1/identify') && !events.includes('Signed Up'))
      const at = (e: string) => events.indexOf(e)
      if (at('Order Completed') >= 0) {
        seen.orders++
        assert.ok(
          at('Product Added') < at('Checkout Started') && at('Checkout Started') < at('Order Completed'),
        )
        const order = calls.at(-1)?.body.properties as { revenue: number }
        assert.ok(order.revenue > 0)
      } else if (at('Product Added') >= 0) seen.abandoned++
      for (const c of calls) assert.equal(c.body.userId, calls[0]?.body.userId)
    }
    // Both triggers get work: carts left behind (abandoned cart) and orders (conversions, buyers).
    assert.ok(seen.orders > 30 && seen.abandoned > 30, JSON.stringify(seen))
  })
})

describe('reading a sent message', () => {
  test('finds the recipient, the open pixel and the wrapped links in the quoted-printable HTML', () => {
    const token = `${'A'.repeat(90)}.sig-_x`
    const html = `<p>Hi</p><a href="http://127.0.0.1:8080/c/${token}1">one</a> <a href="http://127.0.0.1:8080/c/${token}2?a=1&amp;b=2">two</a> <a href="https://plain.example.com/">untracked</a><img src="http://127.0.0.1:8080/p/${token}" width="1" height="1" alt="">`
    const prepared = prepareMessage(
      {
        messageId: 'm1',
        from: 'Shop <hello@shop.example.com>',
        to: 'ada-4@example.com',
        subject: 'Hi',
        html,
        text: 'Hi',
      },
      'shop.example.com',
    )
    assert.ok(prepared.ok)
    const raw = prepared.raw.toString()
    assert.match(raw, /=\r\n/, 'the HTML part is folded with soft line breaks')
    const read = readMessage(raw)
    assert.equal(read.to, 'ada-4@example.com')
    assert.equal(read.pixel, `http://127.0.0.1:8080/p/${token}`)
    assert.deepEqual(read.links, [
      `http://127.0.0.1:8080/c/${token}1`,
      `http://127.0.0.1:8080/c/${token}2?a=1&b=2`,
    ])
  })

  test("the simulated mail client's opens count as people's, not machines'", () => {
    assert.equal(isMachineOpen(READER_AGENT), false)
  })
})
