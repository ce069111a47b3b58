/**
 * OpenTimeService with its image functions and its hooks replaced: an image that is never (or
 * late) rasterised is answered by the block's fallback image of the declared size inside the
 * deadline, and finishes into the block cache for the next open; the open hooks are told once and
 * never awaited; a log that fails costs the event, never the image.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PNG } from 'pngjs'
import type { Cache } from '../../src/content/cache/cache.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { openImages } from '../../src/opentime/rasterize.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { buildOpenService, type OpenServiceOptions } from './open-app.ts'

const DAY = 86_400_000
let app: TestApp
let version: number

before(async () => {
  app = await startTestApp()
  const put = await app.server.inject({
    method: 'PUT',
    url: '/v1/templates/hooks',
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: 'x',
      html: '{% live "hero" width: 240, height: 90 %}<div style="display:flex;width:240px;height:90px;background:#fff"><span>Hi</span></div>{% fallback %}Our new arrivals are in.{% endlive %}',
    }),
  })
  assert.equal(put.statusCode < 300, true, put.body)
  version = (put.json() as { version: number }).version
})

after(() => app.close())

let n = 0
function token(): string {
  n += 1
  return app.codec.sign(
    {
      kind: 'open-time',
      workspaceId: app.workspace.id,
      campaignId: 'c',
      recipient: 'nobody',
      messageId: `svc-${n}`,
      templateId: 'hooks',
      version,
    },
    DAY,
  )
}

const build = (over: Omit<OpenServiceOptions, 'deadlineMs'> = {}) =>
  buildOpenService(app, { deadlineMs: 150, ...over })

const request = (path: string) => ({ path, method: 'GET', headers: {}, query: {} })

function decode(body: unknown): PNG {
  assert.ok(Buffer.isBuffer(body))
  return PNG.sync.read(body)
}

describe('rasterising against the deadline', () => {
  test('an image never rasterised: the fallback image of the declared size, not cached at the edge', {
    timeout: 5_000,
  }, async () => {
    const { service, events } = build({ renderBlockPng: () => new Promise(() => {}) })
    const res = await service.handle(request(`${token()}/hero.png`))
    assert.equal(res.status, 200)
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.equal(res.headers['x-ink-fallbacks'], '1')
    const img = decode(res.body)
    assert.deepEqual([img.width, img.height], [240, 90])
    await service.settled()
    assert.equal(events.length, 1)
    assert.equal(events[0]?.properties?.fallbacks, 1)
  })

  test('an image whose markup fails: the fallback image, same size', async () => {
    const { service } = build({ renderBlockPng: async () => Promise.reject(new Error('layout refused')) })
    const res = await service.handle(request(`${token()}/hero.png`))
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-ink-fallbacks'], '1')
    const img = decode(res.body)
    assert.deepEqual([img.width, img.height], [240, 90])
  })

  test('a late image finishes into the block cache: the next open gets it', async () => {
    let finish: (b: Buffer) => void = () => {}
    const real = await openImages.renderBlockPng(
      '<div style="display:flex;width:240px;height:90px;background:#fff"><span>Hi</span></div>',
      { width: 240, height: 90 },
    )
    const { service } = build({
      renderBlockPng: () =>
        new Promise<Buffer>((resolve) => {
          finish = resolve
        }),
    })
    const t = token()
    const first = await service.handle(request(`${t}/hero.png`))
    assert.equal(first.headers['x-ink-fallbacks'], '1')
    finish(real)
    await new Promise((r) => setImmediate(r))
    const second = await service.handle(request(`${t}/hero.png`))
    assert.equal(second.headers['x-ink-fallbacks'], '0')
    assert.deepEqual(second.body, real)
    assert.match(String(second.headers['cache-control']), /^private, max-age=30/)
  })
})

describe('a block cache that hangs', () => {
  test('a lookup that does not answer is a miss: the image is drawn and answered', {
    timeout: 5_000,
  }, async () => {
    const hanging: Cache = {
      get: () => new Promise(() => {}),
      set: async () => {},
      delete: async () => {},
      expire: async () => {},
      close: async () => {},
    }
    const { service, results } = build({ cache: hanging })
    const res = await service.handle(request(`${token()}/hero.png`))
    assert.equal(res.status, 200)
    const img = decode(res.body)
    assert.deepEqual([img.width, img.height], [240, 90])
    assert.deepEqual(results, ['png:timeout'])
  })
})

describe('open hooks and the log', () => {
  test('the hook is told once per window and never awaited by the request', { timeout: 5_000 }, async () => {
    const pending: InkEvent[] = []
    // One instant for both requests: the png's drawing can take seconds on a loaded machine, and two
    // requests on either side of a 10 s dedupe window's edge are two opens (CI failed on 2 !== 1).
    const at = Date.now()
    const { service, events } = build({
      now: () => at,
      opened: (e) => {
        pending.push(e)
        return new Promise(() => {}) // a webhook outbox that never answers
      },
    })
    const t = token()
    const a = await service.handle(request(`${t}/hero.png`))
    const b = await service.handle(request(`${t}/hero.json`))
    assert.equal(a.status, 200)
    assert.equal(b.status, 200)
    // The append resolved; the hook was called after it (its promise never settles).
    const end = Date.now() + 2_000
    while (pending.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    assert.equal(events.length, 1)
    assert.equal(pending.length, 1)
    assert.equal(pending[0]?.messageId, events[0]?.messageId)
  })

  test('a log that fails costs the event, not the image; the next fetch records it', async () => {
    let fail = true
    const stored: InkEvent[] = []
    const { service, hooked } = build({
      append: async (e) => {
        if (fail) throw new Error('log down')
        stored.push(...e)
      },
    })
    const t = token()
    const a = await service.handle(request(`${t}/hero.png`))
    assert.equal(a.status, 200)
    await service.settled()
    assert.equal(stored.length, 0)
    assert.equal(hooked.length, 0, 'no hook for an open that was not recorded')
    fail = false
    await service.handle(request(`${t}/hero.png`))
    await service.settled()
    assert.equal(stored.length, 1)
    assert.equal(hooked.length, 1)
  })
})
