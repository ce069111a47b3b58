import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PNG } from 'pngjs'
import { parseContentConfig } from '../../src/content/content-config.ts'
import { InkError } from '../../src/core/errors.ts'
import { ampCors } from '../../src/opentime/amp-cors.ts'
import { cacheControl, notModified, strongEtag } from '../../src/opentime/edge-cache.ts'
import {
  classifyUserAgent,
  openTimeEvent,
  openTimeEventId,
  RecentOpens,
} from '../../src/opentime/open-event.ts'
import { parseOpenPath, refusal, TRANSPARENT_PNG } from '../../src/opentime/open-responses.ts'

const SENDERS = ['news@example.com']
/** A `${NAME}` reference as the content file writes it. */
const envRef = (name: string) => `\${${name}}`

describe('AMP for Email CORS', () => {
  test('v2: an allowed AMP-Email-Sender is echoed in AMP-Email-Allow-Sender', () => {
    assert.deepEqual(ampCors({ 'amp-email-sender': 'News@Example.com' }, {}, SENDERS), {
      ok: true,
      version: 'v2',
      headers: { 'amp-email-allow-sender': 'News@Example.com' },
    })
  })

  test('v2: another sender is refused', () => {
    assert.deepEqual(ampCors({ 'amp-email-sender': 'spam@evil.example' }, {}, SENDERS), {
      ok: false,
      version: 'v2',
      reason: 'sender "spam@evil.example" is not allowed',
    })
  })

  test('v2 takes precedence over v1 when a client sends both', () => {
    const r = ampCors(
      { 'amp-email-sender': 'news@example.com', origin: 'https://mail.example' },
      { __amp_source_origin: 'news@example.com' },
      SENDERS,
    )
    assert.deepEqual(r, {
      ok: true,
      version: 'v2',
      headers: { 'amp-email-allow-sender': 'news@example.com' },
    })
  })

  test('v1: Origin and an allowed __amp_source_origin get the three headers', () => {
    assert.deepEqual(
      ampCors({ origin: 'https://mail.google.com' }, { __amp_source_origin: 'news@example.com' }, SENDERS),
      {
        ok: true,
        version: 'v1',
        headers: {
          'access-control-allow-origin': 'https://mail.google.com',
          'amp-access-control-allow-source-origin': 'news@example.com',
          'access-control-expose-headers': 'AMP-Access-Control-Allow-Source-Origin',
        },
      },
    )
  })

  test('v1: a source origin not allowed, or none, is refused', () => {
    const o = { origin: 'https://mail.google.com' }
    assert.deepEqual(ampCors(o, { __amp_source_origin: 'x@evil.example' }, SENDERS), {
      ok: false,
      version: 'v1',
      reason: 'source origin "x@evil.example" is not allowed',
    })
    assert.deepEqual(ampCors(o, {}, SENDERS), {
      ok: false,
      version: 'v1',
      reason: 'Origin without __amp_source_origin',
    })
  })

  test('neither header: served without CORS headers (not a cross-origin read)', () => {
    assert.deepEqual(ampCors({}, {}, SENDERS), { ok: true, version: 'none', headers: {} })
  })

  test('an empty allow list refuses every AMP sender', () => {
    assert.equal(ampCors({ 'amp-email-sender': 'news@example.com' }, {}, []).ok, false)
  })
})

describe('edge caching', () => {
  test('private blocks are kept by the client only; public ones by shared caches too', () => {
    assert.equal(
      cacheControl({ ttlSeconds: 30, scope: 'private' }),
      'private, max-age=30, stale-while-revalidate=30, stale-if-error=86400',
    )
    assert.equal(
      cacheControl({ ttlSeconds: 30, scope: 'public' }),
      'public, max-age=30, s-maxage=30, stale-while-revalidate=30, stale-if-error=86400',
    )
    assert.equal(
      cacheControl({ ttlSeconds: 1, scope: 'public', revalidate: false }),
      'public, max-age=1, s-maxage=1, stale-if-error=86400',
    )
    assert.equal(cacheControl({ ttlSeconds: 600, scope: 'private' }).split(', ')[1], 'max-age=60')
    assert.equal(cacheControl({ ttlSeconds: 0, scope: 'private' }), 'no-cache')
  })

  test('If-None-Match matches the strong ETag, a weak copy of it, a list holding it, or *', () => {
    const etag = strongEtag('png', '<div/>', '600', '240')
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/)
    assert.notEqual(etag, strongEtag('png', '<div/>', '600', '241'))
    assert.equal(notModified(etag, etag), true)
    assert.equal(notModified(`W/${etag}`, etag), true)
    assert.equal(notModified(`"other", ${etag}`, etag), true)
    assert.equal(notModified('*', etag), true)
    assert.equal(notModified('"other"', etag), false)
    assert.equal(notModified(undefined, etag), false)
  })
})

describe('open events', () => {
  test('user agents: image proxies are told apart from browsers', () => {
    const cases: [string | undefined, string, boolean][] = [
      [
        'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
        'gmail-proxy',
        true,
      ],
      ['Mozilla/5.0', 'apple-mpp', true],
      ['YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html', 'yahoo-proxy', true],
      [
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
        'browser',
        false,
      ],
      ['curl/8.5.0', 'other', false],
      [undefined, 'other', false],
    ]
    for (const [ua, uaClass, proxy] of cases)
      assert.deepEqual(classifyUserAgent(ua), { uaClass, proxy }, String(ua))
  })

  test('the event carries the contract properties and one id per token per window', () => {
    const base = {
      workspaceId: 'ws',
      campaignId: 'spring',
      recipient: 'u1',
      messageId: 'm1',
      token: 'k.body.mac',
      now: Date.UTC(2026, 0, 1, 12, 0, 5),
      windowMs: 10_000,
      userAgent: 'Mozilla/5.0',
      surface: 'png' as const,
      block: 'hero',
      fallbacks: 2,
      dataAgeMs: null,
    }
    const e = openTimeEvent(base)
    assert.deepEqual(e, {
      type: 'track',
      event: 'Email Opened',
      messageId: openTimeEventId('k.body.mac', base.now, 10_000),
      workspaceId: 'ws',
      userId: 'u1',
      properties: {
        campaign_id: 'spring',
        email_id: 'm1',
        block: 'hero',
        open_kind: 'open-time',
        surface: 'png',
        ua_class: 'apple-mpp',
        proxy: true,
        fallbacks: 2,
        data_age_ms: null,
      },
      timestamp: '2026-01-01T12:00:05.000Z',
      receivedAt: '2026-01-01T12:00:05.000Z',
      context: { userAgent: 'Mozilla/5.0' },
    })
    assert.equal(openTimeEvent({ ...base, now: base.now + 4_000, block: 'sale' }).messageId, e.messageId)
    assert.notEqual(openTimeEvent({ ...base, now: base.now + 5_000 }).messageId, e.messageId)
    assert.notEqual(openTimeEvent({ ...base, token: 'k.other.mac' }).messageId, e.messageId)
  })

  test('RecentOpens: first once per window, again after it, bounded', () => {
    const r = new RecentOpens(2)
    assert.equal(r.first('a', 0, 10), true)
    assert.equal(r.first('a', 5, 10), false)
    assert.equal(r.first('a', 10, 20), true)
    r.first('b', 10, 20)
    r.first('c', 10, 20)
    assert.equal(r.first('a', 11, 20), true, 'a was evicted by the bound')
  })
})

describe('paths and refusals', () => {
  test('only <token>/view and <token>/<name>.png|gif|json are open-time URLs', () => {
    assert.deepEqual(parseOpenPath('k.b.m/hero.png'), {
      ok: true,
      token: 'k.b.m',
      surface: 'png',
      name: 'hero',
    })
    assert.deepEqual(parseOpenPath('k.b.m/sale.gif'), {
      ok: true,
      token: 'k.b.m',
      surface: 'gif',
      name: 'sale',
    })
    assert.deepEqual(parseOpenPath('k.b.m/hero.json?__amp_source_origin=x'), {
      ok: true,
      token: 'k.b.m',
      surface: 'json',
      name: 'hero',
    })
    assert.deepEqual(parseOpenPath('k.b.m/view'), { ok: true, token: 'k.b.m', surface: 'view', name: '' })
    for (const bad of ['k.b.m', 'k.b.m/', 'k.b.m/Hero.png', 'k.b.m/a/b.png', '/hero.png', 'k.b.m/hero.svg'])
      assert.equal(parseOpenPath(bad).ok, false, bad)
    assert.equal(parseOpenPath('k.b.m/x y.png').surface, 'png')
  })

  test('a refused image is a valid 1×1 transparent PNG, never cached', () => {
    const png = PNG.sync.read(TRANSPARENT_PNG)
    assert.deepEqual([png.width, png.height, png.data[3]], [1, 1, 0])
    const r = refusal('png', 410, 'INK_ERR_TOKEN_EXPIRED', 'expired')
    assert.equal(r.status, 410)
    assert.deepEqual(r.headers, {
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-robots-tag': 'noindex, nofollow',
      'x-ink-error-code': 'INK_ERR_TOKEN_EXPIRED',
      'content-type': 'image/png',
    })
  })
})

describe('content config: openTime', () => {
  test('defaults, limits, and the webhook secret read from the environment', () => {
    assert.deepEqual(parseContentConfig({}).openTime, {
      deadlineMs: 250,
      cacheTtlSeconds: 30,
      ampSenders: [],
    })
    const c = parseContentConfig(
      {
        openTime: {
          ampSenders: ['news@example.com'],
          webhook: { url: 'https://h.example/o', secret: envRef('S') },
        },
      },
      { S: 'x'.repeat(32) },
    )
    assert.deepEqual(c.openTime.webhook, { url: 'https://h.example/o', secret: 'x'.repeat(32) })
    const refused = (doc: unknown, env: Record<string, string>, re: RegExp) =>
      assert.throws(
        () => parseContentConfig(doc, env),
        (err: unknown) => err instanceof InkError && re.test(err.message),
      )
    refused(
      { openTime: { cacheTtlSeconds: 61 } },
      {},
      /openTime\.cacheTtlSeconds: open-time blocks are cached at most 60 s/,
    )
    refused({ openTime: { ampSenders: ['not an address'] } }, {}, /openTime\.ampSenders\.0/)
    refused(
      { openTime: { webhook: { url: 'https://h.example', secret: 'short' } } },
      {},
      /at least 16 characters/,
    )
    refused(
      { openTime: { webhook: { url: 'https://h.example', secret: envRef('NOPE') } } },
      {},
      /NOPE is not set/,
    )
    refused({ openTime: { extra: 1 } }, {}, /openTime/)
  })
})
