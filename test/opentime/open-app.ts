/** An embedded test app with a clock the open-time tests move (block-cache TTL, token expiry, stale profiles). */
import { rmSync } from 'node:fs'
import { createApp } from '../../src/app.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import { type TestApp, tempDir } from '../helpers/app.ts'

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
