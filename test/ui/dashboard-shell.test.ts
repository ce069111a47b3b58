/**
 * The dashboard's shell in a real browser (issue 13): sign-in with the admin key sets an HttpOnly,
 * SameSite=Strict session cookie; every page loads with no console error, no failed request and no
 * CSP violation; the admin API accepts the cookie only with the CSRF token on a state change.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { composeEmbedded } from '../../src/compose/root.ts'
import { loadConfig } from '../../src/config.ts'
import { CONTENT_SECURITY_POLICY } from '../../src/ui/ui-routes.ts'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'
import { axeViolations, openDashboard } from '../helpers/dashboard.ts'

const PAGES = ['overview', 'templates', 'profiles', 'segments', 'campaigns', 'alerts']

describe('dashboard shell', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let browser: Browser
  before(async () => {
    app = await startTestApp()
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await app?.close()
  })

  test('the shell is served with a strict CSP and no inline script', async () => {
    const res = await fetch(`${app.url}/`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY)
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/)
    const html = await res.text()
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    assert.equal(scripts.length, 1)
    assert.match(scripts[0]?.[1] ?? '', /src="\/ui\/assets\/main-[A-Z0-9]+\.js"/)
    assert.equal(scripts[0]?.[2], '')
  })

  test('signing in sets an HttpOnly SameSite=Strict cookie; a wrong key is refused', async () => {
    const wrong = await fetch(`${app.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ adminKey: 'nope' }),
    })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.headers.get('set-cookie'), null)
    const ok = await fetch(`${app.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ adminKey: app.workspace.adminKey }),
    })
    assert.equal(ok.status, 200)
    const cookie = ok.headers.get('set-cookie') ?? ''
    assert.match(cookie, /^ink_session=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/)
    const body = (await ok.json()) as { workspace: string; csrfToken: string }
    assert.equal(body.workspace, app.workspace.id)
    const session = cookie.split(';')[0] ?? ''

    // The cookie authenticates a read of the admin API …
    const read = await fetch(`${app.url}/v1/templates`, { headers: { cookie: session } })
    assert.equal(read.status, 200)
    // … but a change needs the CSRF token, and a cross-site one is refused even with it.
    const change = (headers: Record<string, string>) =>
      fetch(`${app.url}/v1/segments/nobody`, { method: 'DELETE', headers: { cookie: session, ...headers } })
    const noToken = await change({})
    assert.equal(noToken.status, 403)
    assert.equal(((await noToken.json()) as { code: string }).code, 'INK_ERR_CSRF')
    const wrongToken = await change({ 'x-csrf-token': `${body.csrfToken}x` })
    assert.equal(((await wrongToken.json()) as { code: string }).code, 'INK_ERR_CSRF')
    const crossSite = await change({ 'x-csrf-token': body.csrfToken, 'sec-fetch-site': 'cross-site' })
    assert.equal(((await crossSite.json()) as { code: string }).code, 'INK_ERR_CSRF')
    const withToken = await change({ 'x-csrf-token': body.csrfToken })
    assert.equal(withToken.status, 404) // authenticated and allowed: the segment just does not exist

    // A forged cookie (another signature) is not a session.
    const forged = `${session.slice(0, -3)}AAA`
    const bad = await fetch(`${app.url}/v1/templates`, { headers: { cookie: forged } })
    assert.equal(bad.status, 401)
  })

  test('the start banner names the dashboard, where the api role runs', async () => {
    const dataDir = tempDir('inkstream-banner-')
    const composed = await composeEmbedded(loadConfig({}, { port: 0, logLevel: 'silent', dataDir }), {
      processor: false,
    })
    try {
      const lines = composed.banner('http://127.0.0.1:8080')
      assert.ok(
        lines.includes('  dashboard: http://127.0.0.1:8080/ (sign in with the admin key)'),
        lines.join('\n'),
      )
    } finally {
      await composed.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  test('behind a TLS proxy (an https INKSTREAM_PUBLIC_URL) the session cookie is Secure', async () => {
    const behindTls = await startTestApp({ publicUrl: 'https://mail.shop.example' })
    try {
      const res = await fetch(`${behindTls.url}/ui/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ adminKey: behindTls.workspace.adminKey }),
      })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('set-cookie') ?? '', /; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/)
    } finally {
      await behindTls.close()
    }
  })

  test('every page loads signed in, with no console error, failed request or CSP violation', async (t) => {
    const d = await openDashboard(browser, t, app)
    for (const p of PAGES) {
      await d.go(p)
      assert.equal(await d.page.locator(`nav a[aria-current="page"]`).getAttribute('href'), `#/${p}`)
      assert.deepEqual(await axeViolations(d.page), [], `axe on ${p}`)
    }
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })
})
