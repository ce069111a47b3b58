import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

describe('profile API, metrics and health over a real socket', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
    const res = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [
          {
            type: 'identify',
            userId: 'ann',
            anonymousId: 'anon-1',
            traits: { email: 'ann@example.com', firstName: 'Ann' },
          },
          { type: 'track', userId: 'ann', event: 'Order Completed', properties: { revenue: 42 } },
        ],
      }),
    })
    assert.equal(res.status, 200)
    await waitForProcessed(app)
  })
  after(() => app.close())

  const get = (path: string, key = app.workspace.adminKey) =>
    fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${key}` } })

  test('a profile is found by userId and by anonymousId, with traits, ids, version and freshness', async () => {
    const res = await get('/v1/profiles/ann')
    assert.equal(res.status, 200)
    const p = await res.json()
    assert.equal(p.userId, 'ann')
    assert.deepEqual(p.identities, { userIds: ['ann'], anonymousIds: ['anon-1'] })
    assert.equal(p.traits.first_name, 'Ann')
    assert.equal(p.traits.orders_30d, 1)
    assert.equal(p.traits.revenue_30d, 42)
    assert.ok(p.version >= 1)
    assert.ok(Date.parse(p.lastEventReceivedAt) <= Date.parse(p.updatedAt))
    const byAnon = await (await get('/v1/profiles/anon-1')).json()
    assert.equal(byAnon.profileId, p.profileId)
    const byId = await (await get(`/v1/profiles/${p.profileId}?by=profileId`)).json()
    assert.equal(byId.userId, 'ann')
  })

  test('the profile API refuses the write key and unknown keys, and 404s unknown ids', async () => {
    assert.equal((await get('/v1/profiles/ann', app.workspace.writeKey)).status, 401)
    assert.equal((await fetch(`${app.url}/v1/profiles/ann`)).status, 401)
    const missing = await get('/v1/profiles/nobody')
    assert.equal(missing.status, 404)
    assert.equal((await missing.json()).code, 'INK_ERR_NOT_FOUND')
  })

  test('a URL that is not valid percent-encoding is 400 INK_ERR_BAD_REQUEST, as every bad request', async () => {
    // %ED%A0%80 decodes to a lone UTF-16 surrogate: fastify refuses it before any route.
    const res = await get('/v1/campaigns/%ED%A0%80/stats')
    assert.equal(res.status, 400)
    const body = await res.json()
    assert.equal(body.code, 'INK_ERR_BAD_REQUEST')
    assert.match(body.message, /URL/)
  })

  test('/metrics exposes pipeline lag, ingest outcomes and consumer lag in Prometheus format', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(text, /^inkstream_pipeline_lag_seconds_count 2$/m)
    assert.match(text, /^inkstream_ingest_events_total\{outcome="accepted"\} 2$/m)
    assert.match(text, /^inkstream_log_consumer_lag\{group="profiles"\} 0$/m)
    assert.match(text, /^inkstream_ingest_requests_total\{route="\/v1\/batch",status="200"\} 1$/m)
  })

  test('/healthz reports ok and the consumer lag', async () => {
    const res = await fetch(`${app.url}/healthz`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ok', consumerLag: 0, processor: 'running' })
  })

  test('the browser snippet is served gzipped to clients that accept it', async () => {
    const res = await fetch(`${app.url}/sdk.js`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /javascript/)
    assert.equal(res.headers.get('content-encoding'), 'gzip')
    assert.ok((await res.text()).length > 0)
  })
})

describe('closing the server', () => {
  test('a connection that has sent nothing does not hold close(); a request still arriving is answered', async () => {
    const app = await startTestApp()
    const { port } = new URL(app.url)
    const connect = async () => {
      const socket = net.connect(Number(port), '127.0.0.1')
      await once(socket, 'connect')
      return socket
    }
    // A browser's preconnect: open, silent. Node's close() leaves it for headersTimeout (60–90 s).
    const silent = await connect()
    const silentClosed = once(silent, 'close')
    // A request whose body is still on its way when close() begins.
    const body = JSON.stringify({ userId: 'ann', event: 'Closing Seen' })
    const busy = await connect()
    let answer = ''
    busy.on('data', (c: Buffer) => {
      answer += c.toString('latin1')
    })
    const busyClosed = once(busy, 'close')
    busy.write(
      `POST /v1/track HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${basicAuth(app.workspace.writeKey)}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    )
    await new Promise((r) => setTimeout(r, 100))
    let timer: NodeJS.Timeout | undefined
    const hung = new Promise<string>((r) => {
      timer = setTimeout(() => r('close still waiting after 10 s'), 10_000)
    })
    const closing = app.close().then(() => 'closed')
    busy.write(body.slice(5))
    try {
      assert.equal(await Promise.race([closing, hung]), 'closed')
    } finally {
      clearTimeout(timer)
      // Failed: let the close end (the process would wait for the server's own timeouts).
      silent.destroy()
      busy.destroy()
    }
    await silentClosed
    await busyClosed
    assert.match(answer, /^HTTP\/1\.1 200 /, answer)
    // Answered in full, then closed: the response said so.
    assert.match(answer, /\r\nconnection: close\r\n/i, answer)
    assert.match(answer, /"success":true/)
  })
})
