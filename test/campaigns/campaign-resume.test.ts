import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { startSmtpServer } from '../delivery/smtp-test-server.ts'
import { startTestApp, tempDir } from '../helpers/app.ts'
import { api, identify } from './campaign-api.ts'
import { putTemplate } from './campaign-fixture.ts'

describe('campaigns across a restart', () => {
  test('close() stops a run between recipients; the next start resumes it without duplicates', async () => {
    const smtp = await startSmtpServer()
    const dataDir = tempDir()
    const settings = { dataDir, smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' }
    try {
      const first = await startTestApp(settings)
      const ids = Array.from({ length: 12 }, (_, i) => `u${i}`)
      try {
        await putTemplate(first, 'spring')
        await identify(first, Object.fromEntries(ids.map((id) => [id, { email: `${id}@example.com` }])))
        await api(first, 'PUT', '/v1/campaigns/resume', {
          templateId: 'spring',
          audience: { userIds: ids },
          vars: { greeting: 'Hi' },
          // 12 recipients at 2/s take ~6 s, so close() lands mid-run even on a slow, shared machine.
          ratePerSecond: 2,
        })
        assert.equal((await api(first, 'POST', '/v1/campaigns/resume/start')).status, 202)
        await smtp.waitForMessages(2)
      } finally {
        await first.close()
      }
      const stopped = smtp.received.length
      assert.ok(stopped < ids.length, `all ${stopped} sent before close`)

      const second = await startTestApp(settings)
      try {
        const deadline = Date.now() + 20_000
        let got = await api(second, 'GET', '/v1/campaigns/resume')
        while (got.body.state !== 'done' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20))
          got = await api(second, 'GET', '/v1/campaigns/resume')
        }
        assert.equal(got.body.state, 'done', JSON.stringify(got.body))
        assert.equal(got.body.progress.sent, ids.length)
        const to = smtp.received.map((m) => m.rcptTo[0])
        assert.equal(new Set(to).size, to.length, 'a recipient got two messages')
        assert.equal(to.length, ids.length)
      } finally {
        await second.close()
      }
    } finally {
      await smtp.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
