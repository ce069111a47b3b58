import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import type { InjectOptions } from 'fastify'
import { DATABASE_FILE } from '../../src/app.ts'
import { loadConfig, parseRoles } from '../../src/config.ts'
import { type ErrorCode, ErrorCodes, InkError } from '../../src/core/errors.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

describe('error codes', () => {
  test('every code is prefixed INK_ERR_, carries a 4xx/5xx status and is documented in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    for (const [code, status] of Object.entries(ErrorCodes)) {
      assert.match(code, /^INK_ERR_[A-Z0-9_]+$/)
      assert.ok(status >= 400 && status < 600, `${code} has status ${status}`)
      assert.ok(doc.includes(`\`${code}\``), `${code} is missing from docs/errors.md`)
    }
  })

  test('an InkError takes its status from the code table and keeps its cause', () => {
    const cause = new Error('disk full')
    const err = new InkError('INK_ERR_LOG_UNAVAILABLE', 'retry', { cause })
    assert.equal(err.statusCode, 503)
    assert.equal(err.cause, cause)
  })
})

describe('configuration', () => {
  test('the embedded default needs no settings', () => {
    const config = loadConfig({})
    assert.equal(config.port, 8080)
    assert.equal(config.maxEventBytes, 32 * 1024)
    assert.equal(config.maxBatchBytes, 500 * 1024)
    assert.ok(Object.isFrozen(config))
  })

  test('roles and the scale-out backends: separate roles need Kafka and PostgreSQL, which go together', () => {
    const scale = { INKSTREAM_KAFKA_BROKERS: '127.0.0.1:9092', INKSTREAM_DATABASE_URL: 'postgres://u@h/db' }
    assert.deepEqual([...parseRoles('processor, collector')].sort(), ['collector', 'processor'])
    assert.equal(parseRoles('all').size, 4)
    assert.equal(loadConfig({ ...scale, INKSTREAM_ROLES: 'collector' }).roles, 'collector')
    const refused = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof InkError && message.test(err.message),
      )
    refused({ INKSTREAM_ROLES: 'collector' }, /INKSTREAM_ROLES: separate roles need the scale-out backends/)
    refused({ ...scale, INKSTREAM_ROLES: 'collector,mailer' }, /unknown role "mailer"/)
    refused({ INKSTREAM_KAFKA_BROKERS: '127.0.0.1:9092' }, /INKSTREAM_DATABASE_URL: .*set together/)
    refused({ ...scale, INKSTREAM_KAFKA_BROKERS: 'localhost' }, /INKSTREAM_KAFKA_BROKERS: host:port/)
  })

  test('environment variables set values and every problem is reported at once', () => {
    assert.equal(loadConfig({ INKSTREAM_PORT: '9000' }).port, 9000)
    assert.throws(
      () => loadConfig({ INKSTREAM_PORT: 'eighty', INKSTREAM_PROT: '1', INKSTREAM_DEDUPE_WINDOW_DAYS: '1' }),
      (err: unknown) => {
        assert.ok(err instanceof InkError)
        assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
        assert.match(err.message, /INKSTREAM_PROT is not a known setting/)
        assert.match(err.message, /INKSTREAM_PORT:/)
        assert.match(err.message, /at least 7 days/)
        return true
      },
    )
  })

  test('keys that are too short to be secret are refused', () => {
    assert.throws(() => loadConfig({ INKSTREAM_WRITE_KEY: 'short' }), /INKSTREAM_WRITE_KEY/)
  })
})

/** The rows of docs/errors.md's table: code → its HTTP column. */
function documentedCodes(): Map<string, string> {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const rows = new Map<string, string>()
  for (const m of doc.matchAll(/^\| `(INK_ERR_[A-Z0-9_]+)` \| ([^|]+) \|/gm))
    rows.set(m[1] ?? '', (m[2] ?? '').trim())
  return rows
}

/** Codes that never reach HTTP; their column is `—`. */
const NOT_HTTP = new Set(['INK_ERR_INVALID_CONFIG', 'INK_ERR_SERVER_UNREACHABLE'])

describe('docs/errors.md is true', () => {
  test('the table lists exactly the codes of src/core/errors.ts, each with its status (— only off HTTP)', () => {
    const rows = documentedCodes()
    assert.deepEqual([...rows.keys()].sort(), Object.keys(ErrorCodes).sort())
    for (const [code, http] of rows) {
      if (NOT_HTTP.has(code)) assert.match(http, /^—/, `${code} never reaches HTTP: its column is —`)
      else assert.equal(Number(http), ErrorCodes[code as ErrorCode], `${code}: docs say ${http}`)
    }
  })

  describe('each code a running server sends is provoked, with the status the table gives', () => {
    let app: TestApp
    before(async () => {
      app = await startTestApp({ from: 'news@shop.example' })
    })
    after(() => app.close())

    const admin = () => ({
      authorization: `Bearer ${app.workspace.adminKey}`,
      'content-type': 'application/json',
    })
    const key = () => ({ authorization: `Bearer ${app.workspace.adminKey}` })
    const write = () => ({
      authorization: basicAuth(app.workspace.writeKey),
      'content-type': 'application/json',
    })
    const inject = async (opts: InjectOptions): Promise<{ status: number; code: unknown; body: unknown }> => {
      const res = await app.server.inject(opts)
      const header = res.headers['x-ink-error-code']
      if (header !== undefined) return { status: res.statusCode, code: header, body: res.body }
      const body = res.json() as { code?: unknown }
      return { status: res.statusCode, code: body.code, body }
    }
    const json = (value: unknown) => JSON.stringify(value)
    const unsubscribeWithoutAddress = () =>
      `/u/${app.codec.sign({ kind: 'unsubscribe', workspaceId: app.workspace.id, campaignId: 'c', recipient: 'nobody', messageId: 'm1' }, 86_400_000)}`

    /** One request per code; the response must carry that code and the table's status. */
    const provoke: Record<string, () => Promise<{ status: number; code: unknown; body: unknown }>> = {
      INK_ERR_UNAUTHORIZED: () => inject({ url: '/v1/campaigns' }),
      INK_ERR_NOT_FOUND: () => inject({ url: '/v1/campaigns/none', headers: admin() }),
      INK_ERR_PAYLOAD_TOO_LARGE: () =>
        inject({
          method: 'POST',
          url: '/v1/track',
          headers: write(),
          payload: json({ userId: 'u', event: 'e', properties: { pad: 'x'.repeat(40_000) } }),
        }),
      INK_ERR_UNSUPPORTED_MEDIA_TYPE: () =>
        inject({
          method: 'POST',
          url: '/v1/track',
          headers: { ...write(), 'content-type': 'application/xml' },
          payload: '<a/>',
        }),
      INK_ERR_UNSUPPORTED_ENCODING: () =>
        inject({
          method: 'POST',
          url: '/v1/track',
          headers: { ...write(), 'content-encoding': 'br' },
          payload: '{}',
        }),
      INK_ERR_INVALID_JSON: () =>
        inject({ method: 'POST', url: '/v1/track', headers: write(), payload: '{"userId":' }),
      INK_ERR_INVALID_UTF8: () =>
        inject({
          method: 'POST',
          url: '/v1/track',
          headers: write(),
          payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
        }),
      INK_ERR_EMPTY_BODY: () => inject({ method: 'POST', url: '/v1/track', headers: write(), payload: '' }),
      INK_ERR_INVALID_EVENT: () =>
        inject({ method: 'POST', url: '/v1/track', headers: write(), payload: json({ userId: 'u' }) }),
      INK_ERR_BATCH_REJECTED: () =>
        inject({
          method: 'POST',
          url: '/v1/batch',
          headers: write(),
          payload: json({ batch: [{ type: 'track', userId: 'u' }] }),
        }),
      INK_ERR_LOG_UNAVAILABLE: async () => {
        const other = await startTestApp()
        try {
          await other.log.close()
          const res = await other.server.inject({
            method: 'POST',
            url: '/v1/track',
            headers: {
              authorization: basicAuth(other.workspace.writeKey),
              'content-type': 'application/json',
            },
            payload: json({ userId: 'u', event: 'e' }),
          })
          return { status: res.statusCode, code: res.json().code, body: res.body }
        } finally {
          await other.close()
        }
      },
      // Another connection holds the store's write lock past the 5 s busy timeout: the write waits,
      // then answers 503 (it was a 500 INK_ERR_INTERNAL); once the lock is gone the same write works.
      INK_ERR_STORE_BUSY: async () => {
        const other = await startTestApp()
        const holder = new Database(join(other.dataDir, DATABASE_FILE))
        try {
          holder.exec('BEGIN IMMEDIATE')
          const put = () =>
            other.server.inject({
              method: 'PUT',
              url: '/v1/templates/busy',
              headers: {
                authorization: `Bearer ${other.workspace.adminKey}`,
                'content-type': 'application/json',
              },
              payload: json({ subject: 'Hi', html: '<p>Hi</p>' }),
            })
          const res = await put()
          assert.equal(res.headers['retry-after'], '1')
          holder.exec('ROLLBACK')
          const retried = await put()
          assert.ok(retried.statusCode < 300, `the retry after the lock was released: ${retried.body}`)
          return { status: res.statusCode, code: res.json().code, body: res.body }
        } finally {
          if (holder.inTransaction) holder.exec('ROLLBACK')
          holder.close()
          await other.close()
        }
      },
      // Body just under 32 KB, stored form over it: the server adds messageId, workspace, times, ip.
      INK_ERR_EVENT_TOO_LARGE: () => {
        const event = (pad: string) => json({ userId: 'big', event: 'e', properties: { pad } })
        return inject({
          method: 'POST',
          url: '/v1/track',
          headers: write(),
          payload: event('x'.repeat(32_760 - event('').length)),
        })
      },
      INK_ERR_BAD_REQUEST: () =>
        inject({ method: 'PUT', url: '/v1/campaigns/bad', headers: admin(), payload: json({}) }),
      INK_ERR_NUL_CHARACTER: () =>
        inject({
          method: 'PUT',
          url: '/v1/campaigns/nul',
          headers: admin(),
          payload: json({ name: 'a\u0000b' }),
        }),
      INK_ERR_TOKEN_INVALID: () => inject({ url: '/c/not-a-token' }),
      INK_ERR_TOKEN_EXPIRED: async () => {
        const token = app.codec.sign(
          {
            kind: 'click',
            workspaceId: app.workspace.id,
            campaignId: 'c',
            recipient: 'r',
            messageId: 'm',
            url: 'https://x.example/',
          },
          1,
        )
        await new Promise((r) => setTimeout(r, 5))
        return inject({ url: `/c/${token}` })
      },
      INK_ERR_RECIPIENT_UNKNOWN: () =>
        inject({
          method: 'POST',
          url: unsubscribeWithoutAddress(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'List-Unsubscribe=One-Click',
        }),
      INK_ERR_TEMPLATE_INVALID: () =>
        inject({
          method: 'PUT',
          url: '/v1/templates/broken',
          headers: admin(),
          payload: json({ subject: 'x', html: '{% if %}' }),
        }),
      INK_ERR_RENDER_FAILED: async () => {
        await inject({
          method: 'PUT',
          url: '/v1/templates/boom',
          headers: admin(),
          payload: json({ subject: 'x', html: '{% render "missing-block" %}' }),
        })
        return inject({
          method: 'POST',
          url: '/v1/templates/boom/preview',
          headers: admin(),
          payload: json({ profile: {} }),
        })
      },
      INK_ERR_RENDER_LIMIT: async () => {
        await inject({
          method: 'PUT',
          url: '/v1/templates/huge-range',
          headers: admin(),
          payload: json({ subject: 'x', html: '{{ (1..3000000) | sort | first }}' }),
        })
        return inject({
          method: 'POST',
          url: '/v1/templates/huge-range/preview',
          headers: admin(),
          payload: json({ profile: {} }),
        })
      },
      INK_ERR_CONDITION_REFUSED: () =>
        inject({
          method: 'PUT',
          url: '/v1/segments/backtracking',
          headers: admin(),
          payload: json({ condition: { email: { $regex: '^(a+)+$' } } }),
        }),
      INK_ERR_BODY_TOO_DEEP: () =>
        inject({
          method: 'PUT',
          url: '/v1/campaigns/deep',
          headers: admin(),
          payload: `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
        }),
      INK_ERR_INVALID_ADDRESS: () =>
        inject({
          method: 'PUT',
          url: '/v1/campaigns/bad-from',
          headers: admin(),
          payload: json({ templateId: 'spring', from: 'nobody', audience: { userIds: ['u'] } }),
        }),
      INK_ERR_CAMPAIGN_NOT_DRAFT: async () => {
        await inject({
          method: 'PUT',
          url: '/v1/templates/spring',
          headers: admin(),
          payload: json({ subject: 'Hi', html: '<p>Hi</p>' }),
        })
        const body = json({ templateId: 'spring', audience: { userIds: [] } })
        await inject({ method: 'PUT', url: '/v1/campaigns/frozen', headers: admin(), payload: body })
        await inject({ method: 'POST', url: '/v1/campaigns/frozen/start', headers: key() })
        return inject({ method: 'PUT', url: '/v1/campaigns/frozen', headers: admin(), payload: body })
      },
      INK_ERR_CAMPAIGN_RUNNING: async () => {
        await inject({
          method: 'PUT',
          url: '/v1/templates/spring',
          headers: admin(),
          payload: json({ subject: 'Hi', html: '<p>Hi</p>' }),
        })
        await inject({
          method: 'POST',
          url: '/v1/batch',
          headers: write(),
          payload: json({
            batch: ['a', 'b', 'c'].map((u) => ({
              type: 'identify',
              userId: u,
              traits: { email: `${u}@example.com` },
            })),
          }),
        })
        await waitForProcessed(app)
        // Three recipients at one a second: the run lasts seconds, the second start lands inside it.
        const body = json({ templateId: 'spring', audience: { userIds: ['a', 'b', 'c'] }, ratePerSecond: 1 })
        await inject({ method: 'PUT', url: '/v1/campaigns/busy', headers: admin(), payload: body })
        await inject({ method: 'POST', url: '/v1/campaigns/busy/start', headers: key() })
        return inject({ method: 'POST', url: '/v1/campaigns/busy/start', headers: key() })
      },
    }

    /** Codes with no request here, and why. */
    const elsewhere: Record<string, string> = {
      INK_ERR_CSRF:
        'a dashboard-session change without the x-csrf-token: provoked in test/ui/dashboard-shell.test.ts',
      INK_ERR_FORBIDDEN:
        'an AMP sender refused on /o/<token>/<block>.json: provoked in test/opentime/open-routes.test.ts',
      INK_ERR_AUDIENCE_UNSUPPORTED:
        'only from a server composed without a segment resolver (the table says so)',
      INK_ERR_EVENT_UNSERIALIZABLE:
        "the event log's own guard: the collector's validation (depth, size) refuses such events first; provoked at the log in test/log/event-log.test.ts",
      INK_ERR_INVALID_CONFIG: 'start-up only, checked in "configuration" above',
      INK_ERR_SERVER_UNREACHABLE: 'CLI only, provoked in test/cli/send.test.ts',
      INK_ERR_INTERNAL: 'a bug by definition',
      INK_ERR_WORKER_LOST: 'a worker thread that exits mid-task: provoked in test/core/pool.test.ts',
      INK_ERR_WORKER_TIMEOUT:
        'a worker thread that does not answer in time: provoked in test/core/pool.test.ts',
      INK_ERR_CAMPAIGN_NOT_RUNNING:
        'a pause of a draft campaign, 409 with its message: provoked in test/campaigns/campaign-outage.test.ts',
      INK_ERR_CAMPAIGN_CANCELLED:
        'a start of a cancelled campaign, 409: provoked in test/campaigns/campaign-outage.test.ts',
      INK_ERR_CAMPAIGN_FINISHED:
        'a cancel of a cancelled campaign, 409: provoked in test/campaigns/campaign-outage.test.ts',
      INK_ERR_RECIPIENT_SUPPRESSED:
        'a test send to a suppressed address, 409: provoked in test/content/test-send.test.ts',
      INK_ERR_TEST_SEND_FAILED:
        'a test send the SMTP server refuses, 502: provoked in test/content/test-send.test.ts',
      INK_ERR_WEBHOOK_UNAUTHORIZED:
        'forged SNS, SendGrid and Postmark calls, 401: provoked in test/delivery/esp-webhooks-app.test.ts',
      INK_ERR_WEBHOOK_REPLAYED:
        'an old SendGrid timestamp, 401: provoked in test/delivery/esp-webhooks-app.test.ts',
      INK_ERR_WEBHOOK_NOT_CONFIGURED:
        'an ESP webhook without its setting, 404: provoked in test/delivery/esp-webhooks-app.test.ts',
      INK_ERR_WEBHOOK_MALFORMED:
        'a broken SNS or SendGrid body, 400: provoked in test/delivery/esp-webhooks-app.test.ts',
      INK_ERR_WEBHOOK_UNVERIFIABLE:
        'an SNS signing certificate that cannot be fetched, 503: provoked in test/delivery/esp-webhooks-app.test.ts',
    }

    test('every code is either provoked here or said where it is checked', () => {
      assert.deepEqual(
        [...Object.keys(provoke), ...Object.keys(elsewhere)].sort(),
        Object.keys(ErrorCodes).sort(),
      )
    })

    for (const [code, request] of Object.entries(provoke)) {
      test(`${code}: ${documentedCodes().get(code)}`, async () => {
        const got = await request()
        assert.equal(got.code, code, JSON.stringify(got.body))
        assert.equal(String(got.status), documentedCodes().get(code))
      })
    }

    test('events holding NUL are accepted, and the embedded store keeps the NUL as it is', async () => {
      const row = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('| `INK_ERR_NUL_CHARACTER`'))
      assert.match(row ?? '', /embedded \(SQLite\) store keeps the NUL as it is/)
      const sent = await inject({
        method: 'POST',
        url: '/v1/batch',
        headers: write(),
        payload: json({ batch: [{ type: 'identify', userId: 'nul-user', traits: { nick: 'a\u0000b' } }] }),
      })
      assert.equal(sent.status, 200, json(sent.body))
      await waitForProcessed(app)
      const profile = await app.server.inject({ url: '/v1/profiles/nul-user', headers: key() })
      assert.equal(profile.json().traits.nick, 'a\u0000b')
    })

    test('INK_ERR_EVENT_TOO_LARGE is listed in `rejected`; the other events of the batch are kept', async () => {
      const got = await inject({
        method: 'POST',
        url: '/v1/batch',
        headers: write(),
        payload: json({
          batch: [
            { type: 'track', userId: 'u', event: 'big', properties: { pad: 'x'.repeat(40_000) } },
            { type: 'track', userId: 'u', event: 'small' },
          ],
        }),
      })
      assert.equal(got.status, 200)
      const body = got.body as { accepted: number; rejected: { code: string }[] }
      assert.equal(body.accepted, 1)
      assert.equal(body.rejected[0]?.code, 'INK_ERR_EVENT_TOO_LARGE')
    })
  })
})
