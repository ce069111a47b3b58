/**
 * The templates page in a real browser (issue 13): the list, versions with a diff, the editor's
 * inline lint, the live preview of the draft for a real user, fallbacks firing under injected
 * source faults, scripts in a template's name and body that never run, and save → a new version.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { basicAuth, startTestApp, type TestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import { chromiumMissing, launchChromium } from '../helpers/browser.ts'
import { axeViolations, openDashboard, screenshot } from '../helpers/dashboard.ts'

const XSS_NAME = '<img src=x onerror="window.__xss=1">'
const XSS_BODY = '<p>Hello</p><script>window.__xss=1</script>'

const WELCOME_V1 = ['<h1>Welcome {{ first_name | default: "there" }}</h1>', '<p>Old line</p>', '<p>Bye</p>']
const WELCOME_V2 = ['<h1>Welcome {{ first_name | default: "there" }}</h1>', '<p>New line</p>', '<p>Bye</p>']

describe('templates page', { skip: chromiumMissing() }, () => {
  let app: TestApp
  let browser: Browser
  let source: http.Server
  let sourceHost: string

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const json = (await res.json()) as Record<string, unknown>
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }

  before(async () => {
    // The connected-content source the "picks" template calls.
    source = http.createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ title: 'Desk lamp picks' }))
    })
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve))
    sourceHost = `127.0.0.1:${(source.address() as AddressInfo).port}`
    const contentFile = join(tempDir(), 'content.json')
    writeFileSync(contentFile, JSON.stringify({ connectedContent: { allowHosts: [sourceHost] } }))
    app = await startTestApp({ contentFile })
    browser = await launchChromium()

    const ingest = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [{ type: 'identify', userId: 'ann', traits: { firstName: 'Ann', email: 'ann@example.com' } }],
      }),
    })
    assert.equal(ingest.status, 200)
    await waitForProcessed(app)

    await api('PUT', '/v1/templates/welcome', {
      name: 'Welcome email',
      subject: 'Hi {{ first_name | default: "there" }}',
      html: WELCOME_V1.join('\n'),
    })
    await api('PUT', '/v1/templates/welcome', {
      name: 'Welcome email',
      subject: 'Hi {{ first_name | default: "there" }}',
      html: WELCOME_V2.join('\n'),
    })
    await api('PUT', '/v1/templates/picks', {
      name: 'Weekly picks',
      subject: 'Picks for {{ first_name | default: "you" }}',
      html: `{% connected_content http://${sourceHost}/recs :save recs :timeout 300 %}<p>{{ recs.title | default: "Our bestsellers" }}</p>`,
    })
    await api('PUT', '/v1/templates/xss', { name: XSS_NAME, subject: 'Hello', html: XSS_BODY })
  })

  after(async () => {
    await browser?.close()
    await app?.close()
    source?.closeAllConnections()
    await new Promise((r) => source?.close(r))
  })

  const xssFlag = (page: Page) => page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)
  const fallbackRows = (page: Page) =>
    page
      .locator('.tpl-fallbacks tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent ?? '').join(' | ')),
      )

  test('the list shows every template by its exact name; a name with markup is text', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates')
    const names = await d.page.locator('.tpl-list tbody tr td:first-child').allTextContents()
    assert.deepEqual(names.sort(), ['Weekly picks', 'Welcome email', XSS_NAME].sort())
    assert.equal(await d.page.locator('.tpl-list img').count(), 0)
    assert.equal(await xssFlag(d.page), undefined)
    assert.deepEqual(await axeViolations(d.page), [])
    await screenshot(d.page, 'templates')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('versions are listed and the diff between v1 and v2 shows exactly the changed lines', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates/welcome')
    await d.page.locator('.tpl-diff').waitFor()
    assert.deepEqual(await d.page.locator('.tpl-versions tbody td:first-child').allTextContents(), ['2', '1'])
    assert.equal(await d.page.getByLabel('From version').inputValue(), '1')
    assert.equal(await d.page.getByLabel('To version').inputValue(), '2')
    assert.deepEqual(await d.page.locator('.tpl-diff .diff-del').allTextContents(), ['-<p>Old line</p>'])
    assert.deepEqual(await d.page.locator('.tpl-diff .diff-add').allTextContents(), ['+<p>New line</p>'])
    // An older version can be put back in the editor (and saved again as the latest).
    await d.page.getByRole('button', { name: 'Load v1 into the editor' }).click()
    const editor = d.page.getByRole('textbox', { name: 'Template body' })
    await editor.filter({ hasText: 'Old line' }).waitFor()
    assert.deepEqual(await d.page.locator('.cm-line').allTextContents(), WELCOME_V1)
    // The same version on both sides: nothing changed.
    await d.page.getByLabel('From version').selectOption('2')
    await d.page.getByText('v2 and v2 have the same content.').waitFor()
    assert.deepEqual(d.problems, [])
  })

  test('a Liquid error typed in the editor is shown inline, on its line, with the lint message', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates/welcome')
    const editor = d.page.getByRole('textbox', { name: 'Template body' })
    await editor.click()
    await d.page.keyboard.press('Control+End')
    await d.page.keyboard.insertText('\n{% nosuchtag %}')
    const range = d.page.locator('.cm-lintRange-error')
    await range.waitFor()
    assert.equal(await range.textContent(), '{% nosuchtag %}')
    // The gutter marker is on line 4 (the line typed), and its tooltip says what is wrong.
    await d.page.locator('.cm-lint-marker-error').hover()
    const tooltip = d.page.locator('.cm-tooltip-lint .cm-diagnostic-error')
    await tooltip.waitFor()
    assert.match((await tooltip.textContent()) ?? '', /tag "nosuchtag" not found/)
    await d.page.getByText('Fix the 1 error(s) to see the preview.').waitFor()
    assert.ok(await d.page.getByRole('button', { name: 'Save as a new version' }).isDisabled())
    assert.deepEqual(await axeViolations(d.page), [])
    // Nothing was sent for a draft that cannot render (no 422 in the problems).
    assert.deepEqual(d.problems, [])
  })

  test('the preview renders the draft for a real user: subject and text from their traits', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates/welcome')
    await d.page.getByLabel('User id or email').fill('ann')
    await d.page.locator('#preview-subject', { hasText: 'Hi Ann' }).waitFor()
    assert.equal(await d.page.locator('#preview-subject').textContent(), 'Hi Ann')
    const text = (await d.page.locator('#preview-text').textContent()) ?? ''
    assert.match(text, /Welcome Ann/)
    assert.match(text, /New line/)
    const frame = d.page.frameLocator('iframe[title="Rendered email"]')
    assert.equal(await frame.locator('h1').textContent(), 'Welcome Ann')
    // The unsaved draft is what is previewed.
    await d.page.getByLabel('Subject', { exact: true }).fill('Hey {{ first_name | default: "there" }}!')
    await d.page.locator('#preview-subject', { hasText: 'Hey Ann!' }).waitFor()
    assert.equal(await d.page.getByText('No fallback fired.').count(), 1)
    // A user picked by email (another case): looked up through GET /v1/profiles?email=.
    await d.page.getByLabel('User id or email').fill('')
    await d.page.locator('#preview-subject', { hasText: 'Hey there!' }).waitFor()
    await d.page.getByLabel('User id or email').fill('ANN@example.com')
    await d.page.locator('#preview-subject', { hasText: 'Hey Ann!' }).waitFor()
    assert.deepEqual(await axeViolations(d.page), [])
    await screenshot(d.page, 'template-editor')
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('failing or delaying the source in the preview shows the fallback that fired and why', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates/picks')
    await d.page.getByLabel('User id or email').fill('ann')
    await d.page.locator('#preview-subject', { hasText: 'Picks for Ann' }).waitFor()
    const frame = d.page.frameLocator('iframe[title="Rendered email"]')
    assert.equal(await frame.locator('p').textContent(), 'Desk lamp picks')
    assert.equal(await d.page.locator('.tpl-fallbacks').count(), 0)

    await d.page.getByLabel('Fail source recs').check()
    await frame.locator('p', { hasText: 'Our bestsellers' }).waitFor()
    assert.deepEqual(await fallbackRows(d.page), [
      'recs.title | error | default-filter | Our bestsellers | html',
      'recs.title | error | default-filter | Our bestsellers | text',
    ])
    assert.match((await d.page.locator('.tpl-sources tbody').textContent()) ?? '', /injected failure/)
    assert.deepEqual(await axeViolations(d.page), [])

    await d.page.getByLabel('Fail source recs').uncheck()
    await frame.locator('p', { hasText: 'Desk lamp picks' }).waitFor()
    await d.page.getByLabel('Delay source recs (ms)').fill('5000')
    await frame.locator('p', { hasText: 'Our bestsellers' }).waitFor()
    assert.deepEqual(await fallbackRows(d.page), [
      'recs.title | timeout | default-filter | Our bestsellers | html',
      'recs.title | timeout | default-filter | Our bestsellers | text',
    ])
    assert.deepEqual(d.problems, [])
  })

  test('a script in the template body does not run in the preview: the iframe is sandboxed', async (t) => {
    const blocked = (line: string) => /Blocked script execution in 'about:srcdoc'/.test(line)
    const d = await openDashboard(browser, t, app, { allow: blocked })
    await d.go('templates/xss')
    await d.page.locator('#page-title', { hasText: XSS_NAME }).waitFor()
    const iframe = d.page.locator('iframe[title="Rendered email"]')
    await iframe.waitFor()
    assert.equal(await iframe.getAttribute('sandbox'), '')
    const frame = d.page.frameLocator('iframe[title="Rendered email"]')
    await frame.locator('p', { hasText: 'Hello' }).waitFor()
    // The script is in the email (the preview shows what would be sent) but it never ran.
    assert.equal(await frame.locator('script').count(), 1)
    assert.equal(await xssFlag(d.page), undefined)
    const child = d.page.frames().find((f) => f !== d.page.mainFrame())
    assert.ok(child)
    assert.equal(await child.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined)
    assert.equal(await d.page.locator('.page img').count(), 0)
    assert.deepEqual(d.problems, [])
    assert.deepEqual(d.cspViolations, [])
  })

  test('a new template starts from a working draft, previews before it is saved, and saves as v1', async (t) => {
    const d = await openDashboard(browser, t, app)
    await d.go('templates')
    await d.page.getByLabel('New template id').fill('fresh-one')
    await d.page.getByRole('button', { name: 'New template' }).click()
    await d.page.locator('#page-title', { hasText: 'Template fresh-one' }).waitFor()
    await d.page.locator('#preview-subject', { hasText: 'Hello there' }).waitFor()
    await d.page.getByRole('button', { name: 'Save as a new version' }).click()
    await d.page.getByText('Saved version 1.').waitFor()
    await d.page.waitForURL(/#\/templates\/fresh-one$/)
    await d.page.locator('.tpl-versions tbody tr').first().waitFor()
    assert.equal(
      await d.page.getByLabel('Subject', { exact: true }).inputValue(),
      'Hello {{ first_name | default: "there" }}',
    )
    const saved = await api('GET', '/v1/templates/fresh-one')
    assert.equal(saved.version, 1)
    assert.equal(saved.subject, 'Hello {{ first_name | default: "there" }}')
    assert.deepEqual(d.problems, [])
  })

  test('a template that does not exist says so on the page', async (t) => {
    // The 404 is the answer the page reads (Chromium logs every 4xx as a console error too).
    const expected = [
      '404 GET /v1/templates/nobody',
      'console: Failed to load resource: the server responded with a status of 404 (Not Found)',
    ]
    const d = await openDashboard(browser, t, app, { allow: (l) => expected.includes(l) })
    await d.go('templates/nobody')
    await d.page.getByRole('alert').waitFor()
    assert.equal(
      await d.page.getByRole('alert').textContent(),
      'INK_ERR_NOT_FOUND: template "nobody" was not found',
    )
    assert.deepEqual(d.problems, [])
  })

  test('save creates version N+1 and the versions list and diff follow', async (t) => {
    const before = ((await api('GET', '/v1/templates/welcome/versions')).versions as unknown[]).length
    const d = await openDashboard(browser, t, app)
    await d.go('templates/welcome')
    await d.page.getByLabel('Subject', { exact: true }).fill('Saved from the dashboard')
    const save = d.page.getByRole('button', { name: 'Save as a new version' })
    await d.page.waitForFunction(() => {
      const b = Array.from(document.querySelectorAll('button')).find(
        (x) => x.textContent === 'Save as a new version',
      )
      return b !== undefined && !b.disabled
    })
    await save.click()
    await d.page.getByText(`Saved version ${before + 1}.`).waitFor()
    await d.page.locator('.tpl-versions tbody tr').nth(before).waitFor()
    assert.equal(
      await d.page.locator('.tpl-versions tbody td:first-child').first().textContent(),
      String(before + 1),
    )
    const latest = await api('GET', '/v1/templates/welcome')
    assert.equal(latest.version, before + 1)
    assert.equal(latest.subject, 'Saved from the dashboard')
    await d.page.locator('.tpl-diff .diff-add', { hasText: 'Saved from the dashboard' }).waitFor()
    assert.deepEqual(await d.page.locator('.tpl-diff .diff-add').allTextContents(), [
      '+subject: Saved from the dashboard',
    ])
    assert.deepEqual(d.problems, [])
  })
})
