import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { startSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp } from '../helpers/app.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname

async function cli(args: string[], env: Record<string, string>): Promise<{ stderr: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_TEST')),
  )
  try {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
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
