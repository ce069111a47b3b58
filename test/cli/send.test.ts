import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import { cliArgs } from '../../scripts/dist.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { startSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, tempDir } from '../helpers/app.ts'
import { closedPort } from '../helpers/ports.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname

async function cli(args: string[], env: Record<string, string>): Promise<{ stderr: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_TEST')),
  )
  try {
    const { stderr } = await run(process.execPath, cliArgs(...args), {
      cwd: ROOT,
      env: { ...clean, ...env },
    })
    return { stderr, code: 0 }
  } catch (err) {
    const e = err as { stderr: string; code: number }
    return { stderr: e.stderr, code: e.code }
  }
}

describe('inkstream send', () => {
  test('starts a campaign on the running server, shows its progress and exits 0 when done', async () => {
    const smtp = await startSmtpServer()
    const app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' })
    try {
      await putTemplate(app, 'spring')
      await identify(app, { ann: { email: 'ann@example.com' }, bob: { email: 'bob@example.com' } })
      await api(app, 'PUT', '/v1/campaigns/cli', {
        templateId: 'spring',
        audience: { userIds: ['ann', 'bob', 'nobody'] },
        vars: { greeting: 'Hi' },
      })
      const env = {
        INKSTREAM_DATA_DIR: app.dataDir,
        INKSTREAM_HOST: '127.0.0.1',
        INKSTREAM_PORT: new URL(app.url).port,
      }
      const out = await cli(['send', 'cli', '--interval', '50'], env)
      assert.equal(out.code, 0, out.stderr)
      assert.match(out.stderr, /cli done \[#+\] {2}3\/3 {2}sent 2 {2}failed 0 {2}remaining 0 {2}skipped 1/)
      assert.equal(smtp.received.length, 2)

      // Again: resumes, sends nothing more, still exit 0.
      const again = await cli(['send', 'cli', '--interval', '50'], env)
      assert.equal(again.code, 0, again.stderr)
      assert.equal(smtp.received.length, 2)

      // A campaign that cannot start: the code and message, exit 1.
      const missing = await cli(['send', 'nope'], env)
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /INK_ERR_NOT_FOUND: campaign "nope" was not found/)
    } finally {
      await app.close()
      await smtp.close()
    }
  })
})

describe('inkstream send talks to the server it is pointed at', () => {
  test('--url and INKSTREAM_URL reach the server, whatever INKSTREAM_PORT and INKSTREAM_DATA_DIR say', async () => {
    const smtp = await startSmtpServer()
    const app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' })
    const elsewhere = tempDir('inkstream-cli-')
    try {
      await putTemplate(app, 'spring')
      await identify(app, { ann: { email: 'ann@example.com' } })
      await api(app, 'PUT', '/v1/campaigns/by-url', { templateId: 'spring', audience: { userIds: ['ann'] } })
      await api(app, 'PUT', '/v1/campaigns/by-env', { templateId: 'spring', audience: { userIds: ['ann'] } })
      // The port and data folder point elsewhere (no server, no database there): only the URL is right.
      const env = {
        INKSTREAM_DATA_DIR: elsewhere,
        INKSTREAM_PORT: String(await closedPort()),
        INKSTREAM_ADMIN_KEY: app.workspace.adminKey,
      }
      const byFlag = await cli(['send', 'by-url', '--url', app.url, '--interval', '50'], env)
      assert.equal(byFlag.code, 0, byFlag.stderr)
      assert.match(byFlag.stderr, /by-url done .* {2}sent 1 /)
      const byEnv = await cli(['send', 'by-env', '--interval', '50'], { ...env, INKSTREAM_URL: app.url })
      assert.equal(byEnv.code, 0, byEnv.stderr)
      assert.match(byEnv.stderr, /by-env done .* {2}sent 1 /)
      assert.equal(smtp.received.length, 2)
      // Nothing was created in the other data folder.
      assert.deepEqual(readdirSync(elsewhere), [])
    } finally {
      await app.close()
      await smtp.close()
      rmSync(elsewhere, { recursive: true, force: true })
    }
  })

  test('with no server at the URL it says so plainly, with its own code, and exits 1', async () => {
    const port = await closedPort()
    const out = await cli(['send', 'any', '--url', `http://127.0.0.1:${port}`], {
      INKSTREAM_DATA_DIR: tempDir('inkstream-cli-'),
      INKSTREAM_ADMIN_KEY: 'ak_0123456789abcdefghij',
    })
    assert.equal(out.code, 1)
    assert.match(
      out.stderr,
      /INK_ERR_SERVER_UNREACHABLE: no Inkstream server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/,
    )
    assert.match(out.stderr, /--url|INKSTREAM_URL/)
    assert.doesNotMatch(out.stderr, /INK_ERR_BAD_REQUEST/)
  })

  test('a key the server does not know, or no key at all, is said plainly', async () => {
    const app = await startTestApp()
    const empty = tempDir('inkstream-cli-')
    try {
      const wrong = await cli(['send', 'any', '--url', app.url], {
        INKSTREAM_DATA_DIR: empty,
        INKSTREAM_ADMIN_KEY: 'ak_0123456789abcdefghij',
      })
      assert.equal(wrong.code, 1)
      assert.match(
        wrong.stderr,
        /INK_ERR_UNAUTHORIZED: the server at http:\/\/127\.0\.0\.1:\d+ does not know this admin key/,
      )
      const none = await cli(['send', 'any', '--url', app.url], { INKSTREAM_DATA_DIR: empty })
      assert.equal(none.code, 1)
      assert.match(none.stderr, /INK_ERR_UNAUTHORIZED: no admin key: set INKSTREAM_ADMIN_KEY/)
      assert.deepEqual(readdirSync(empty), [])
    } finally {
      await app.close()
      rmSync(empty, { recursive: true, force: true })
    }
  })
})
