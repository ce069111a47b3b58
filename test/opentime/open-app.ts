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
