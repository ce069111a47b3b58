/**
 * Scale-out: the block cache in Redis is shared by api processes. Two services, each with its own
 * Redis connection (two processes); the second answers the first's image from Redis although its own
 * drawing always fails. Real Redis (REDIS_URL, default redis://127.0.0.1:6379).
 */

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { RedisCache } from '../../src/content/cache/redis-cache.ts'
import { openImages } from '../../src/opentime/rasterize.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'
import { buildOpenService } from './open-app.ts'

const url = REDIS_URL

const skip = await redisMissing()

const prefix = `inkstream-test:open-time:${process.pid}-${Date.now()}:`
let app: TestApp
let version: number
const caches: RedisCache[] = []

before(async () => {
  if (skip) return
  app = await startTestApp()
  const put = await app.server.inject({
    method: 'PUT',
    url: '/v1/templates/shared',
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: 'x',
      html: '{% live "hero" width: 180, height: 60 %}<div style="display:flex;width:180px;height:60px;background:#def"><span>Shared</span></div>{% fallback %}Hello.{% endlive %}',
    }),
  })
  assert.equal(put.statusCode < 300, true, put.body)
  version = (put.json() as { version: number }).version
})

after(async () => {
  if (skip) return
  for (const c of caches) await c.close()
  await app.close()
})

async function service(draw: (typeof openImages)['renderBlockPng'], results: string[]) {
  const redis = await RedisCache.open({ url, keyPrefix: prefix })
  caches.push(redis)
  return buildOpenService(app, { cache: redis, renderBlockPng: draw, deadlineMs: 2_000, results }).service
}

test('a block drawn by one api process is served from Redis by another', { skip }, async () => {
  const token = app.codec.sign(
    {
      kind: 'open-time',
      workspaceId: app.workspace.id,
      campaignId: 'c',
      recipient: 'r',
      messageId: 'shared-1',
      templateId: 'shared',
      version,
    },
    86_400_000,
  )
  const resultsA: string[] = []
  const resultsB: string[] = []
  const a = await service(openImages.renderBlockPng, resultsA)
  const b = await service(async () => Promise.reject(new Error('process B cannot draw')), resultsB)
  const request = { path: `${token}/hero.png`, method: 'GET', headers: {}, query: {} }
  const first = await a.handle(request)
  assert.equal(first.status, 200)
  assert.equal(first.headers['x-ink-fallbacks'], '0')
  assert.deepEqual(resultsA, ['png:miss'])
  // A's set is not awaited by its answer: wait (bounded) until Redis has it for B.
  const end = Date.now() + 5_000
  let second = await b.handle(request)
  while (second.headers['x-ink-fallbacks'] !== '0' && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20))
    second = await b.handle(request)
  }
  assert.equal(second.headers['x-ink-fallbacks'], '0')
  assert.deepEqual(second.body, first.body)
  assert.equal(second.headers.etag, first.headers.etag)
  assert.equal(resultsB.at(-1), 'png:hit')
})
