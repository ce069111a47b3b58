/**
 * With INKSTREAM_PORT=0 and no INKSTREAM_PUBLIC_URL, links name the port the server binds, which is
 * known only once `listen()` resolves. Work found at start (a campaign interrupted by a shutdown, a
 * trigger job that came due while the server was down) must wait for it: sent earlier, its links
 * would point at `http://127.0.0.1:0/…` forever.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { api, identify } from '../campaigns/campaign-api.ts'
import { putTemplate } from '../campaigns/campaign-fixture.ts'
import { basicAuth, startTestApp, tempDir, waitForProcessed } from '../helpers/app.ts'
import {
  header,
  mimeParts,
  type ReceivedMessage,
  startSmtpServer,
  type TestSmtpServer,
} from './smtp-test-server.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Settings {
  dataDir: string
  smtpUrl: string
  from: string
}

/**
 * Opens the app again on `settings` and gives work found at start a chance to send before listen()
 * (the old start order sent it there); returns how many messages arrived early, and the bound URL.
 */
async function restart(settings: Settings, smtp: TestSmtpServer) {
  const app = await createApp(loadConfig({}, { port: 0, logLevel: 'silent', ...settings }))
  const before = smtp.received.length
  await smtp.waitForMessages(before + 1, 1_500).catch(() => undefined)
  const early = smtp.received.length - before
  const url = await app.listen()
  return { app, url, early }
}

function assertLinksUnder(message: ReceivedMessage | undefined, url: string): void {
  const html = mimeParts(message?.raw ?? '').find((p) => p.contentType.startsWith('text/html'))?.body ?? ''
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1] ?? '')
  assert.ok(links.length > 0, html)
  for (const link of links) assert.ok(link.startsWith(`${url}/`), `${link} is not under ${url}`)
  const unsubscribe = header(message?.raw ?? '', 'List-Unsubscribe') ?? ''
  assert.ok(unsubscribe.includes(`<${url}/`), unsubscribe)
}

describe('with INKSTREAM_PORT=0, work found at start waits for the bound port', () => {
  test('a campaign resumed at start sends nothing before listen(), and its links name the bound port', async () => {
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
          // 2/s: close() lands mid-run, leaving the campaign `running` for the next start to resume.
          ratePerSecond: 2,
        })
        assert.equal((await api(first, 'POST', '/v1/campaigns/resume/start')).status, 202)
        await smtp.waitForMessages(1)
      } finally {
        await first.close()
      }
      const stopped = smtp.received.length
      assert.ok(stopped < ids.length, `all ${stopped} sent before close`)

      const { app, url, early } = await restart(settings, smtp)
      try {
        assert.equal(early, 0, 'a resumed campaign sent before the port was bound')
        const got = (await smtp.waitForMessages(stopped + 1, 10_000)).slice(stopped)
        assertLinksUnder(got[0], url)
      } finally {
        await app.close()
      }
    } finally {
      await smtp.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  test('a trigger job that came due while the server was down is sent after listen(), with links to the bound port', async () => {
    const smtp = await startSmtpServer()
    const dataDir = tempDir()
    const settings = { dataDir, smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' }
    const delayMs = 2_000
    try {
      const first = await startTestApp(settings)
      try {
        await putTemplate(first, 'nudge')
        await identify(first, { ann: { email: 'ann@example.com' } })
        const put = await api(first, 'PUT', '/v1/triggers/nudge', {
          event: 'Product Viewed',
          templateId: 'nudge',
          delayMs,
        })
        assert.equal(put.status, 200, JSON.stringify(put.body))
        const res = await fetch(`${first.url}/v1/track`, {
          method: 'POST',
          headers: { authorization: basicAuth(first.workspace.writeKey), 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'ann', event: 'Product Viewed', messageId: 'pv-1' }),
        })
        assert.equal(res.status, 200, await res.text())
        await waitForProcessed(first)
      } finally {
        await first.close()
      }
      assert.equal(smtp.received.length, 0, 'the job was sent before the server went down')
      await sleep(delayMs)

      const { app, url, early } = await restart(settings, smtp)
      try {
        assert.equal(early, 0, 'an overdue trigger job was sent before the port was bound')
        const [message] = await smtp.waitForMessages(1, 10_000)
        assert.deepEqual(message?.rcptTo, ['ann@example.com'])
        assertLinksUnder(message, url)
      } finally {
        await app.close()
      }
    } finally {
      await smtp.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  test('a trigger job made from events waiting in the log at start is sent after listen(), with links to the bound port', async () => {
    const smtp = await startSmtpServer()
    const dataDir = tempDir()
    const settings = { dataDir, smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'news@shop.example' }
    try {
      const first = await startTestApp(settings)
      try {
        await putTemplate(first, 'nudge')
        await identify(first, { ann: { email: 'ann@example.com' } })
        const put = await api(first, 'PUT', '/v1/triggers/nudge', {
          event: 'Product Viewed',
          templateId: 'nudge',
        })
        assert.equal(put.status, 200, JSON.stringify(put.body))
      } finally {
        await first.close()
      }
      // The event is acknowledged into the log while no processor runs (as after a crash mid-backlog).
      const collector = await createApp(loadConfig({}, { port: 0, logLevel: 'silent', ...settings }), {
        processor: false,
      })
      try {
        const res = await collector.server.inject({
          method: 'POST',
          url: '/v1/track',
          headers: {
            authorization: basicAuth(collector.workspace.writeKey),
            'content-type': 'application/json',
          },
          payload: JSON.stringify({ userId: 'ann', event: 'Product Viewed', messageId: 'pv-2' }),
        })
        assert.equal(res.statusCode, 200, res.body)
      } finally {
        await collector.close()
      }

      // The processor folds the backlog right away and reports the due job: the dispatcher must wait.
      const { app, url, early } = await restart(settings, smtp)
      try {
        assert.equal(early, 0, 'a job from the backlog was sent before the port was bound')
        const [message] = await smtp.waitForMessages(1, 10_000)
        assert.deepEqual(message?.rcptTo, ['ann@example.com'])
        assertLinksUnder(message, url)
      } finally {
        await app.close()
      }
    } finally {
      await smtp.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
