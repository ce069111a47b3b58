/**
 * RedisCache against a real Redis (REDIS_URL, default redis://127.0.0.1:6379; `npm run services:up`
 * starts one): the seam suite, then what only a shared, remote cache has to get right. Every key
 * of a run sits under its own prefix, deleted at the end.
 */

import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import {
  RedisCache,
  type RedisCacheOperation,
  type RedisCacheOptions,
} from '../../src/content/cache/redis-cache.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'
import { cacheSuite } from './cache-suite.ts'

const url = REDIS_URL
const target = new URL(url)
const redisPort = Number(target.port || 6379)
const redisHost = target.hostname.replace(/^\[|\]$/g, '')
const runPrefix = `inkstream-test:${process.pid}-${Date.now()}:`
let suites = 0

const skip = await redisMissing()

/** A port on which nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  await new Promise((resolve) => server.close(resolve))
  return address.port
}

/** A TCP proxy to Redis that the test can cut and restore, to play a Redis outage. */
class RedisProxy {
  #server: net.Server | undefined
  readonly #sockets = new Set<net.Socket>()
  port = 0

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(redisPort, redisHost)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('close', () => this.#sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    const address = server.address()
    assert.ok(address !== null && typeof address === 'object')
    this.port = address.port
    this.#server = server
  }

  /** Stops accepting and drops every open connection, as a Redis restart does. */
  async cut(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise((resolve) => server.close(resolve))
  }
}

function recorder() {
  const errors: { operation: RedisCacheOperation; message: string }[] = []
  const onError = (err: Error, operation: RedisCacheOperation) => {
    errors.push({ operation, message: err.message })
  }
  return { errors, onError }
}

describe('RedisCache', { skip }, () => {
  const open = (opts: RedisCacheOptions = {}) => RedisCache.open({ url, ...opts })

  cacheSuite('RedisCache', () => open({ keyPrefix: `${runPrefix}suite${suites++}:` }))

  after(async () => {
    if (skip) return
    const admin = new Redis(url)
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await admin.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await admin.quit()
  })

  test('two caches on one Redis and prefix share entries, as two processes do', async () => {
    const keyPrefix = `${runPrefix}shared:`
    const [a, b] = await Promise.all([open({ keyPrefix }), open({ keyPrefix })])
    try {
      await a.set('profile:w1:u1', { traits: { plan: 'pro' } }, 5_000, 60_000)
      const seen = await b.get('profile:w1:u1')
      assert.deepEqual(seen?.value, { traits: { plan: 'pro' } })
      await b.delete('profile:w1:u1') // an invalidation by one process reaches the others
      assert.equal(await a.get('profile:w1:u1'), undefined)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('caches with different key prefixes do not see each other', async () => {
    const a = await open({ keyPrefix: `${runPrefix}deployment-a:` })
    const b = await open({ keyPrefix: `${runPrefix}deployment-b:` })
    try {
      await a.set('k', 'from a', 5_000, 0)
      assert.equal(await b.get('k'), undefined)
      await b.set('k', 'from b', 5_000, 0)
      assert.equal((await a.get('k'))?.value, 'from a')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('Redis holds the entry as JSON for exactly its TTL plus stale window', async () => {
    const keyPrefix = `${runPrefix}raw:`
    const cache = await open({ keyPrefix })
    const admin = new Redis(url)
    try {
      await cache.set('k', { list: [1, 'two'] }, 30_000, 270_000)
      const pttl = await admin.pttl(`${keyPrefix}k`)
      assert.ok(pttl > 299_000 && pttl <= 300_000, `PTTL ${pttl}`)
      const raw = await admin.get(`${keyPrefix}k`)
      const stored: unknown = JSON.parse(raw ?? 'null')
      const entry = await cache.get('k')
      assert.ok(entry)
      assert.deepEqual(stored, { v: { list: [1, 'two'] }, s: entry.storedAt, e: entry.storedAt + 30_000 })
    } finally {
      await cache.close()
      await admin.quit()
    }
  })

  test('a key holding something else than an entry reads as a reported miss', async () => {
    const keyPrefix = `${runPrefix}foreign:`
    const { errors, onError } = recorder()
    const cache = await open({ keyPrefix, onError })
    const admin = new Redis(url)
    try {
      await admin.set(`${keyPrefix}text`, 'not json', 'PX', 60_000)
      await admin.set(`${keyPrefix}json`, '{"value":1}', 'PX', 60_000)
      assert.equal(await cache.get('text'), undefined)
      assert.equal(await cache.get('json'), undefined)
      assert.deepEqual(
        errors.map((e) => e.operation),
        ['get', 'get'],
      )
    } finally {
      await cache.close()
      await admin.quit()
    }
  })

  test('an unreachable server makes every call a quick, reported miss, and close does not hang', {
    timeout: 10_000,
  }, async () => {
    const { errors, onError } = recorder()
    // Timeouts far beyond the test's own: a call that waited for a connection (an offline queue,
    // a retry) would still be pending when the test times out, so every miss here is immediate.
    const cache = await RedisCache.open({
      url: `redis://127.0.0.1:${await closedPort()}`,
      commandTimeoutMs: 60_000,
      connectTimeoutMs: 60_000,
      onError,
    })
    assert.equal(await cache.get('k'), undefined)
    await cache.set('k', 'v', 5_000, 0) // resolves: caching is best effort
    await cache.delete('k')
    assert.equal(await cache.get('k'), undefined)
    await cache.close()
    const operations = errors.map((e) => e.operation)
    assert.equal(operations.filter((o) => o === 'connection').length, 1, 'one outage, reported once')
    assert.deepEqual(
      operations.filter((o) => o !== 'connection'),
      ['get', 'set', 'delete', 'get'],
    )
    await assert.rejects(cache.get('k'), /closed/)
  })

  test('a server that stops answering costs a call at most the command timeout', async () => {
    const { errors, onError } = recorder()
    const cache = await open({ keyPrefix: `${runPrefix}paused:`, commandTimeoutMs: 100, onError })
    const admin = new Redis(url)
    try {
      await cache.set('k', 'v', 5_000, 0)
      await admin.call('CLIENT', 'PAUSE', '500', 'ALL')
      const started = Date.now()
      assert.equal(await cache.get('k'), undefined)
      const elapsed = Date.now() - started
      assert.ok(elapsed >= 90, `gave up after ${elapsed} ms, before the command timeout`)
      assert.deepEqual(
        errors.map((e) => e.operation),
        ['get'],
      )
      assert.match(errors[0]?.message ?? '', /timed out/i)
      // The admin's own command is held by the pause too: it answers when the pause ends. Then the
      // late reply has been dropped and the connection serves the next command.
      assert.equal(await admin.ping(), 'PONG')
      assert.equal((await cache.get('k'))?.value, 'v')
    } finally {
      await cache.close()
      await admin.quit()
    }
  })

  test('after an outage the cache reconnects by itself and serves entries again', {
    timeout: 20_000,
  }, async () => {
    const proxy = new RedisProxy()
    await proxy.start()
    const { errors, onError } = recorder()
    const cache = await RedisCache.open({
      url: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix: `${runPrefix}outage:`,
      // Far beyond the test's timeout: a read that waited for the connection could not time out.
      commandTimeoutMs: 60_000,
      onError,
    })
    try {
      await cache.set('k', 'before', 60_000, 0)
      await proxy.cut()
      // The proxy is restored only after this read settled: a read that waited for a reconnect
      // would never settle, and the test would fail on its timeout.
      assert.equal(await cache.get('k'), undefined, 'down: a miss')
      await proxy.start()
      let entry = await cache.get('k')
      for (let i = 0; entry === undefined && i < 60; i++) {
        await sleep(50)
        entry = await cache.get('k')
      }
      assert.equal(entry?.value, 'before', 'the entry stored before the outage is served again')
      assert.equal(errors[0]?.operation, 'get', 'the failed read was reported')
    } finally {
      await cache.close()
      await proxy.cut()
    }
  })
})
