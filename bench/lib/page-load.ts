/**
 * Page-load timing in Chromium with the Performance API, measured inside the page (bench/dashboard.ts;
 * tested in test/bench/page-load.test.ts).
 *
 * For one full load of a URL (from about:blank, so a hash route is a real navigation, not a
 * same-document one) it reports the navigation timing of the document (responseEnd,
 * domContentLoadedEventEnd, loadEventEnd) and `readyMs`: when the page shows its data, as
 * `performance.now()` in the page:
 * - the `ink:ready` performance mark, if the page code sets one (`performance.mark('ink:ready')`);
 * - else the later of the frame in which `#page-title` appeared and the first frame after the last
 *   response of the load arrived (the data's render), once the network was idle (no request for
 *   500 ms). A page that reads a stream (EventSource: its response never ends) is read once its
 *   first event reached a listener (added with addEventListener; `onmessage` is not seen), which
 *   then counts as the last response; or when `idleTimeoutMs` runs out.
 * Also the bytes of the document and every resource (encodedBodySize: cached ones count too).
 */
import type { BrowserContext, Page } from 'playwright-core'

/** Recorded in every document of the context before its own scripts run (a string: no bundler helpers). */
const TIMER_SCRIPT = `(() => {
  const t = { titleAt: undefined, frames: [] };
  window.__inkTimer = t;
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const now = performance.now();
      if (t.frames.length < 5000) t.frames.push(now);
      if (t.titleAt === undefined && document.getElementById('page-title')) t.titleAt = now;
    });
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  // A stream (EventSource) never ends: its first event delivered to the page counts as data arriving.
  const ES = window.EventSource;
  if (ES) {
    t.streams = 0;
    window.EventSource = class extends ES {
      constructor(...args) {
        super(...args);
        t.streams++;
      }
    };
    const wrapped = new WeakMap();
    const add = ES.prototype.addEventListener;
    const remove = ES.prototype.removeEventListener;
    ES.prototype.addEventListener = function (type, fn, opts) {
      if (typeof fn !== 'function') return add.call(this, type, fn, opts);
      let w = wrapped.get(fn);
      if (!w) {
        w = function (e) {
          if (t.firstStreamAt === undefined) t.firstStreamAt = performance.now();
          return fn.call(this, e);
        };
        wrapped.set(fn, w);
      }
      return add.call(this, type, w, opts);
    };
    ES.prototype.removeEventListener = function (type, fn, opts) {
      return remove.call(this, type, (typeof fn === 'function' && wrapped.get(fn)) || fn, opts);
    };
  }
})()`

/** True once every stream the page opened has delivered an event (or none was opened). */
const STREAM_SETTLED =
  '!window.__inkTimer || !window.__inkTimer.streams || window.__inkTimer.firstStreamAt !== undefined'

/** Read in the page once it is idle. */
const READ_SCRIPT = `(() => {
  const t = window.__inkTimer || { titleAt: undefined, frames: [] };
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const lastResponseEnd = Math.max(nav ? nav.responseEnd : 0, ...resources.map((r) => r.responseEnd));
  const dataAt = Math.max(lastResponseEnd, t.firstStreamAt === undefined ? 0 : t.firstStreamAt);
  const dataFrame = t.frames.find((f) => f >= dataAt);
  const mark = performance.getEntriesByName('ink:ready', 'mark')[0];
  const bytes = (nav ? nav.encodedBodySize : 0) + resources.reduce((s, r) => s + r.encodedBodySize, 0);
  return {
    url: nav ? nav.name : null,
    responseEnd: nav ? nav.responseEnd : null,
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
    loadEventEnd: nav ? nav.loadEventEnd : null,
    titleAt: t.titleAt === undefined ? null : t.titleAt,
    lastResponseEnd,
    firstStreamAt: t.firstStreamAt === undefined ? null : t.firstStreamAt,
    dataFrame: dataFrame === undefined ? null : dataFrame,
    mark: mark ? mark.startTime : null,
    resources: resources.length,
    bytes,
  };
})()`

export interface PageLoad {
  /** The document's URL, as its navigation entry names it. */
  url: string
  /** Navigation timing of the document, ms from the navigation's start. */
  responseEnd: number
  domContentLoaded: number
  loadEventEnd: number
  /** When the page showed its data (see the file header), ms from the navigation's start. */
  readyMs: number
  /** How readyMs was decided. */
  readyBy: 'mark' | 'title-and-data'
  titleAt: number | null
  lastResponseEnd: number
  /** When the first event of an EventSource reached the page's listener, if any. */
  firstStreamAt: number | null
  /** Whether the network went idle before idleTimeoutMs. */
  idle: boolean
  resources: number
  bytes: number
}

/** Makes every page of `context` record the timing `measureLoad` reads. Call once per context. */
export async function installPageTimer(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: TIMER_SCRIPT })
}

/** One full load of `url` in `page` (see the file header); throws when `#page-title` never shows. */
export async function measureLoad(
  page: Page,
  url: string,
  opts: { titleTimeoutMs?: number; idleTimeoutMs?: number } = {},
): Promise<PageLoad> {
  await page.goto('about:blank')
  await page.goto(url, { waitUntil: 'load' })
  await page.locator('#page-title').waitFor({ state: 'visible', timeout: opts.titleTimeoutMs ?? 15_000 })
  const idle = await page
    .waitForLoadState('networkidle', { timeout: opts.idleTimeoutMs ?? 5_000 })
    .then(() => true)
    .catch(() => false)
  // The network may be idle with a stream open and its first event still to come: wait for it.
  await page
    .waitForFunction(STREAM_SETTLED, null, { timeout: opts.idleTimeoutMs ?? 5_000 })
    .catch(() => undefined)
  const r = (await page.evaluate(READ_SCRIPT)) as {
    url: string | null
    responseEnd: number | null
    domContentLoaded: number | null
    loadEventEnd: number | null
    titleAt: number | null
    lastResponseEnd: number
    firstStreamAt: number | null
    dataFrame: number | null
    mark: number | null
    resources: number
    bytes: number
  }
  if (r.responseEnd === null || r.domContentLoaded === null || r.loadEventEnd === null)
    throw new Error(`no navigation timing for ${url}`)
  if (r.titleAt === null && r.mark === null) throw new Error(`the timer saw no #page-title on ${url}`)
  const readyMs = r.mark ?? Math.max(r.titleAt ?? 0, r.dataFrame ?? r.lastResponseEnd, r.lastResponseEnd)
  return {
    url: r.url ?? '',
    responseEnd: r.responseEnd,
    domContentLoaded: r.domContentLoaded,
    loadEventEnd: r.loadEventEnd,
    readyMs,
    readyBy: r.mark === null ? 'title-and-data' : 'mark',
    titleAt: r.titleAt,
    lastResponseEnd: r.lastResponseEnd,
    firstStreamAt: r.firstStreamAt,
    idle,
    resources: r.resources,
    bytes: r.bytes,
  }
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!
}
