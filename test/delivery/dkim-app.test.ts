/**
 * DKIM in the running app: INKSTREAM_DKIM with one key from a file and one from the environment, a
 * campaign sent to a real SMTP server (links tracked, List-Unsubscribe added and the bytes built in
 * the build workers), the received message verified by mailauth and by hand; and neither the logs
 * (at trace level) nor /metrics nor the start-up banner hold the private keys.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { type ComposedApp, openApp } from '../../src/compose/root.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/observe/logging.ts'
import { PROFILES_GROUP } from '../../src/pipeline/processor.ts'
import { TEMPLATE } from '../campaigns/campaign-fixture.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { mailauthVerdicts, type TestKey, testKey, verifyByHand } from './dkim-check.ts'
import { header, startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts'

describe('an app configured with INKSTREAM_DKIM', () => {
  let smtp: TestSmtpServer
  let app: ComposedApp
  let url: string
  let dataDir: string
  let rsa: TestKey
  let ed: TestKey
  const lines: string[] = []

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${app.workspace.adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, text: await res.text() }
  }

  before(async () => {
    smtp = await startSmtpServer()
    dataDir = tempDir()
    rsa = testKey('shop.example', 'news2026', 'rsa')
    ed = testKey('shop.example', 'news2026e', 'ed25519')
    const keyFile = join(dataDir, 'dkim-rsa.pem')
    writeFileSync(keyFile, rsa.privatePem, { mode: 0o600 })
    const env = {
      INKSTREAM_DKIM: `shop.example:news2026:${keyFile},shop.example:news2026e:env:DKIM_ED25519_KEY`,
      DKIM_ED25519_KEY: ed.privatePem,
    }
    const config = loadConfig(env, {
      port: 0,
      dataDir,
      logLevel: 'trace',
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      from: 'Shop <news@shop.example>',
    })
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const logger = createLogger({ level: 'trace', serviceName: 'dkim-test', destination })
    app = await openApp(config, { env, logger })
    url = await app.listen()
    lines.push(...app.banner(url))
  })
  after(async () => {
    await app?.close()
    await smtp.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('a campaign message arrives signed by both keys, over its List-Unsubscribe headers, and no key is written out', async () => {
    assert.ok([200, 201].includes((await api('PUT', '/v1/templates/spring', TEMPLATE)).status))
    const batch = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [{ type: 'identify', userId: 'ann', traits: { email: 'ann@example.org' } }],
      }),
    })
    assert.equal(batch.status, 200)
    for (let i = 0; (await app.log.lag(PROFILES_GROUP)) > 0; i++) {
      assert.ok(i < 500, 'the processor caught up')
      await new Promise((r) => setTimeout(r, 10))
    }
    const put = await api('PUT', '/v1/campaigns/spring', {
      templateId: 'spring',
      audience: { userIds: ['ann'] },
      vars: { greeting: 'Hello' },
    })
    assert.ok([200, 201].includes(put.status), put.text)
    assert.equal((await api('POST', '/v1/campaigns/spring/start')).status, 202)
    const [got] = await smtp.waitForMessages(1, 10_000)
    const raw = got?.raw ?? ''
    assert.ok(header(raw, 'List-Unsubscribe')?.includes(url), 'tracked and unsubscribable')

    assert.deepEqual(await mailauthVerdicts(raw, [rsa, ed]), { news2026: 'pass', news2026e: 'pass' })
    const byHand = verifyByHand(raw, [rsa, ed])
    for (const selector of ['news2026', 'news2026e']) {
      assert.equal(byHand[selector]?.result, 'pass', `${selector}: ${byHand[selector]?.why}`)
      assert.ok(
        byHand[selector]?.signed.includes('list-unsubscribe'),
        `${selector} h= lacks List-Unsubscribe`,
      )
      assert.ok(byHand[selector]?.signed.includes('list-unsubscribe-post'))
    }

    const metrics = await (await fetch(`${url}/metrics`)).text()
    const out = `${lines.join('\n')}\n${metrics}`
    assert.ok(
      lines.some((l) => l.includes('news2026._domainkey.shop.example')),
      'the banner names the selectors',
    )
    for (const key of [rsa, ed]) {
      const body = key.privatePem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
      // The PEM's first and last 24 characters (headers and the private half, not the public modulus).
      for (const piece of [body.slice(0, 24), body.slice(-24)])
        assert.ok(!out.includes(piece), 'a log line or /metrics holds a private key')
    }
    assert.doesNotMatch(out, /PRIVATE KEY-----\s*[A-Za-z0-9+/]{16}/)
  })
})
