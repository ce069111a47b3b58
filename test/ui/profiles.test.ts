/**
 * The profiles page in a real browser (issue 13): events ingested over HTTP with the write key and
 * folded by the processor; a campaign sent to the file transport and a click on its link; then the
 * page finds the profile by userId, anonymousId and email and shows its exact traits, identities,
 * event timeline, segment membership and message. Script placed in a trait, an event property and a
 * user agent shows as text and never runs; no console error, failed request or CSP violation; axe clean.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { api } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { mimeParts } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp, type TestApp, waitForProcessed } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'
import { axeViolations, openDashboard, screenshot } from '../helpers/dashboard.ts'

const IMG = '<img src=x onerror="window.__xss=1">'
const SCRIPT = '<script>window.__xss=1</script>'
const T = (s: number) => new Date(Date.UTC(2026, 10, 20, 9, 0, s)).toISOString()

async function ingest(app: TestApp, batch: object[]): Promise<void> {
  const res = await fetch(`${app.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  })
  assert.equal(res.status, 200, await res.text())
  await waitForProcessed(app)
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The rows of the table in `section` as arrays of cell texts (th and td). */
const tableRows = (page: Page, section: string) =>
  page
    .locator(`${section} tbody tr`)
    .evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll('th, td')).map((c) => (c.textContent ?? '').trim())),
    )

describe('profiles page', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let browser: Browser
  before(async () => {
    app = await startTestApp({ from: 'Shop <news@shop.example>' })
    browser = await launchChromium()
    assert.equal(
      (await api(app, 'PUT', '/v1/segments/pro', { name: 'Pro plan', condition: { plan: 'pro' } })).status,
      200,
    )
    assert.equal(
      (await api(app, 'PUT', '/v1/segments/free', { name: 'Free plan', condition: { plan: 'free' } })).status,
      200,
    )
    await ingest(app, [
      {
        type: 'page',
        anonymousId: 'anon-ann',
        name: 'Home',
        properties: { path: '/' },
        context: { userAgent: `Mozilla/5.0 ${IMG}` },
        timestamp: T(1),
        messageId: 'ev-1',
      },
      {
        type: 'identify',
        userId: 'ann',
        anonymousId: 'anon-ann',
        traits: { email: 'Ann@Example.com', plan: 'pro', bio: IMG, prefs: { tags: ['a', SCRIPT] }, age: 41 },
        timestamp: T(2),
        messageId: 'ev-2',
      },
      {
        type: 'track',
        userId: 'ann',
        event: 'Product Viewed',
        properties: { sku: 'p9', name: SCRIPT },
        timestamp: T(3),
        messageId: 'ev-3',
      },
      {
        type: 'identify',
        userId: 'bob',
        traits: { email: 'bob@example.com', plan: 'free' },
        messageId: 'ev-4',
      },
    ])
    // One message through a campaign to the file transport (<dataDir>/outbox), and a click on its link.
    await putTemplate(app, 'spring')
    const put = await api(app, 'PUT', '/v1/campaigns/spring', {
      templateId: 'spring',
      audience: { userIds: ['ann'] },
      vars: { greeting: 'Hi' },
    })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal((await api(app, 'POST', '/v1/campaigns/spring/start')).status, 202)
    const outbox = join(app.dataDir, 'outbox')
    const eml = await until('the message in the outbox', async () => {
      const files = (() => {
        try {
          return readdirSync(outbox).filter((f) => f.endsWith('.eml'))
        } catch {
          return []
        }
      })()
      return files[0] && readFileSync(join(outbox, files[0]), 'utf8')
    })
    const html = mimeParts(eml).find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
    const link = (/<a href="([^"]+)"/.exec(html)?.[1] ?? '').replaceAll('&amp;', '&')
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\//)
    const click = await fetch(link, { redirect: 'manual' })
    assert.equal(click.status, 302)
    await until('the click counted on the message', async () => {
      const res = await api(app, 'GET', '/v1/profiles/ann/messages')
      return res.body.messages?.[0]?.clicks === 1 && res.body.messages[0].outcome === 'sent'
        ? true
        : undefined
    })
    await waitForProcessed(app)
  })
  after(async () => {
    await browser?.close()
    await app?.close()
  })

  test('finds a profile by userId, anonymousId and email, and shows its traits, events, segments and messages as text', async (t) => {
    const d = await openDashboard(browser, t, app)
    const { page } = d
    await d.go('profiles')
    const search = async (q: string) => {
      await page.getByLabel('userId, anonymousId or email').fill(q)
      await page.getByRole('button', { name: 'Find' }).click()
      await page.locator('.pf-title').waitFor()
      await page.waitForLoadState('networkidle')
    }

    await search('ann')
    assert.equal(await page.locator('.pf-title').textContent(), 'ann')
    const profileId = (await api(app, 'GET', '/v1/profiles/ann')).body.profileId as string

    // Traits: every one, as text (strings as they are, the rest as JSON).
    const traits = Object.fromEntries((await tableRows(page, '.pf-traits')).map(([k, v]) => [k, v]))
    assert.equal(traits.email, 'Ann@Example.com')
    assert.equal(traits.plan, 'pro')
    assert.equal(traits.bio, IMG)
    assert.equal(traits.age, '41')
    assert.equal(traits.prefs, JSON.stringify({ tags: ['a', SCRIPT] }, null, 2))
    const stored = (await api(app, 'GET', '/v1/profiles/ann')).body.traits as Record<string, unknown>
    assert.deepEqual(Object.keys(traits), Object.keys(stored).sort())

    // Identities.
    const ids = await page
      .locator('.pf-ids')
      .evaluate((dl) =>
        Array.from(dl.querySelectorAll('dt')).map((dt) => [
          dt.textContent,
          dt.nextElementSibling?.textContent,
        ]),
      )
    assert.deepEqual(ids.slice(0, 3), [
      ['Profile id', profileId],
      ['userId', 'ann'],
      ['anonymousId', 'anon-ann'],
    ])

    // The timeline, newest first: the campaign's outcome and click events, then what the test sent.
    const events = await page.locator('.pf-event').evaluateAll((items) =>
      items.map((li) => ({
        time: li.querySelector('time')?.getAttribute('datetime'),
        type: li.querySelector('.pf-event-type')?.textContent,
        name: li.querySelector('.pf-event-name')?.textContent ?? null,
        data: li.querySelector('.pf-event-data')?.textContent ?? null,
      })),
    )
    assert.deepEqual(
      events.map((e) => e.name),
      ['Email Link Clicked', 'Email Sent', 'Product Viewed', null, 'Home'],
    )
    assert.deepEqual(events.slice(2), [
      {
        time: T(3),
        type: 'track',
        name: 'Product Viewed',
        data: JSON.stringify(
          { properties: { sku: 'p9', name: SCRIPT }, context: { ip: '127.0.0.1' } },
          null,
          2,
        ),
      },
      {
        time: T(2),
        type: 'identify',
        name: null,
        data: JSON.stringify(
          {
            traits: {
              email: 'Ann@Example.com',
              plan: 'pro',
              bio: IMG,
              prefs: { tags: ['a', SCRIPT] },
              age: 41,
            },
            context: { ip: '127.0.0.1' },
          },
          null,
          2,
        ),
      },
      {
        time: T(1),
        type: 'page',
        name: 'Home',
        data: JSON.stringify(
          { properties: { path: '/' }, context: { userAgent: `Mozilla/5.0 ${IMG}`, ip: '127.0.0.1' } },
          null,
          2,
        ),
      },
    ])

    // Segments: in "Pro plan", not in "Free plan".
    const segments = await page.locator('.pf-memberships li a').allTextContents()
    assert.deepEqual(segments, ['Pro plan'])

    // The campaign's message: sent, one click, and so one open (the click is the open its pixel missed).
    assert.deepEqual(
      (await tableRows(page, '.pf-messages')).map((r) => [r[0], r[1], r[3], r[4], r[5]]),
      [['spring v1', 'campaign spring', 'sent', '1', '1']],
    )
    assert.ok(await page.locator('.pf-messages tbody time').getAttribute('datetime'))

    // The same profile by anonymousId and by email (another case).
    for (const q of ['anon-ann', 'ann@EXAMPLE.com']) {
      await d.go('profiles')
      await search(q)
      assert.equal(await page.locator('.pf-title').textContent(), 'ann', q)
      assert.equal(await page.locator('.pf-ids dd').first().textContent(), profileId, q)
    }
    // Nothing found is said so.
    await d.go('profiles')
    await page.getByLabel('userId, anonymousId or email').fill('nobody@example.com')
    await page.getByRole('button', { name: 'Find' }).click()
    await page.locator('.pf-none').waitFor()

    // The payloads were shown, never run.
    await d.go(`profiles/${encodeURIComponent(profileId)}`)
    await page.locator('.pf-event').first().waitFor()
    await page.waitForLoadState('networkidle')
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined)
    assert.equal(await page.locator('img[src="x"]').count(), 0)
    assert.equal(await page.locator('main script').count(), 0)
    assert.deepEqual(await axeViolations(page), [])
    await screenshot(page, 'profiles')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('the Privacy card downloads the export and erases the profile once its id is typed again', async (t) => {
    const profileId = (await api(app, 'GET', '/v1/profiles/bob')).body.profileId as string
    const d = await openDashboard(browser, t, app)
    const { page } = d
    await d.go(`profiles/${encodeURIComponent(profileId)}`)
    await page.locator('.pf-privacy').waitFor()

    // The export, as a named JSON file: the same document the API gives.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download export (JSON)' }).click(),
    ])
    assert.equal(download.suggestedFilename(), `inkstream-profile-${profileId}.json`)
    const exported = JSON.parse(readFileSync((await download.path()) as string, 'utf8'))
    const viaApi = (await api(app, 'GET', '/v1/profiles/bob/export')).body
    assert.deepEqual(
      [
        exported.profile.profileId,
        exported.profile.userId,
        exported.identities,
        exported.profile.traits.email,
      ],
      [profileId, 'bob', { userIds: ['bob'], anonymousIds: [] }, 'bob@example.com'],
    )
    assert.deepEqual({ ...exported, exportedAt: null }, { ...viaApi, exportedAt: null })

    // Erasing asks for the profile id again; until it is typed exactly, nothing can be sent.
    await page.getByRole('button', { name: 'Erase this profile…' }).click()
    const erase = page.getByRole('button', { name: 'Erase permanently' })
    assert.equal(await erase.isDisabled(), true)
    await page.getByLabel(/Type the profile id/).fill(`${profileId} `)
    assert.equal(await erase.isDisabled(), true)
    assert.deepEqual(await axeViolations(page), [])
    await screenshot(page, 'profiles-erase')
    // Keeping it closes the form; the profile is still there.
    await page.getByRole('button', { name: 'Keep it' }).click()
    assert.equal(await erase.count(), 0)
    assert.equal((await api(app, 'GET', '/v1/profiles/bob')).status, 200)

    await page.getByRole('button', { name: 'Erase this profile…' }).click()
    await page.getByLabel(/Type the profile id/).fill(profileId)
    await erase.click()
    await page.locator('.pf-erased').waitFor()
    const notice = (await page.locator('.pf-erased').textContent()) ?? ''
    assert.match(notice, new RegExp(`Profile ${profileId} was erased`))

    // Gone from the API; audited as the dashboard's, after the export it also audited.
    assert.equal((await api(app, 'GET', '/v1/profiles/bob')).status, 404)
    const audit = (await api(app, 'GET', '/v1/audit?limit=5')).body.entries as {
      action: string
      profileId: string
      actor: string
      details: Record<string, unknown>
    }[]
    const mine = audit.filter((e) => e.profileId === profileId)
    // Newest first: the erasure, the test's own export over the API (an admin key), the download.
    assert.deepEqual(
      mine.map((e) => [e.action, e.actor.replace(/^admin-key:[0-9a-f]{12}$/, 'admin-key')]),
      [
        ['erase', 'dashboard'],
        ['export', 'admin-key'],
        ['export', 'dashboard'],
      ],
    )
    assert.equal(mine[0]?.details.log, 'erased')
    assert.match(notice, new RegExp(`audit entry ${(audit[0] as { id?: number }).id ?? ''}`))
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })
})
