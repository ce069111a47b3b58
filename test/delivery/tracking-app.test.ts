import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { trackMessage, unsubscribeUrl } from '../../src/delivery/tracking.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'

describe('tracking in the running app', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: 'ann', traits: { email: 'Ann@Example.com' } }),
    })
    assert.equal(res.statusCode, 200)
    await waitForProcessed(app)
  })
  after(() => app.close())

  const opts = () => ({
    baseUrl: app.publicUrl,
    codec: app.codec,
    ttlMs: 86_400_000,
    workspaceId: app.workspace.id,
    campaignId: 'spring',
    recipient: 'ann',
    messageId: 'msg-1',
  })

  test('a click on a tracked link redirects to the original URL and lands in the profile', async () => {
    const { html } = trackMessage('<a href="https://shop.example/lamp?x=1&amp;y=2">Lamp</a>', opts())
    const path = new URL(/href="([^"]+)"/.exec(html)![1]!).pathname
    const res = await app.server.inject({ method: 'GET', url: path })
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, 'https://shop.example/lamp?x=1&y=2')
    await waitForProcessed(app)
    const profile = (
      await app.server.inject({
        method: 'GET',
        url: '/v1/profiles/ann',
        headers: { authorization: `Bearer ${app.workspace.adminKey}` },
      })
    ).json()
    assert.equal(profile.traits.email_clicks_30d, 1)
    assert.deepEqual(profile.traits.last_email_clicked, {
      campaign_id: 'spring',
      link_url: 'https://shop.example/lamp?x=1&y=2',
    })
  })

  test('one-click unsubscribe finds the address on the profile and suppresses it at once', async () => {
    const url = new URL(unsubscribeUrl(opts()))
    const res = await app.server.inject({
      method: 'POST',
      url: url.pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers.location, undefined)
    assert.equal(await app.suppressions.isSuppressed(app.workspace.id, 'ann@example.com'), true)
  })
})
