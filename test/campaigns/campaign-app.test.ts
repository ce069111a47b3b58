import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DATABASE_FILE } from '../../src/app.ts'
import { SqliteCampaignStore } from '../../src/campaigns/sqlite-campaign-store.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { header, mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type ApiBody, api, identify } from './campaign-api.ts'
import { putTemplate } from './campaign-fixture.ts'

async function waitForState(app: TestApp, id: string, states: string[], timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (states.includes(got.body.state)) return got.body
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('campaigns over the HTTP API, sent through SMTP', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  before(async () => {
    smtp = await startSmtpServer()
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
    await putTemplate(app, 'spring')
    await identify(app, {
      ann: { email: 'ann@example.com' },
      bob: { email: 'bob@example.com' },
      nomail: { firstName: 'No' },
    })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  test('a campaign sends one message per recipient, once, and reports its progress', async () => {
    const put = await api(app, 'PUT', '/v1/campaigns/spring-sale', {
      templateId: 'spring',
      audience: { userIds: ['ann', 'bob', 'nomail'] },
      vars: { greeting: 'Hello' },
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal(put.body.state, 'draft')
    assert.equal(put.body.templateVersion, null)

    const start = await api(app, 'POST', '/v1/campaigns/spring-sale/start')
    assert.equal(start.status, 202, JSON.stringify(start.body))
    const done = await waitForState(app, 'spring-sale', ['done', 'failed'])
    assert.equal(done.state, 'done', JSON.stringify(done))
    assert.equal(done.templateVersion, 1)
    assert.equal(done.progress.sent, 2)
    assert.equal(done.progress.skipped, 1)
    assert.equal(done.progress.total, 3)
    assert.equal(done.progress.remaining, 0)
    assert.equal(typeof done.startedAt, 'number')
    assert.equal(typeof done.finishedAt, 'number')

    assert.equal(smtp.received.length, 2)
    const to = smtp.received.map((m) => m.rcptTo.join(',')).sort()
    assert.deepEqual(to, ['ann@example.com', 'bob@example.com'])
    assert.equal(smtp.received[0]?.mailFrom, 'news@shop.example')
    assert.match(smtp.received.find((m) => m.rcptTo[0] === 'ann@example.com')?.raw ?? '', /Hello, ann/)

    // A second start resumes a finished campaign: the ledger makes it send nothing more.
    const again = await api(app, 'POST', '/v1/campaigns/spring-sale/start')
    assert.equal(again.status, 202)
    const after2 = await waitForState(app, 'spring-sale', ['done', 'failed'])
    assert.equal(after2.state, 'done')
    assert.equal(after2.progress.sent, 2)
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(smtp.received.length, 2)

    // A started campaign is frozen.
    const edit = await api(app, 'PUT', '/v1/campaigns/spring-sale', {
      templateId: 'spring',
      audience: { userIds: ['ann'] },
    })
    assert.equal(edit.status, 409)
    assert.equal(edit.body.code, 'INK_ERR_CAMPAIGN_NOT_DRAFT')

    const list = await api(app, 'GET', '/v1/campaigns')
    assert.deepEqual(
      list.body.campaigns.map((c: { id: string }) => c.id),
      ['spring-sale'],
    )
    assert.equal(list.body.campaigns[0].progress, undefined)
    const withProgress = await api(app, 'GET', '/v1/campaigns?progress=true')
    assert.deepEqual(
      withProgress.body.campaigns.map((c: ApiBody) => [c.id, c.state, c.progress.sent, c.progress.total]),
      [['spring-sale', 'done', 2, 3]],
    )
    const badFlag = await api(app, 'GET', '/v1/campaigns?progress=yes')
    assert.equal(badFlag.status, 400)
    assert.equal(badFlag.body.code, 'INK_ERR_BAD_REQUEST')
  })

  test('starting a running campaign is a 409', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `slow-${i}`)
    await identify(app, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com` }])))
    await api(app, 'PUT', '/v1/campaigns/slow', {
      templateId: 'spring',
      audience: { userIds: ids },
      vars: { greeting: 'Hi' },
      ratePerSecond: 40,
    })
    assert.equal((await api(app, 'POST', '/v1/campaigns/slow/start')).status, 202)
    const second = await api(app, 'POST', '/v1/campaigns/slow/start')
    assert.equal(second.status, 409)
    assert.equal(second.body.code, 'INK_ERR_CAMPAIGN_RUNNING')
    const running = await api(app, 'GET', '/v1/campaigns/slow')
    assert.equal(running.body.state, 'running')
    const done = await waitForState(app, 'slow', ['done', 'failed'])
    assert.equal(done.progress.sent, 20)
  })

  test('a campaign to a segment reaches exactly the members the pipeline keeps', async () => {
    await identify(app, {
      vip1: { email: 'vip1@example.com', tier: 'gold' },
      vip2: { email: 'vip2@example.com', tier: 'gold' },
    })
    const seg = await api(app, 'PUT', '/v1/segments/gold', { condition: { tier: 'gold' } })
    assert.ok(seg.status < 300, JSON.stringify(seg.body))
    // The processor thread backfills the new segment over existing profiles.
    const deadline = Date.now() + 10_000
    while (!(await api(app, 'GET', '/v1/segments/gold')).body.backfilled && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
    }
    const before = smtp.received.length
    assert.equal(
      (
        await api(app, 'PUT', '/v1/campaigns/gold-news', {
          templateId: 'spring',
          audience: { segment: 'gold' },
        })
      ).status,
      201,
    )
    assert.equal((await api(app, 'POST', '/v1/campaigns/gold-news/start')).status, 202)
    const done = await waitForState(app, 'gold-news', ['done', 'failed'])
    assert.equal(done.progress.sent, 2, JSON.stringify(done))
    // The segment's member count is the run's total.
    assert.equal(done.progress.total, 2, JSON.stringify(done))
    assert.equal(done.progress.remaining, 0, JSON.stringify(done))
    const to = smtp.received
      .slice(before)
      .map((m) => m.rcptTo.join(','))
      .sort()
    assert.deepEqual(to, ['vip1@example.com', 'vip2@example.com'])
  })

  test('unknown templates and bad bodies are refused with stable codes', async () => {
    const bad = await api(app, 'PUT', '/v1/campaigns/bad', { templateId: 'spring' })
    assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
    await api(app, 'PUT', '/v1/campaigns/nothing', { templateId: 'missing', audience: { userIds: ['ann'] } })
    const start = await api(app, 'POST', '/v1/campaigns/nothing/start')
    assert.equal(start.status, 404)
    assert.equal((await api(app, 'GET', '/v1/campaigns/nothing')).body.state, 'draft')
    assert.equal((await api(app, 'GET', '/v1/campaigns/none')).status, 404)
    const noKey = await fetch(`${app.url}/v1/campaigns`)
    assert.equal(noKey.status, 401)
  })

  test('a local-time campaign: bad times and zones are refused; held recipients show in progress and the ETA', async () => {
    for (const [sendAt, problem] of [
      [
        { localTime: '2030-02-30T09:00' },
        /sendAt\.localTime: "2030-02-30T09:00" is not a local date and time/,
      ],
      [{ localTime: '2030-12-02T09:00Z' }, /sendAt\.localTime/],
      [
        { localTime: '2030-12-02T09:00', defaultTimezone: 'Mars/Olympus' },
        /unknown time zone "Mars\/Olympus"/,
      ],
    ] as const) {
      const bad = await api(app, 'PUT', '/v1/campaigns/local', {
        templateId: 'spring',
        audience: { userIds: ['ann'] },
        sendAt,
      })
      assert.equal(bad.status, 400, JSON.stringify(bad.body))
      assert.equal(bad.body.code, 'INK_ERR_BAD_REQUEST')
      assert.match(bad.body.message, problem)
    }
    await identify(app, { tz: { email: 'tz@example.com', timezone: 'Asia/Tokyo' } })
    const put = await api(app, 'PUT', '/v1/campaigns/local', {
      templateId: 'spring',
      audience: { userIds: ['ann', 'tz'] },
      sendAt: { localTime: '2099-01-01T09:00' },
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.deepEqual(put.body.sendAt, { localTime: '2099-01-01T09:00', defaultTimezone: 'UTC' })
    const mailed = () =>
      smtp.received.filter((m) => ['ann@example.com', 'tz@example.com'].includes(m.rcptTo[0] ?? '')).length
    const mailedBefore = mailed()
    assert.equal((await api(app, 'POST', '/v1/campaigns/local/start')).status, 202)
    const deadline = Date.now() + 10_000
    let got: ApiBody
    do {
      got = (await api(app, 'GET', '/v1/campaigns/local')).body
      if (got.progress.held === 2) break
      await new Promise((r) => setTimeout(r, 20))
    } while (Date.now() < deadline)
    // ann has no zone: 09:00 UTC; tz is in Tokyo: 09:00 JST is 00:00 UTC, the earlier one.
    const annAt = Date.parse('2099-01-01T09:00:00Z')
    assert.deepEqual(
      [got.state, got.progress.held, got.progress.deferred, got.progress.remaining, got.progress.heldUntil],
      ['running', 2, 2, 2, annAt],
    )
    assert.ok(got.progress.etaMs >= annAt - Date.now() - 60_000, String(got.progress.etaMs))
    const rows = (await api(app, 'GET', '/v1/campaigns/local/recipients')).body.recipients
    assert.deepEqual(
      rows.map((r: ApiBody) => [r.recipient, r.state, r.reason]),
      [
        ['ann', 'deferred', 'local_time'],
        ['tz', 'deferred', 'local_time'],
      ],
    )
    assert.equal(mailedBefore, mailed(), 'nothing is sent before the local time')
    assert.equal((await api(app, 'POST', '/v1/campaigns/local/cancel')).status, 200)
  })
})

describe('campaign input and the links in what is sent', () => {
  let smtp: TestSmtpServer
  let app: TestApp
  before(async () => {
    smtp = await startSmtpServer()
    // No publicUrl and port 0: links must name the port the server actually bound.
    app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' })
    await putTemplate(app, 'spring')
    await identify(app, { cat: { email: 'cat@example.com' } })
  })
  after(async () => {
    await app.close()
    await smtp.close()
  })

  test('the admin key is taken whatever the case of the auth scheme (RFC 7235)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await fetch(`${app.url}/v1/campaigns`, {
        headers: { authorization: `${scheme} ${app.workspace.adminKey}` },
      })
      assert.equal(res.status, 200, `${scheme}: ${await res.clone().text()}`)
      assert.ok(Array.isArray(((await res.json()) as { campaigns: unknown }).campaigns))
    }
    const basic = Buffer.from(`${app.workspace.adminKey}:`).toString('base64')
    const res = await fetch(`${app.url}/v1/campaigns`, { headers: { authorization: `basic ${basic}` } })
    assert.equal(res.status, 200)
    const wrong = await fetch(`${app.url}/v1/campaigns`, {
      headers: { authorization: 'bearer nope-nope-nope' },
    })
    assert.equal(wrong.status, 401)
    assert.equal(((await wrong.json()) as { code: string }).code, 'INK_ERR_UNAUTHORIZED')
  })

  test('a campaign "from" that is not one mailbox is refused at save with 422, naming the problem', async () => {
    for (const from of ['not an address', 'news@shop.example\r\nBcc: all@example.com', 'a@x.com, b@y.com']) {
      const res = await api(app, 'PUT', '/v1/campaigns/bad-from', {
        templateId: 'spring',
        from,
        audience: { userIds: ['cat'] },
      })
      assert.equal(res.status, 422, JSON.stringify(res.body))
      assert.equal(res.body.code, 'INK_ERR_INVALID_ADDRESS')
      assert.match(res.body.message, /from/)
    }
    assert.equal((await api(app, 'GET', '/v1/campaigns/bad-from')).status, 404)
    const ok = await api(app, 'PUT', '/v1/campaigns/good-from', {
      templateId: 'spring',
      from: '"Shop, Inc." <news@shop.example>',
      audience: { userIds: ['cat'] },
    })
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
  })

  test('a draft saved with a bad "from" before it was checked is refused at start, and stays a draft', async () => {
    // Written straight into the store, as an older version would have accepted it.
    const db = openSqlite(join(app.dataDir, DATABASE_FILE))
    const store = new SqliteCampaignStore(db)
    await store.putDraft(app.workspace.id, 'legacy', {
      name: 'legacy',
      templateId: 'spring',
      templateVersion: null,
      from: 'news@shop.example\r\nBcc: all@example.com',
      audience: { userIds: ['cat'] },
      vars: {},
      ratePerSecond: null,
    })
    await store.close()
    db.close()
    const start = await api(app, 'POST', '/v1/campaigns/legacy/start')
    assert.equal(start.status, 422, JSON.stringify(start.body))
    assert.equal(start.body.code, 'INK_ERR_INVALID_ADDRESS')
    assert.equal((await api(app, 'GET', '/v1/campaigns/legacy')).body.state, 'draft')
  })

  test('a segment audience naming no segment is refused at save and at start with 404', async () => {
    const put = await api(app, 'PUT', '/v1/campaigns/to-nobody', {
      templateId: 'spring',
      audience: { segment: 'no-such-segment' },
    })
    assert.equal(put.status, 404, JSON.stringify(put.body))
    assert.equal(put.body.code, 'INK_ERR_NOT_FOUND')
    assert.match(put.body.message, /segment "no-such-segment"/)
    // A draft whose segment was deleted after it was saved: start says so, nothing is marked.
    assert.equal(
      (await api(app, 'PUT', '/v1/segments/gone', { condition: { tier: 'x' } })).status < 300,
      true,
    )
    const saved = await api(app, 'PUT', '/v1/campaigns/to-gone', {
      templateId: 'spring',
      audience: { segment: 'gone' },
    })
    assert.equal(saved.status, 201, JSON.stringify(saved.body))
    const del = await fetch(`${app.url}/v1/segments/gone`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${app.workspace.adminKey}` },
    })
    assert.equal(del.status, 204)
    const start = await api(app, 'POST', '/v1/campaigns/to-gone/start')
    assert.equal(start.status, 404, JSON.stringify(start.body))
    assert.equal(start.body.code, 'INK_ERR_NOT_FOUND')
    assert.equal((await api(app, 'GET', '/v1/campaigns/to-gone')).body.state, 'draft')
  })

  test('profiles with internationalized addresses get mail whose To header is their address', async () => {
    await identify(app, { yamada: { email: '山田@example.com' }, zoe: { email: 'Zoë@Bücher.example' } })
    await api(app, 'PUT', '/v1/campaigns/intl', {
      templateId: 'spring',
      audience: { userIds: ['yamada', 'zoe'] },
    })
    const before = smtp.received.length
    assert.equal((await api(app, 'POST', '/v1/campaigns/intl/start')).status, 202)
    const got = (await smtp.waitForMessages(before + 2)).slice(before)
    const byRcpt = new Map(got.map((m) => [m.rcptTo[0], m]))
    const yamada = byRcpt.get('山田@example.com')
    assert.ok(yamada, JSON.stringify([...byRcpt.keys()]))
    assert.equal(header(yamada.raw, 'To'), '山田@example.com')
    assert.equal(yamada.smtpUtf8, true)
    // The profile's address as written (case kept), its domain in punycode in the header.
    const zoe = got.find((m) => m !== yamada)
    assert.equal(header(zoe?.raw ?? '', 'To'), 'Zoë@xn--bcher-kva.example')
  })

  test('with INKSTREAM_PORT=0 the links in sent mail point at the port actually bound', async () => {
    assert.notEqual(new URL(app.url).port, '0')
    assert.equal(app.publicUrl, app.url)
    await api(app, 'PUT', '/v1/campaigns/links', { templateId: 'spring', audience: { userIds: ['cat'] } })
    const before = smtp.received.length
    assert.equal((await api(app, 'POST', '/v1/campaigns/links/start')).status, 202)
    const [message] = (await smtp.waitForMessages(before + 1)).slice(before)
    const html = mimeParts(message?.raw ?? '').find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1] ?? '')
    assert.ok(links.length > 0, html)
    for (const link of links) assert.ok(link.startsWith(`${app.url}/`), `${link} is not under ${app.url}`)
    const unsubscribe = header(message?.raw ?? '', 'List-Unsubscribe') ?? ''
    assert.ok(unsubscribe.includes(`<${app.url}/`), unsubscribe)
    // The link works: the click redirects to the original URL.
    const click = await fetch(links[0] ?? '', { redirect: 'manual' })
    assert.equal(click.status, 302)
    assert.equal(click.headers.get('location'), 'https://shop.example.com/sale')
  })
})
