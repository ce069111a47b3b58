/** Test helpers: an app on a temporary data dir, and waiting for the processor to catch up. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type App, createApp } from '../../src/app.ts'
import { type ConfigInput, loadConfig } from '../../src/config.ts'
import { PROFILES_GROUP } from '../../src/pipeline/processor.ts'

export interface TestApp extends App {
  dataDir: string
  /** Base URL once `listen()` was called with port 0. */
  url: string
}

export function tempDir(prefix = 'inkstream-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** An app with its own temporary SQLite file, listening on a random loopback port. */
export async function startTestApp(overrides: ConfigInput = {}): Promise<TestApp> {
  const dataDir = overrides.dataDir ?? tempDir()
  const config = loadConfig({}, { port: 0, logLevel: 'silent', ...overrides, dataDir })
  const app = await createApp(config)
  const url = await app.listen()
  const close = app.close
  return Object.assign(app, {
    dataDir,
    url,
    close: async () => {
      await close()
      if (overrides.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  })
}

/** Resolves once the processor has committed everything in the log (or rejects after timeoutMs). */
export async function waitForProcessed(app: App, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await app.log.lag(PROFILES_GROUP)) > 0) {
    if (Date.now() > deadline)
      throw new Error(`processor still ${await app.log.lag(PROFILES_GROUP)} events behind`)
    await new Promise((r) => setTimeout(r, 10))
  }
  // The processor thread reports a batch (metrics, due jobs) by message before it stores its log
  // position, but this thread may read a lag of 0 before it has handled that message: one turn of
  // the event loop delivers it (a delivery test read its duplicate counter a batch early in CI).
  await new Promise((r) => setImmediate(r))
}

export const basicAuth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`
