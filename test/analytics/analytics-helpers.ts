/** Helpers of the analytics tests: an app on a clock the test moves, and waiting for the consumer. */
import assert from 'node:assert/strict'
import { ANALYTICS_GROUP } from '../../src/analytics/analytics-store.ts'
import { type App, createApp } from '../../src/app.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import { type TestApp, tempDir } from '../helpers/app.ts'

/** Real time plus an offset the test sets (to move past the machine-open and conversion windows). */
export class MovableClock {
  offset = 0
  now = () => Date.now() + this.offset
  /** Moves the clock to `minutes` past the start of a 5-minute bucket at least `atLeastMs` ahead. */
  jumpToBucket(atLeastMs: number, minutes = 1): number {
    const target = Math.ceil((this.now() + atLeastMs) / 300_000) * 300_000 + minutes * 60_000
    this.offset += target - this.now()
    return target
  }
}

/** An embedded app (SQLite) on `dataDir` with `clock`, listening on a random port. */
export async function startClockedApp(
  clock: MovableClock,
  overrides: ConfigInput & { dataDir?: string } = {},
): Promise<TestApp> {
  const dataDir = overrides.dataDir ?? tempDir('inkstream-analytics-')
  const config = loadConfig({}, { port: 0, logLevel: 'silent', ...overrides, dataDir })
  const app = await createApp(config, { clock })
  const url = await app.listen()
  return Object.assign(app, { dataDir, url })
}

/** Resolves once the analytics consumer has committed everything in the log. */
export async function waitForAnalytics(app: App, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await app.log.lag(ANALYTICS_GROUP)) > 0) {
    if (Date.now() > deadline)
      throw new Error(`analytics still ${await app.log.lag(ANALYTICS_GROUP)} events behind`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Polls `read` until `ok` holds (or fails with the last value). */
export async function waitFor<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await read()
    if (ok(v)) return v
    if (Date.now() > deadline) assert.fail(`condition not met: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
