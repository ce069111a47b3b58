/**
 * Headless Chromium for the browser tests: the launch, a page server on its own origin (so every
 * post to the collector is cross-origin), and a bounded wait for a profile the page's events build.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import type { TestContext } from 'node:test'
import { type Browser, chromium, type Page, type Response } from 'playwright-core'
import { type TestApp, waitForProcessed } from './app.ts'
import { missingService } from './services.ts'

export const CHROMIUM = '/usr/bin/chromium'

/** The skip reason for a describe that needs Chromium (a failure under INKSTREAM_REQUIRE_SERVICES=1). */
export const chromiumMissing = () =>
  missingService('chromium', existsSync(CHROMIUM), 'apt-get install chromium')

/** Chromium headless, with nothing of its own on the network (updates, sync, QUIC probes). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

export interface PageServer {
  url: string
  close: () => Promise<void>
}

/** What the page server answers for a path; undefined is a 404. */
export type PageRoute = (path: string) => { type: string; body: string | Buffer } | undefined

/** JavaScript files under `/<name>/…` from `roots[name]`, never from outside it; undefined elsewhere. */
export const scriptFiles =
  (roots: Record<string, string>): PageRoute =>
  (path) => {
    const [, dir, ...rest] = path.split('/')
    const root = dir === undefined ? undefined : roots[dir]
    if (root === undefined) return undefined
    const file = normalize(join(root, ...rest))
    if (!file.startsWith(root) || !existsSync(file)) return undefined
    return { type: 'text/javascript', body: readFileSync(file) }
  }

/**
 * The shop's own origin on 127.0.0.1 (another port than the app). /favicon.ico gets a 204, so no
 * page logs a failed favicon load as a console error.
 */
export async function startPageServer(route: PageRoute): Promise<PageServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://shop').pathname
    if (path === '/favicon.ico') return void res.writeHead(204).end()
    const answer = route(path)
    if (answer === undefined) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': answer.type }).end(answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** What every profile answer has; a test may name more fields. */
export interface Profile {
  traits: Record<string, unknown>
}

/** GET /v1/profiles/:id through the admin API, over the socket. */
export async function getProfile<P extends Profile = Profile>(
  app: TestApp,
  id: string,
): Promise<{ status: number; body: P }> {
  const res = await fetch(`${app.url}/v1/profiles/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${app.workspace.adminKey}` },
  })
  return { status: res.status, body: (await res.json()) as P }
}

/**
 * Polls, every 50 ms up to `timeoutMs`, until the profile exists and `ready` holds for it (events
 * sent by beacon or during unload give the test no answer to wait for); then waits for the
 * processor to be idle and returns the profile as it then is.
 */
export async function profileOnceProcessed<P extends Profile = Profile>(
  app: TestApp,
  id: string,
  ready: (profile: P) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<P> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { status, body } = await getProfile<P>(app, id)
    if (status === 200 && ready(body)) break
    if (Date.now() > deadline)
      throw new Error(`profile ${id} not ready after ${timeoutMs} ms: ${status} ${JSON.stringify(body)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  await waitForProcessed(app)
  return (await getProfile<P>(app, id)).body
}

/**
 * Opens `site.url + path` in a fresh context, closed after the test. Requests to any host but the
 * site and the app are listed in `foreign` (there is no network: they fail anyway); page errors and
 * console errors (how the analytics libraries report a refused post) in `errors`; the app's answers
 * in `answers` as "METHOD path status". No request interception: with a route set, Playwright
 * answers CORS preflights itself, and the collector's own CORS must be what the browser sees.
 */
export async function openPage(
  browser: Browser,
  t: TestContext,
  where: { site: PageServer; app: TestApp; path: string },
) {
  const { site, app, path } = where
  const context = await browser.newContext()
  t.after(() => context.close())
  const foreign: string[] = []
  context.on('request', (req) => {
    const url = req.url()
    if (!url.startsWith(`${site.url}/`) && !url.startsWith(`${app.url}/`)) foreign.push(url)
  })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${msg.text()} (${msg.location().url})`)
  })
  const answers: string[] = []
  page.on('response', (res) => {
    const url = new URL(res.url())
    if (`${url.origin}` === app.url) answers.push(`${res.request().method()} ${url.pathname} ${res.status()}`)
  })
  await page.goto(`${site.url}${path}`)
  return { page, foreign, errors, answers }
}

/** Resolves once `n` answers from `appUrl` matched (preflights aside; each one readable: CORS). */
export function appAnswers(
  page: Page,
  appUrl: string,
  n: number,
  match: (r: Response) => boolean,
): Promise<Response[]> {
  const seen: Response[] = []
  return new Promise((resolve) => {
    page.on('response', (res) => {
      if (!res.url().startsWith(`${appUrl}/`) || res.request().method() === 'OPTIONS' || !match(res)) return
      seen.push(res)
      if (seen.length === n) resolve(seen)
    })
  })
}
