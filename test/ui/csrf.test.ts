/**
 * CSRF in a real browser (issue 13): a signed-in user visits another page that posts a form to the
 * admin API. From another port on the same host (same site: Chromium sends the SameSite=Strict
 * cookie) the post has no x-csrf-token and is refused with 403 INK_ERR_CSRF; from another site
 * (`localhost` vs `127.0.0.1`) the cookie is not even sent (401). Either way the campaign the form
 * tries to cancel stays a draft.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { chromiumMissing, launchChromium, type PageServer, startPageServer } from '../helpers/browser.ts'
import { openDashboard } from '../helpers/dashboard.ts'

const admin = (app: TestApp) => ({
  authorization: `Bearer ${app.workspace.adminKey}`,
  'content-type': 'application/json',
})

async function campaignState(app: TestApp, id: string): Promise<string> {
  const res = await fetch(`${app.url}/v1/campaigns/${id}`, { headers: admin(app) })
  return ((await res.json()) as { state: string }).state
}

describe('dashboard CSRF: a form post from another page is refused', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let browser: Browser
  let attacker: PageServer
  before(async () => {
    app = await startTestApp()
    browser = await launchChromium()
    await putTemplate(app, 'spring')
    const put = await fetch(`${app.url}/v1/campaigns/spring-sale`, {
      method: 'PUT',
      headers: admin(app),
      body: JSON.stringify({ templateId: 'spring', audience: { userIds: ['ann'] } }),
    })
    assert.equal(put.status, 201, await put.text())
    // The attacker's page: a form that cancels the campaign, posted when the test clicks it.
    attacker = await startPageServer((path) =>
      path === '/attack'
        ? {
            type: 'text/html',
            body: `<!doctype html><title>Win a prize</title>
<form method="post" action="${app.url}/v1/campaigns/spring-sale/cancel">
<input type="hidden" name="reason" value="forged"><button>Claim</button></form>`,
          }
        : undefined,
    )
  })
  after(async () => {
    await attacker?.close()
    await browser?.close()
    await app?.close()
  })

  for (const where of ['same-site', 'cross-site'] as const) {
    test(`${where}: the post is refused and the campaign is still a draft`, async (t) => {
      const d = await openDashboard(browser, t, app)
      // The session works: the dashboard itself can read the campaign.
      await d.go('campaigns')
      const port = new URL(attacker.url).port
      const origin = where === 'same-site' ? attacker.url : `http://localhost:${port}`
      await d.page.goto(`${origin}/attack`)
      const [answer] = await Promise.all([
        d.page.waitForResponse((r) => r.url().endsWith('/v1/campaigns/spring-sale/cancel')),
        d.page.getByRole('button', { name: 'Claim' }).click(),
      ])
      const body = (await answer.json()) as { code: string }
      if (where === 'same-site') {
        // The cookie went along (same site), but the form cannot send the token.
        assert.equal(answer.status(), 403)
        assert.equal(body.code, 'INK_ERR_CSRF')
      } else {
        // SameSite=Strict: no cookie on a cross-site post, so no session at all.
        assert.equal(answer.status(), 401)
        assert.equal(body.code, 'INK_ERR_UNAUTHORIZED')
      }
      assert.equal(await campaignState(app, 'spring-sale'), 'draft')
    })
  }
})
