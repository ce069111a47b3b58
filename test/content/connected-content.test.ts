/**
 * HttpConnectedContent against real HTTP servers on 127.0.0.1 (allow-listed per test): cache and
 * stale fallback, coalescing, circuit breaker, deadlines, retries, body limits and credentials.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test } from 'node:test'
import type { Cache } from '../../src/content/cache/cache.ts'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import type {
  ConnectedContentOutcome,
  ConnectedContentRequest,
} from '../../src/content/connected-content/connected-content.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import type {
  ConnectedContentCall,
  HttpConnectedContentOptions,
} from '../../src/content/connected-content/options.ts'
import { InkError } from '../../src/core/errors.ts'

interface Hit {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

interface TestServer {
  url: string
  hits: Hit[]
  /** Replaced by tests to change how the server answers. */
  handler: (hit: Hit, res: http.ServerResponse) => void
  close(): Promise<void>
}

const json = (res: http.ServerResponse, value: unknown, status = 200) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))

async function startServer(handler: TestServer['handler']): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const hit = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }
      state.hits.push(hit)
      state.handler(hit, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const state: TestServer = {
    url: `http://127.0.0.1:${port}`,
    hits: [],
    handler,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return state
}

const manualClock = () => {
  let now = 1_700_000_000_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

/** Servers and fetchers made by a test, closed after it. */
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

async function setup(
  handler: TestServer['handler'],
  opts: HttpConnectedContentOptions = {},
  clock = manualClock(),
) {
  const server = await startServer(handler)
  cleanups.push(() => server.close())
  const cc = new HttpConnectedContent({
    clock,
    allowHosts: () => [server.url.slice('http://'.length)],
    ...opts,
  })
  cleanups.push(() => cc.close())
  const fetch = (path = '/data', extra: Partial<ConnectedContentRequest> = {}) =>
    cc.fetch({ workspaceId: 'w1', url: `${server.url}${path}`, timeoutMs: 2_000, ...extra })
  return { server, cc, clock, fetch }
}

const messageOf = (o: ConnectedContentOutcome) => ('message' in o ? o.message : '')

describe('cache', () => {
  test('a second call within the TTL is served from the cache; after the TTL the server is asked again', async () => {
    const { server, clock, fetch } = await setup((_hit, res) => json(res, { name: 'Ada' }))
    const first = await fetch()
    const second = await fetch()
    assert.deepEqual(
      first.outcome === 'success' && [first.data, first.status, first.fromCache, first.ageMs],
      [{ name: 'Ada' }, 200, false, 0],
    )
    assert.deepEqual(second.outcome === 'success' && [second.data, second.fromCache, second.ageMs], [
      { name: 'Ada' },
      true,
      0,
    ])
    assert.equal(server.hits.length, 1)
    clock.advance(29_999)
    const cached = await fetch()
    assert.equal(cached.outcome === 'success' && server.hits.length, 1, 'still fresh at 29.999 s')
    // A cached response is as old as the time since it was fetched (open-time freshness).
    assert.equal(cached.outcome === 'success' && cached.ageMs, 29_999)
    clock.advance(1)
    const third = await fetch()
    assert.deepEqual(third.outcome === 'success' && [third.fromCache, third.ageMs], [false, 0])
    assert.equal(server.hits.length, 2)
  })

  test('cacheMaxAgeSeconds is honoured and clamped to maxTtlSeconds', async () => {
    const { server, clock, fetch } = await setup((_hit, res) => json(res, 1), { maxTtlSeconds: 60 })
    await fetch('/short', { cacheMaxAgeSeconds: 5 })
    await fetch('/long', { cacheMaxAgeSeconds: 3_600 })
    clock.advance(5_000)
    await fetch('/short', { cacheMaxAgeSeconds: 5 })
    await fetch('/long', { cacheMaxAgeSeconds: 3_600 })
    assert.deepEqual(
      server.hits.map((h) => h.url),
      ['/short', '/long', '/short'],
    )
    clock.advance(55_000)
    await fetch('/long', { cacheMaxAgeSeconds: 3_600 })
    assert.equal(server.hits.length, 4, 'a one-hour max age was cut to 60 s')
  })

  test('workspace, method, body and credential each make a separate cache entry', async () => {
    const { server, fetch } = await setup((_hit, res) => json(res, 'x'), {
      credentials: (_ws, name) => ({ authorization: `Bearer ${name}-token` }),
    })
    await fetch('/same', { workspaceId: 'a' })
    await fetch('/same', { workspaceId: 'b' })
    await fetch('/same', { workspaceId: 'a', method: 'POST', body: '1' })
    await fetch('/same', { workspaceId: 'a', method: 'POST', body: '2' })
    await fetch('/same', { workspaceId: 'a', credential: 'one' })
    await fetch('/same', { workspaceId: 'a', credential: 'two' })
    await fetch('/same', { workspaceId: 'a', credential: 'two' })
    await fetch('/same', { workspaceId: 'a', method: 'POST', body: '2' })
    assert.equal(server.hits.length, 6)
    assert.deepEqual(
      server.hits.map((h) => [h.method, h.body]),
      [
        ['GET', ''],
        ['GET', ''],
        ['POST', '1'],
        ['POST', '2'],
        ['GET', ''],
        ['GET', ''],
      ],
    )
  })

  test('a cache that fails is treated as a miss, not as a failed call', async () => {
    const broken: Cache = {
      get: async () => {
        throw new Error('redis down')
      },
      set: async () => {
        throw new Error('redis down')
      },
      delete: async () => {},
      expire: async () => {},
      close: async () => {},
    }
    const { server, fetch } = await setup((_hit, res) => json(res, 'fresh'), { cache: broken })
    const outcome = await fetch()
    assert.deepEqual(outcome.outcome === 'success' && outcome.data, 'fresh')
    assert.equal(server.hits.length, 1)
  })
})

describe('cachedSync: a fresh cached answer without a promise', () => {
  test('answers only a fresh hit, with the outcome fetch gives, reported as a hit; a miss or a stale entry is left to fetch', async () => {
    const calls: ConnectedContentCall[] = []
    const { cc, clock, fetch, server } = await setup((_hit, res) => json(res, { name: 'Ada' }), {
      onCall: (c) => calls.push(c),
    })
    const req = { workspaceId: 'w1', url: `${server.url}/data`, timeoutMs: 2_000 }
    assert.equal(cc.cachedSync(req), undefined, 'nothing cached yet')
    assert.equal(calls.length, 0, 'a miss is not reported: fetch will be')
    await fetch()
    clock.advance(1_000)
    const hit = cc.cachedSync(req)
    const viaFetch = await fetch()
    assert.ok(hit?.outcome === 'success' && viaFetch.outcome === 'success')
    assert.deepEqual([hit.data, hit.status, hit.fromCache, hit.ageMs], [{ name: 'Ada' }, 200, true, 1_000])
    assert.deepEqual(
      [viaFetch.data, viaFetch.status, viaFetch.fromCache, viaFetch.ageMs],
      [hit.data, hit.status, true, 1_000],
    )
    assert.deepEqual(
      calls.slice(1).map((c) => [c.host, c.outcome, c.cache]),
      [
        [server.url.slice('http://'.length), 'success', 'hit'],
        [server.url.slice('http://'.length), 'success', 'hit'],
      ],
    )
    clock.advance(29_000) // past the 30 s TTL: stale, kept for a fallback
    assert.equal(cc.cachedSync(req), undefined)
    assert.equal(server.hits.length, 1)
  })

  test('a refused call, an unknown credential and a cache that needs I/O give no answer', async () => {
    const { cc, fetch, server } = await setup((_hit, res) => json(res, 1))
    await fetch()
    const req = { workspaceId: 'w1', url: `${server.url}/data`, timeoutMs: 2_000 }
    assert.equal(cc.cachedSync({ ...req, url: 'http://10.0.0.1/data' }), undefined)
    assert.equal(cc.cachedSync({ ...req, credential: 'nope' }), undefined)
    // A cache without peek (Redis) is only asked through fetch, within the call's timeout.
    const memory = new MemoryCache()
    const io: Cache = {
      get: (k) => memory.get(k),
      set: (k, v, ttl, stale) => memory.set(k, v, ttl, stale),
      delete: (k) => memory.delete(k),
      expire: (k) => memory.expire(k),
      close: () => memory.close(),
    }
    const other = await setup((_hit, res) => json(res, 2), { cache: io })
    await other.fetch()
    assert.equal((await other.fetch()).outcome === 'success' && other.server.hits.length, 1, 'cached')
    assert.equal(other.cc.cachedSync({ ...req, url: `${other.server.url}/data` }), undefined)
    await io.close()
  })
})

describe('coalescing', () => {
  test('50 concurrent calls for the same URL make one request', async () => {
    const { server, fetch } = await setup((_hit, res) => {
      setTimeout(() => json(res, { n: server.hits.length }), 50)
    })
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => fetch('/popular')))
    assert.equal(server.hits.length, 1)
    assert.equal(outcomes.filter((o) => o.outcome === 'success').length, 50)
    assert.deepEqual(
      new Set(outcomes.map((o) => JSON.stringify(o.outcome === 'success' && o.data))),
      new Set(['{"n":1}']),
    )
  })

  test('callers that give up early do not cancel the request for the others', async () => {
    const { server, fetch } = await setup((_hit, res) => {
      setTimeout(() => json(res, 'late'), 150)
    })
    const impatient = fetch('/slow', { timeoutMs: 50 })
    const patient = fetch('/slow', { timeoutMs: 2_000 })
    const [a, b] = await Promise.all([impatient, patient])
    assert.equal(a.outcome, 'timeout')
    assert.deepEqual(b.outcome === 'success' && b.data, 'late')
    assert.equal(server.hits.length, 1)
  })
})

describe('circuit breaker', () => {
  test('opens after 5 failures, answers circuit-open without calling, and a successful trial closes it', async () => {
    let status = 500
    const { server, clock, fetch } = await setup((_hit, res) => json(res, 'body', status))
    const call = () => fetch('/flaky', { cacheMaxAgeSeconds: 0 })
    for (let i = 0; i < 5; i++) assert.equal((await call()).outcome, 'error')
    assert.equal(server.hits.length, 5)
    const open = await call()
    assert.equal(open.outcome, 'circuit-open')
    assert.match(messageOf(open), /failed repeatedly; calls to it are paused for 30 s/)
    assert.equal(server.hits.length, 5, 'the open circuit did not call the server')
    clock.advance(29_999)
    assert.equal((await call()).outcome, 'circuit-open')
    clock.advance(1)
    status = 200
    assert.equal((await call()).outcome, 'success')
    assert.equal(server.hits.length, 6)
    status = 500
    const afterClose = await call()
    assert.equal(
      afterClose.outcome === 'stale' && afterClose.reason,
      'error',
      'closed again: one failure does not open it',
    )
    assert.equal(server.hits.length, 7)
  })

  test('a failed trial after the cool-down opens the circuit again', async () => {
    const { server, clock, fetch } = await setup((_hit, res) => json(res, 'no', 503), { failureThreshold: 2 })
    const call = () => fetch('/down', { cacheMaxAgeSeconds: 0 })
    await call()
    await call()
    assert.equal((await call()).outcome, 'circuit-open')
    clock.advance(30_000)
    assert.equal((await call()).outcome, 'error')
    assert.equal((await call()).outcome, 'circuit-open')
    assert.equal(server.hits.length, 3)
  })

  test('an open circuit serves stale data when there is some', async () => {
    let status = 200
    const { clock, fetch } = await setup((_hit, res) => json(res, { v: 'cached' }, status), {
      failureThreshold: 1,
    })
    await fetch()
    clock.advance(31_000)
    status = 500
    const failed = await fetch()
    assert.deepEqual(failed.outcome === 'stale' && [failed.reason, failed.data], ['error', { v: 'cached' }])
    const open = await fetch()
    assert.deepEqual(open.outcome === 'stale' && [open.reason, open.ageMs], ['circuit-open', 31_000])
  })
})

describe('deadlines', () => {
  test('a server that never answers yields timeout, not before timeoutMs', async () => {
    const { server, fetch } = await setup(() => {})
    const started = performance.now()
    const outcome = await fetch('/hang', { timeoutMs: 200 })
    const elapsed = performance.now() - started
    assert.equal(outcome.outcome, 'timeout')
    assert.match(messageOf(outcome), /no answer within 200 ms/)
    assert.ok(elapsed >= 195, `gave up after ${elapsed} ms, before the deadline`)
    assert.equal(server.hits.length, 1)
  })

  test('a hanging server with stale cached data yields stale, with its age, while its answer is still held', {
    timeout: 10_000,
  }, async () => {
    const held: http.ServerResponse[] = []
    const { server, clock, fetch } = await setup((_hit, res) => {
      if (server.hits.length === 1) json(res, { price: 10 })
      else held.push(res)
    })
    await fetch()
    clock.advance(45_000)
    // The server holds its answer until after the call resolved: only the 200 ms timeout can end it.
    const outcome = await fetch('/data', { timeoutMs: 200 })
    assert.equal(held.length, 1, 'the call reached the server, which still holds its answer')
    assert.deepEqual(outcome.outcome === 'stale' && [outcome.data, outcome.reason, outcome.ageMs], [
      { price: 10 },
      'timeout',
      45_000,
    ])
    assert.match(messageOf(outcome), /no answer within 200 ms/)
    for (const res of held) json(res, { price: 11 })
  })

  test('stale data is no longer served after the stale window', async () => {
    let status = 200
    const { clock, fetch } = await setup((_hit, res) => json(res, 'v', status), { staleForSeconds: 10 })
    await fetch()
    status = 500
    clock.advance(30_000 + 10_000)
    assert.equal((await fetch()).outcome, 'error')
  })

  test("the caller's signal ends the call at once", { timeout: 10_000 }, async () => {
    const held: http.ServerResponse[] = []
    let arrived = () => {}
    const reached = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const { fetch } = await setup((_hit, res) => {
      held.push(res)
      arrived()
    })
    const render = new AbortController()
    // Far beyond the test's own timeout: only the caller's signal can end this call in time.
    const call = fetch('/hang', { timeoutMs: 60_000, signal: render.signal })
    await reached
    render.abort()
    const outcome = await call
    assert.equal(outcome.outcome, 'timeout')
    assert.match(messageOf(outcome), /render deadline passed first/)
    assert.equal(held.length, 1, 'the server still holds its answer')
    const already = await fetch('/hang', { timeoutMs: 60_000, signal: AbortSignal.abort() })
    assert.equal(already.outcome, 'timeout')
    assert.match(messageOf(already), /render deadline passed first/)
  })

  test('a cancelled render does not count against the host, a timeout does', async () => {
    const { fetch } = await setup(() => {}, { failureThreshold: 1 })
    await fetch('/hang', { timeoutMs: 5_000, signal: AbortSignal.timeout(30) })
    assert.equal((await fetch('/hang', { timeoutMs: 50 })).outcome, 'timeout', 'circuit still closed')
    assert.equal((await fetch('/hang', { timeoutMs: 50 })).outcome, 'circuit-open')
  })
})

describe('retry', () => {
  test('retry repeats the call once after a 5xx', async () => {
    const { server, fetch } = await setup((_hit, res) =>
      server.hits.length === 1 ? json(res, 'busy', 503) : json(res, 'ok'),
    )
    const outcome = await fetch('/r', { retry: true })
    assert.deepEqual(outcome.outcome === 'success' && outcome.data, 'ok')
    assert.equal(server.hits.length, 2)
  })

  test('without retry a 5xx is an error after one request', async () => {
    const { server, fetch } = await setup((_hit, res) => json(res, 'busy', 503))
    const outcome = await fetch('/r')
    assert.equal(outcome.outcome, 'error')
    assert.match(messageOf(outcome), /answered 503/)
    assert.equal(server.hits.length, 1)
  })

  test('a retry after a dropped connection stays inside the same timeout', { timeout: 10_000 }, async () => {
    // The first attempt is dropped 100 ms in; the retry is held. On the call's one 1,000 ms
    // deadline it ends at 1,000 ms; a retry given a fresh 1,000 ms would end at 1,100 ms or later.
    // A marker timer due at 1,050 ms tells the two apart by order alone: both timers are set in
    // the same turn of the event loop, and Node fires timers in the order they fall due however
    // late the loaded machine runs them (the call settles on microtasks after its timer fires).
    const held: http.ServerResponse[] = []
    const { server, fetch } = await setup((_hit, res) => {
      if (server.hits.length === 1) setTimeout(() => res.socket?.destroy(), 100)
      else held.push(res)
    })
    const order: string[] = []
    const call = fetch('/r', { retry: true, timeoutMs: 1_000 }).then((outcome) => {
      order.push('call settled')
      return outcome
    })
    const marker = setTimeout(() => order.push('marker at 1,050 ms'), 1_050)
    const outcome = await call
    clearTimeout(marker)
    assert.deepEqual(order, ['call settled'], "the retry ended on the first attempt's deadline")
    assert.equal(outcome.outcome, 'timeout')
    assert.match(messageOf(outcome), /no answer within 1000 ms/)
    assert.equal(server.hits.length, 2)
    assert.equal(held.length, 1, 'the retry reached the server, which still holds its answer')
  })

  test('a 4xx is not retried', async () => {
    const { server, fetch } = await setup((_hit, res) => json(res, 'nope', 404))
    const outcome = await fetch('/r', { retry: true })
    assert.match(messageOf(outcome), /answered 404/)
    assert.equal(server.hits.length, 1)
  })
})

describe('responses', () => {
  test('a JSON content type is parsed; anything else is returned as text', async () => {
    const { fetch } = await setup((hit, res) => {
      if (hit.url === '/json')
        res.writeHead(200, { 'content-type': 'application/vnd.api+json; charset=utf-8' })
      else res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('{"a":[1,2]}')
    })
    const parsed = await fetch('/json')
    const text = await fetch('/text')
    assert.deepEqual(parsed.outcome === 'success' && parsed.data, { a: [1, 2] })
    assert.equal(text.outcome === 'success' && text.data, '{"a":[1,2]}')
  })

  test('JSON that does not parse is an error', async () => {
    const { fetch } = await setup((_hit, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{'),
    )
    const outcome = await fetch()
    assert.equal(outcome.outcome, 'error')
    assert.match(messageOf(outcome), /does not parse as JSON/)
  })

  test('a body over maxBytes is an error, whether declared or streamed', async () => {
    const { fetch } = await setup(
      (hit, res) => {
        if (hit.url === '/declared') {
          res.end('x'.repeat(2_000))
          return
        }
        res.writeHead(200, { 'content-type': 'text/plain' }) // chunked, no length
        res.write('y'.repeat(600))
        setTimeout(() => res.end('y'.repeat(600)), 20)
      },
      { maxBytes: 1_024 },
    )
    const declared = await fetch('/declared')
    const streamed = await fetch('/streamed')
    assert.equal(declared.outcome, 'error')
    assert.match(messageOf(declared), /2000 bytes, over the limit of 1024 bytes/)
    assert.equal(streamed.outcome, 'error')
    assert.match(messageOf(streamed), /exceeds the limit of 1024 bytes/)
    const fits = await fetch('/declared', { cacheMaxAgeSeconds: 0 })
    assert.equal(fits.outcome, 'error', 'the oversized response was not cached')
  })

  test('onCall reports every call with host, outcome, duration and what the cache answered', async () => {
    const calls: ConnectedContentCall[] = []
    const { server, fetch } = await setup((_hit, res) => json(res, 1), { onCall: (c) => calls.push(c) })
    await fetch()
    await fetch()
    await fetch('/x', { workspaceId: 'w2', url: 'ftp://example.com/' })
    const host = server.url.slice('http://'.length)
    assert.deepEqual(
      calls.map((c) => [c.workspaceId, c.host, c.outcome, c.cache]),
      [
        ['w1', host, 'success', 'miss'],
        ['w1', host, 'success', 'hit'],
        ['w2', 'example.com', 'refused', undefined],
      ],
    )
    assert.ok(calls.every((c) => typeof c.durationMs === 'number' && c.durationMs >= 0))
  })

  test('invalid options are all reported at construction', () => {
    assert.throws(
      () => new HttpConnectedContent({ maxBytes: 0, failureRate: 2, allowedPorts: [70_000] }),
      (err: unknown) =>
        err instanceof InkError &&
        err.code === 'INK_ERR_INVALID_CONFIG' &&
        /maxBytes/.test(err.message) &&
        /failureRate/.test(err.message) &&
        /allowedPorts/.test(err.message),
    )
  })

  test('after close, calls fail without a request', async () => {
    const { server, cc, fetch } = await setup((_hit, res) => json(res, 1))
    await cc.close()
    const outcome = await fetch()
    assert.equal(outcome.outcome, 'error')
    assert.equal(server.hits.length, 0)
  })
})

describe('credentials', () => {
  const SECRET = 'sk_live_0123456789abcdef'
  const credentials = (_ws: string, name: string) =>
    name === 'crm' ? { Authorization: `Bearer ${SECRET}` } : undefined

  test('an unknown credential is refused without a request', async () => {
    const { server, fetch } = await setup((_hit, res) => json(res, 1), { credentials })
    const outcome = await fetch('/d', { credential: 'billing' })
    assert.equal(outcome.outcome, 'refused')
    assert.match(messageOf(outcome), /credential "billing" is not defined/)
    assert.equal(server.hits.length, 0)
  })

  test("a known credential's header reaches the server and overrides a template header", async () => {
    const { server, fetch } = await setup((_hit, res) => json(res, 1), { credentials })
    await fetch('/d', {
      credential: 'crm',
      headers: { Authorization: 'Bearer forged', 'X-Locale': 'fr', Host: 'admin.internal' },
    })
    assert.equal(server.hits[0]?.headers.authorization, `Bearer ${SECRET}`)
    assert.equal(server.hits[0]?.headers['x-locale'], 'fr')
    assert.equal(
      server.hits[0]?.headers.host,
      server.url.slice('http://'.length),
      'templates cannot set Host',
    )
  })

  test('the credential value never appears in an outcome message or a cache key', async () => {
    const keys: string[] = []
    const clock = manualClock()
    const memory = new MemoryCache({ clock })
    const spy: Cache = {
      get: (key) => {
        keys.push(key)
        return memory.get(key)
      },
      set: (key, ...rest) => {
        keys.push(key)
        return memory.set(key, ...rest)
      },
      delete: (key) => memory.delete(key),
      expire: (key) => memory.expire(key),
      close: () => memory.close(),
    }
    let mode = 'ok'
    const { fetch } = await setup(
      (hit, res) => {
        if (mode === 'hang') return
        // A hostile or careless server echoes the header back in every answer.
        const echo = String(hit.headers.authorization)
        if (mode === 'redirect') res.writeHead(302, { location: `http://x/${echo}` }).end(echo)
        else json(res, { echo }, mode === 'fail' ? 500 : 200)
      },
      { credentials, cache: spy, failureThreshold: 3 },
      clock,
    )
    cleanups.push(() => spy.close())
    const outcomes: ConnectedContentOutcome[] = []
    const call = async (path: string, extra: Partial<ConnectedContentRequest> = {}) => {
      outcomes.push(await fetch(path, { credential: 'crm', timeoutMs: 100, ...extra }))
    }
    await call('/cached')
    clock.advance(31_000)
    for (const m of ['redirect', 'hang', 'fail']) {
      mode = m
      await call('/cached') // stale, with the failure's message
      await call(`/uncached-${m}`) // a plain failure
    }
    await call('/bad-header', { headers: { 'x-bad': 'line\nbreak' } })
    assert.deepEqual(
      outcomes.map((o) => (o.outcome === 'stale' ? `stale:${o.reason}` : o.outcome)),
      [
        'success',
        'stale:error',
        'error',
        'stale:timeout',
        'timeout',
        'stale:error',
        'circuit-open',
        'circuit-open',
      ],
    )
    mode = 'ok'
    clock.advance(30_000)
    await call('/bad-header', { headers: { 'x-bad': 'line\nbreak' } })
    assert.match(messageOf(outcomes.at(-1)!), /could not be built \(ERR_INVALID_CHAR\)/)
    for (const o of outcomes) assert.doesNotMatch(messageOf(o), new RegExp(SECRET))
    assert.ok(keys.length > 0)
    for (const key of keys) assert.doesNotMatch(key, /sk_live/)
  })
})
