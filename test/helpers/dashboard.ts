/**
 * The dashboard's browser tests (issue 13): a signed-in page in headless Chromium that records
 * every console error, page error, failed request and 4xx/5xx answer, CSP violations (the
 * `securitypolicyviolation` event), an axe-core run, and a screenshot of each page (reports/screenshots/,
 * or docs/screenshots/ with INKSTREAM_SCREENSHOTS=1: `npm run screenshots`).
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { TestApp } from './app.ts'

export interface DashboardPage {
  page: Page
  /** Console errors, page errors, failed requests and 4xx/5xx answers (as "STATUS METHOD path"). */
  problems: string[]
  /** CSP violations the page saw: "directive blocked-uri". */
  cspViolations: string[]
  /** Navigates to `#/<route>` and waits until the page's heading is shown and the network is idle. */
  go(route: string): Promise<void>
}

export interface OpenOptions {
  /** Sign in through the form (default); false leaves the page at the sign-in form. */
  signIn?: boolean
  /** Answers the page may get without it being a problem, e.g. "404 GET /v1/profiles/nobody". */
  allow?: (line: string) => boolean
}

/** Opens the dashboard of `app` in a fresh context (closed after the test), signed in with the admin key. */
export async function openDashboard(
  browser: Browser,
  t: TestContext,
  app: TestApp,
  opts: OpenOptions = {},
): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.after(() => context.close())
  const page = await context.newPage()
  const problems: string[] = []
  const cspViolations: string[] = []
  const allow = opts.allow ?? (() => false)
  const note = (line: string) => {
    if (!allow(line)) problems.push(line)
  }
  page.on('console', (m) => {
    if (m.type() === 'error') note(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => note(`pageerror: ${e.message}`))
  page.on('requestfailed', (r) => {
    // An EventSource or fetch the page aborts on navigation is not a failure of the page.
    if (r.failure()?.errorText === 'net::ERR_ABORTED') return
    note(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 400) note(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`)
  })
  await page.exposeFunction('__inkCsp', (v: string) => cspViolations.push(v))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      ;(window as unknown as { __inkCsp: (v: string) => void }).__inkCsp(
        `${e.violatedDirective} ${e.blockedURI}`,
      )
    })
  })
  await page.goto(`${app.url}/`)
  if (opts.signIn ?? true) {
    await page.getByLabel('Admin key').fill(app.workspace.adminKey)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('navigation', { name: 'Main' }).waitFor()
  }
  return {
    page,
    problems,
    cspViolations,
    async go(route: string) {
      await page.goto(`${app.url}/#/${route}`)
      await page.locator('#page-title').waitFor()
      await page.waitForLoadState('networkidle')
    },
  }
}

const require = createRequire(import.meta.url)

/** axe-core run in the page: the serious and critical violations, as "id: help (n nodes)". */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
  // Evaluated through the DevTools protocol: an inline <script> would be refused by the page's CSP.
  await page.evaluate(source)
  const result = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document) => Promise<unknown> } }).axe
    return axe.run(document)
  })) as { violations: { id: string; impact: string | null; help: string; nodes: unknown[] }[] }
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes)`)
}

const ROOT = join(import.meta.dirname, '..', '..')

/**
 * Where the screenshots go: docs/screenshots/ (the README's) with INKSTREAM_SCREENSHOTS=1
 * (`npm run screenshots`), else reports/screenshots/ (git-ignored): every test run saves them.
 */
export const screenshotDir = (): string =>
  process.env.INKSTREAM_SCREENSHOTS === '1'
    ? join(ROOT, 'docs', 'screenshots')
    : join(ROOT, 'reports', 'screenshots')

/** Saves <screenshotDir>/<name>.png of the page as it is. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = screenshotDir()
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false })
}
