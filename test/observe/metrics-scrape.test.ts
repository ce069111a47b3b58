/**
 * GET /metrics of a real running app after real traffic: ingest over HTTP, a campaign and a trigger
 * sent to a real SMTP server (one recipient bounces at RCPT TO), a template rendered with a
 * connected-content call to a real HTTP source and a fallback, a preview render, the open pixel
 * (a person and an image proxy), a click and a one-click unsubscribe through the tracking routes.
 * The exposition must pass `promtool check metrics`, and the series must hold exactly what was done.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { api, identify } from '../campaigns/campaign-api.ts'
import { header, mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { promtool, promtoolMissing, sample, samples } from './prom.ts'

const BROWSER_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko)'
const GMAIL_PROXY_UA =
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'

const NEWS = {
  subject: 'News',
  html: `{% connected_content {{ source }}/recs?u={{ user_id }} :save recs %}<p>Hi {{ first_name | default: "there" }}, {{ recs.title }}</p><a href="https://shop.example/sale">Sale</a>`,
}
const PLAIN = {
  subject: 'Hi',
  html: '<p>Hi {{ user_id }}</p><a href="https://shop.example/p">P</a> <a href="{{ view_url }}">View online</a>',
}

async function waitForState(app: TestApp, id: string, states: string[]): Promise<string> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const got = await api(app, 'GET', `/v1/campaigns/${id}`)
    if (states.includes(got.body.state)) return got.body.state
    if (Date.now() > deadline) throw new Error(`campaign ${id} still ${JSON.stringify(got.body)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const htmlOf = (raw: string) => mimeParts(raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
/** The tracked links (`/c/`) or the pixel (`/p/`) of a message's HTML, in order. */
const linksIn = (html: string, path: 'p' | 'c') => {
  const urls = [...html.matchAll(new RegExp(`"(http[^"]*/${path}/[^"]+)"`, 'g'))].map((m) =>
    (m[1] ?? '').replace(/&amp;/g, '&'),
  )
  assert.ok(urls.length > 0, `a /${path}/ link in ${html}`)
  return urls
}

describe('/metrics of a running app after ingest, sends, renders, opens and clicks', {
  skip: promtoolMissing(),
}, () => {
  let smtp: TestSmtpServer
  let source: Server
  let sourceHost: string
  let app: TestApp
  const scrape = async () => (await fetch(`${app.url}/metrics`)).text()
  const track = async (userId: string, event: string) => {
    const res = await fetch(`${app.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId, event }),
    })
    assert.equal(res.status, 200, await res.text())
  }

  before(async () => {
    smtp = await startSmtpServer()
    smtp.answer('bob@example.com', 'rcpt-550')
    source = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x').searchParams.get('u')
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ title: `picks for ${u}` }))
    })
    await new Promise<void>((r) => source.listen(0, '127.0.0.1', r))
    sourceHost = `127.0.0.1:${(source.address() as AddressInfo).port}`
    const dir = tempDir()
    const contentFile = join(dir, 'content.json')
    writeFileSync(contentFile, JSON.stringify({ connectedContent: { allowHosts: [sourceHost] } }))
    app = await startTestApp({
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      from: 'news@shop.example',
      contentFile,
    })
    for (const [id, t] of [
      ['news', { ...NEWS, html: NEWS.html.replace('{{ source }}', `http://${sourceHost}`) }],
      ['plain', PLAIN],
    ] as const) {
      const put = await api(app, 'PUT', `/v1/templates/${id}`, t)
      assert.ok(put.status < 300, JSON.stringify(put.body))
    }
    await identify(app, {
      alice: { email: 'alice@example.com', firstName: 'Alice' },
      bob: { email: 'bob@example.com' },
      nomail: { firstName: 'No' },
      cara: { email: 'cara@example.com' },
      dan: { email: 'dan@example.com' },
      eve: { email: 'eve@example.com' },
    })
  })

  after(async () => {
    await app?.close()
    await smtp?.close()
    await new Promise((r) => source?.close(r))
  })

  test('campaign progress and the campaign queue are set while a campaign runs, and cleared after', async () => {
    // One message every 4 s: after the first, the campaign is half done for 4 s.
    const put = await api(app, 'PUT', '/v1/campaigns/slow', {
      templateId: 'plain',
      audience: { userIds: ['dan', 'eve'] },
      ratePerSecond: 0.25,
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/slow/start')).status, 202)
    // The first message is handled once its 250 is read (after the server has it): wait for that.
    let running = await scrape()
    while (sample(running, 'inkstream_campaign_progress_ratio', { campaign: 'slow' }) !== 0.5) {
      assert.equal(smtp.received.length <= 1, true, 'still half done when the progress is read')
      await new Promise((r) => setTimeout(r, 10))
      running = await scrape()
    }
    assert.equal(sample(running, 'inkstream_send_queue_depth', { queue: 'campaign_recipients' }), 1)
    assert.equal(await waitForState(app, 'slow', ['done', 'failed']), 'done')
    const done = await scrape()
    assert.deepEqual(samples(done, 'inkstream_campaign_progress_ratio'), {})
    assert.equal(sample(done, 'inkstream_send_queue_depth', { queue: 'campaign_recipients' }), 0)
    assert.deepEqual(samples(done, 'inkstream_delivery_outcomes_total'), {
      'id=slow,kind=sent,origin=campaign': 2,
    })
  })

  test('after a campaign, a trigger, a preview, opens, a click and an unsubscribe, every series holds exactly that', async () => {
    const put = await api(app, 'PUT', '/v1/campaigns/spring', {
      templateId: 'news',
      audience: { userIds: ['alice', 'bob', 'nomail'] },
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/spring/start')).status, 202)
    assert.equal(await waitForState(app, 'spring', ['done', 'failed']), 'done')

    assert.equal(
      (await api(app, 'PUT', '/v1/triggers/poke', { event: 'Poked', templateId: 'plain' })).status,
      200,
    )
    await track('cara', 'Poked')
    // The slow campaign's two, then alice's (bob's bounced at RCPT TO) and cara's.
    const messages = await smtp.waitForMessages(4)
    const to = (address: string) => {
      const m = messages.find((x) => x.rcptTo[0] === address)
      assert.ok(m, `a message to ${address}`)
      return m.raw
    }
    // The trigger job is settled after the message is accepted: wait for the outcome, not for time.
    const deadline = Date.now() + 10_000
    while (sample(await scrape(), 'inkstream_trigger_job_delay_seconds_count') !== 1) {
      assert.ok(Date.now() < deadline, 'the trigger job delay was never observed')
      await new Promise((r) => setTimeout(r, 20))
    }

    const preview = await api(app, 'POST', '/v1/templates/news/preview', { userId: 'alice' })
    assert.equal(preview.status, 200, JSON.stringify(preview.body))
    assert.match(preview.body.html, /picks for alice/)

    const alice = htmlOf(to('alice@example.com'))
    const [pixel = ''] = linksIn(alice, 'p')
    for (const ua of [BROWSER_UA, GMAIL_PROXY_UA]) {
      const res = await fetch(pixel, { headers: { 'user-agent': ua } })
      assert.equal(res.headers.get('content-type'), 'image/gif')
    }
    const click = await fetch(linksIn(alice, 'c')[0] ?? '', { redirect: 'manual' })
    assert.equal(click.headers.get('location'), 'https://shop.example/sale')
    // cara opens the trigger's message in the browser: a click, then an open-time open of the web view.
    const view = await fetch(linksIn(htmlOf(to('cara@example.com')), 'c')[1] ?? '', { redirect: 'manual' })
    const viewUrl = view.headers.get('location') ?? ''
    assert.match(viewUrl, /\/o\//)
    const page = await fetch(viewUrl, { headers: { 'user-agent': BROWSER_UA } })
    assert.equal(page.status, 200, await page.text())
    const unsubscribe = /<(http[^>]*\/u\/[^>]+)>/.exec(
      header(to('cara@example.com'), 'List-Unsubscribe') ?? '',
    )?.[1]
    assert.ok(unsubscribe, 'a List-Unsubscribe URL')
    const unsub = await fetch(unsubscribe, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    assert.equal(unsub.status, 200)
    // The open-time open is recorded off the request path: wait for it.
    const openDeadline = Date.now() + 10_000
    while (
      sample(await scrape(), 'inkstream_email_opens_total', { origin: 'trigger', machine: 'false' }) !== 1
    ) {
      assert.ok(Date.now() < openDeadline, 'the open-time open was never counted')
      await new Promise((r) => setTimeout(r, 20))
    }
    await waitForProcessed(app)

    const text = await scrape()
    const check = promtool(['check', 'metrics'], text)
    assert.deepEqual(check, { status: 0, output: '' }, 'promtool check metrics reports no problem')

    assert.deepEqual(samples(text, 'inkstream_delivery_outcomes_total'), {
      'id=slow,kind=sent,origin=campaign': 2,
      'id=spring,kind=sent,origin=campaign': 1,
      'id=spring,kind=bounced,origin=campaign': 1,
      'id=spring,kind=skipped,origin=campaign': 1,
      'id=poke,kind=sent,origin=trigger': 1,
    })
    assert.equal(sample(text, 'inkstream_transport_send_duration_seconds_count', { outcome: 'sent' }), 4)
    assert.equal(sample(text, 'inkstream_transport_send_duration_seconds_count', { outcome: 'permanent' }), 1)
    assert.equal(sample(text, 'inkstream_trigger_job_delay_seconds_count'), 1)
    assert.deepEqual(samples(text, 'inkstream_send_queue_depth'), {
      'queue=trigger_jobs': 0,
      'queue=campaign_recipients': 0,
    })

    assert.deepEqual(samples(text, 'inkstream_email_opens_total'), {
      'machine=false,origin=campaign': 1,
      'machine=true,origin=campaign': 1,
      'machine=false,origin=trigger': 1,
    })
    assert.deepEqual(samples(text, 'inkstream_email_clicks_total'), {
      'origin=campaign': 1,
      'origin=trigger': 1,
    })
    assert.deepEqual(samples(text, 'inkstream_email_unsubscribes_total'), { 'origin=trigger': 1 })

    // alice and bob in the campaign (nomail is skipped before rendering), alice again in the preview.
    assert.deepEqual(samples(text, 'inkstream_connected_content_calls_total'), {
      [`outcome=success,source=${sourceHost}`]: 3,
    })
    assert.equal(
      sample(text, 'inkstream_connected_content_duration_seconds_count', { source: sourceHost }),
      3,
    )
    assert.equal(
      sample(text, 'inkstream_cache_requests_total', { layer: 'connected_content', result: 'miss' }),
      2,
    )
    assert.equal(
      sample(text, 'inkstream_cache_requests_total', { layer: 'connected_content', result: 'hit' }),
      1,
    )
    // bob has no first_name: one fallback; alice has one.
    assert.deepEqual(samples(text, 'inkstream_fallbacks_total'), {
      'placeholder=first_name,reason=missing,template=news': 1,
    })
    // Each recipient's address is read, then each message rendered, through the profile cache: slow
    // 2 + 2, spring 3 + 2 (nomail has no address), the trigger 1 + 1, the preview 1, the web view 1. Which hit
    // depends on the 5 s TTL and on invalidations by the processor; their sum does not.
    const reads = samples(text, 'inkstream_cache_requests_total')
    const profileReads = ['hit', 'miss', 'stale'].reduce(
      (a, r) => a + (reads[`layer=profile,result=${r}`] ?? 0),
      0,
    )
    assert.equal(profileReads, 13, JSON.stringify(reads))
    assert.deepEqual(
      Object.keys(reads).filter((k) => k.startsWith('layer=profile,') && !/result=(hit|miss)$/.test(k)),
      [],
    )

    assert.equal(sample(text, 'inkstream_log_consumer_lag', { group: 'profiles' }), 0)
    const batches = sample(text, 'inkstream_processor_batch_size_count') ?? 0
    assert.ok(batches > 0, 'batches were observed')
    assert.equal(sample(text, 'inkstream_processor_commit_duration_seconds_count'), batches)
    const processed =
      (sample(text, 'inkstream_pipeline_events_total', { outcome: 'applied' }) ?? 0) +
      (sample(text, 'inkstream_pipeline_events_total', { outcome: 'duplicate' }) ?? 0)
    assert.equal(sample(text, 'inkstream_processor_batch_size_sum'), processed)
  })
})
