/** An embedded test app with a clock the open-time tests move (block-cache TTL, token expiry, stale profiles). */
import { rmSync } from 'node:fs'
import { createApp } from '../../src/app.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import type { Cache } from '../../src/content/cache/cache.ts'
import { MemoryCache } from '../../src/content/cache/memory-cache.ts'
import type { InkEvent } from '../../src/core/types.ts'
import { createMetrics } from '../../src/observe/metrics.ts'
import { BlockCache } from '../../src/opentime/block-cache.ts'
import { OpenTimeService } from '../../src/opentime/open-time-service.ts'
import { openImages } from '../../src/opentime/rasterize.ts'
import { ProfileReader } from '../../src/profiles/profile-reader.ts'
import { type TestApp, tempDir } from '../helpers/app.ts'

// The services buildOpenService makes draw in this thread (openImages, no drawing pool), and
// satori, resvg and the fonts load with the first drawing (rasterize.ts): load them once here, so
// a test's first open is not a cold drawing racing its deadline on a slow machine.
await openImages.fallbackPng('warm', { width: 10, height: 10 })

/** Real time plus `offset`, or `frozen` while it is set. */
export interface TestClock {
  now(): number
  offset: number
  frozen: number | undefined
}

export function testClock(): TestClock {
  const c: TestClock = {
    offset: 0,
    frozen: undefined,
    now: () => c.frozen ?? Date.now() + c.offset,
  }
  return c
}

export async function startOpenTimeApp(overrides: ConfigInput, clock: TestClock): Promise<TestApp> {
  const dataDir = tempDir()
  const config = loadConfig({}, { port: 0, logLevel: 'silent', ...overrides, dataDir })
  const app = await createApp(config, { clock })
  const url = await app.listen()
  // Renders go to the workers once one is ready; tests that assert answers inside the deadline start there.
  await app.renders.whenReady()
  const close = app.close
  return Object.assign(app, {
    dataDir,
    url,
    close: async () => {
      await close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  })
}

/**
 * Fetches `url` (an open-time image) until it is drawn for real rather than answered with a fallback:
 * the first drawings of a process load the fonts (and start the drawing thread), and on a busy
 * machine they can miss the deadline — answered, correctly, with the fallback. Tests that assert
 * the real image start warm.
 */
export async function warmDrawing(url: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    const res = await fetch(url)
    await res.arrayBuffer()
    if (res.status === 200 && res.headers.get('x-ink-fallbacks') === '0') return
    if (Date.now() > end) throw new Error(`${url} still answers fallbacks after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface BuiltOpenService {
  service: OpenTimeService
  events: InkEvent[]
  hooked: InkEvent[]
  cache: Cache
  /** `layer:result` of every block-cache lookup. */
  results: string[]
}

export interface OpenServiceOptions {
  /** The block cache's store (default: in memory). */
  cache?: Cache
  renderBlockPng?: (typeof openImages)['renderBlockPng']
  deadlineMs: number
  append?: (events: readonly InkEvent[]) => Promise<void>
  opened?: (e: InkEvent) => Promise<void>
  /** Where the block cache's `layer:result` lookups are recorded (default: a new array). */
  results?: string[]
  /** The service's clock (default: Date.now); a fixed one keeps requests in one dedupe window. */
  now?: () => number
}

/**
 * An OpenTimeService over a test app's templates, codec and profile store, with the block cache's
 * lookups recorded, the events and hook calls collected (or `append`/`opened` instead), and the
 * drawing replaced when `renderBlockPng` is given.
 */
export function buildOpenService(app: TestApp, over: OpenServiceOptions): BuiltOpenService {
  const events: InkEvent[] = []
  const hooked: InkEvent[] = []
  const cache = over.cache ?? new MemoryCache()
  const results = over.results ?? []
  const service = new OpenTimeService({
    codec: app.codec,
    renders: app.renders,
    profiles: new ProfileReader({
      store: app.store,
      traits: [],
      cache: new MemoryCache(),
      clock: { now: Date.now },
    }),
    blockCache: new BlockCache(
      cache,
      () => 30_000,
      (layer, result) => results.push(`${layer}:${result}`),
    ),
    content: () => ({
      openTime: { deadlineMs: over.deadlineMs, cacheTtlSeconds: 30, ampSenders: [] },
      fallbacks: {},
    }),
    publicUrl: () => 'https://ink.example',
    log: {
      append:
        over.append ??
        (async (e) => {
          events.push(...e)
        }),
    },
    openHooks: {
      opened:
        over.opened ??
        (async (e) => {
          hooked.push(e)
        }),
    },
    metrics: createMetrics({ defaultMetrics: false }),
    clock: { now: over.now ?? Date.now },
    images: { ...openImages, ...(over.renderBlockPng ? { renderBlockPng: over.renderBlockPng } : {}) },
  })
  return { service, events, hooked, cache, results }
}
