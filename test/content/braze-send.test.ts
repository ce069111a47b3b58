// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Braze's ${attribute} syntax is what these strings test
/**
 * A template pasted from Braze saves, previews and sends: through the HTTP API, a campaign to a
 * real SMTP server, and a behavioural trigger. A recipient the template aborts for gets nothing;
 * the ledger (campaigns) or the job (triggers) says `skipped` with the template's reason.
 */
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { triggerJobId } from '../../src/triggers/trigger-jobs.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { buildCampaignPieces, type CampaignPieces, PUBLIC_URL } from '../campaigns/campaign-fixture.ts'
import { mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

/** Written the way Braze's docs write it: standard and custom attributes, a filter, an abort. */
const BRAZE_TEMPLATE = {
  subject: "{{${first_name} | default: 'Hello'}}, your {{custom_attribute.${membership_tier}}} perks",
  html: `<html><body>
{% if \${language} == 'en' %}
<p>Hi {{\${first_name}}}, as a {{custom_attribute.\${membership_tier}}} member you have {{custom_attribute.\${points} | number_with_delimiter}} points.</p>
<p>{{event_properties.\${product_name} | default: 'Our picks'}} · {{campaign.\${name} | default: 'News'}}</p>
<p>Ref {{\${user_id} | md5}}</p>
{% else %}
{% abort_message('language was nil') %}
{% endif %}
</body></html>`,
}

let app: TestApp
let smtp: TestSmtpServer
let pieces: CampaignPieces
const html = (raw: string) => mimeParts(raw).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''

before(async () => {
  smtp = await startSmtpServer()
  app = await startTestApp({
    publicUrl: PUBLIC_URL,
    smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
    from: 'Shop <news@shop.example>',
  })
  pieces = buildCampaignPieces({ app, smtpPort: smtp.port, ledgerFile: join(app.dataDir, 'ledger.db') })
  await identify(app, {
    ada: {
      email: 'ada@example.com',
      firstName: 'Ada',
      language: 'en',
      membership_tier: 'gold',
      points: 12500,
    },
    bruno: { email: 'bruno@example.com', firstName: 'Bruno', membership_tier: 'silver' },
  })
})

after(async () => {
  await pieces.close()
  await app.close()
  await smtp.close()
})

describe('a Braze template', () => {
  test('saves (it used to be refused) and previews with our data', async () => {
    const lint = await api(app, 'POST', '/v1/lint', BRAZE_TEMPLATE)
    assert.deepEqual(
      lint.body.problems.filter((p: { level: string }) => p.level === 'error'),
      [],
    )
    const put = await api(app, 'PUT', '/v1/templates/braze-perks', BRAZE_TEMPLATE)
    assert.equal(put.status, 201, JSON.stringify(put.body))
    const preview = await api(app, 'POST', '/v1/templates/braze-perks/preview', {
      userId: 'ada',
      campaign: { name: 'Spring sale' },
      event: { properties: { product_name: 'Trail shoes' } },
    })
    assert.equal(preview.status, 200, JSON.stringify(preview.body))
    assert.equal(preview.body.subject, 'Ada, your gold perks')
    assert.match(preview.body.html, /Hi Ada, as a gold member you have 12,500 points\./)
    assert.match(preview.body.html, /Trail shoes · Spring sale/)
    assert.match(preview.body.html, new RegExp(`Ref ${createHash('md5').update('ada').digest('hex')}`))
  })

  test('a preview for a recipient the template aborts for says skipped, with the reason', async () => {
    const preview = await api(app, 'POST', '/v1/templates/braze-perks/preview', { userId: 'bruno' })
    assert.equal(preview.status, 200, JSON.stringify(preview.body))
    assert.deepEqual(preview.body.skipped, { type: 'abort_message', reason: 'language was nil' })
    assert.equal(preview.body.html, undefined)
    // Counted as a skipped render, not a failed one.
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    assert.match(metrics, /inkstream_render_duration_seconds_count\{mode="pre-send",outcome="skipped"\} 1\b/)
    assert.doesNotMatch(metrics, /outcome="failed"/)
  })

  test('a campaign sends to Ada over SMTP and skips Bruno, whose ledger row gives the abort reason', async () => {
    const summary = await pieces.runner.run(app.workspace.id, {
      id: 'braze-spring',
      templateId: 'braze-perks',
      from: 'Shop <news@shop.example>',
      audience: [
        { userId: 'ada', email: 'ada@example.com' },
        { userId: 'bruno', email: 'bruno@example.com' },
      ],
      vars: { name: 'Spring sale' },
    })
    assert.deepEqual(summary, {
      sent: 1,
      failed: 0,
      suppressed: 0,
      skipped: 1,
      unknown: 0,
      deferred: 0,
      remaining: 0,
    })
    const toAda = smtp.received.filter((m) => m.rcptTo.includes('ada@example.com'))
    assert.equal(toAda.length, 1)
    assert.match(html(toAda[0]!.raw), /Hi Ada, as a gold member you have 12,500 points\./)
    assert.match(html(toAda[0]!.raw), /Our picks · Spring sale/)
    assert.equal(smtp.received.filter((m) => m.rcptTo.includes('bruno@example.com')).length, 0)
    const row = await pieces.ledger.get({
      workspaceId: app.workspace.id,
      campaignId: 'braze-spring',
      recipient: 'bruno',
    })
    assert.equal(row?.state, 'skipped')
    assert.equal(row?.detail, 'abort_message: language was nil')
  })

  test('a trigger job for a recipient the template aborts for ends skipped, not failed', async () => {
    const put = await api(app, 'PUT', '/v1/triggers/braze-viewed', {
      event: 'Product Viewed',
      templateId: 'braze-perks',
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    const ids = { ada: randomUUID(), bruno: randomUUID() }
    // Counted before the events go in: the processor and dispatcher run in this process and may
    // deliver before the batch's answer is read.
    const before = smtp.received.length
    const res = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: Object.entries(ids).map(([userId, messageId]) => ({
          type: 'track',
          userId,
          messageId,
          event: 'Product Viewed',
          properties: { product_name: 'Red Kettle' },
        })),
      }),
    })
    assert.equal(res.status, 200)
    await smtp.waitForMessages(before + 1, 5_000)
    await waitForProcessed(app)
    await app.triggerDispatcher?.idle()
    const job = (user: keyof typeof ids) =>
      app.triggers.getJob(app.workspace.id, triggerJobId(app.workspace.id, 'braze-viewed', ids[user]))
    // Polls until both jobs are final (the dispatcher runs them one after the other).
    const final = async (user: keyof typeof ids) =>
      !['pending', 'sending'].includes((await job(user))?.state ?? 'pending')
    for (let i = 0; i < 300 && !((await final('ada')) && (await final('bruno'))); i++)
      await new Promise((r) => setTimeout(r, 10))
    assert.equal((await job('ada'))?.state, 'sent')
    const bruno = await job('bruno')
    assert.equal(bruno?.state, 'skipped')
    assert.equal(bruno?.detail, 'abort_message: language was nil')
    const last = smtp.received.slice(before)
    assert.deepEqual(
      last.map((m) => m.rcptTo),
      [['ada@example.com']],
    )
    assert.match(html(last[0]!.raw), /Red Kettle/)
  })
})
