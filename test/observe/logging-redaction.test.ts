/**
 * The log format (ECS JSON lines) and what never reaches it: the real `inkstream start` at the most
 * verbose level, driven with a write key (Authorization header and beacon query), an admin key (a
 * right and a wrong one), a trigger's send over real SMTP, and the message's tracking and
 * unsubscribe links; then every log line is read back.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createLogger, REDACTED, requestId } from '../../src/observe/logging.ts'
import { header, mimeParts, startSmtpServer, type TestSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { type ServerProcess, startServerProcess, testKey, waitForZeroLag } from '../helpers/server-process.ts'

type Line = Record<string, unknown>
const parseLines = (output: string): Line[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)

describe('the logger', () => {
  test('writes ECS fields and redacts secrets and message bodies wherever a call puts them', () => {
    let out = ''
    const destination = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString()
        done()
      },
    })
    const log = createLogger({
      level: 'info',
      serviceName: 'svc',
      destination,
      bindings: { 'process.thread.name': 't' },
    })
    log.info(
      {
        writeKey: 'wk-secret',
        headers: { authorization: 'Basic c2VjcmV0', cookie: 'sid=1' },
        req: { headers: { authorization: 'Bearer ak-secret' } },
        message: { html: '<p>the body</p>', text: 'the body', amp: '<amp/>', subject: 'Hi' },
        token: 'tok-secret',
        err: new Error('it broke'),
      },
      'hello',
    )
    const line = JSON.parse(out) as Line
    assert.equal(line.message, 'hello')
    assert.equal(line['log.level'], 'info')
    assert.equal(line['service.name'], 'svc')
    assert.equal(line['process.thread.name'], 't')
    assert.match(String(line['@timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(typeof line['ecs.version'], 'string')
    assert.deepEqual((line.error as Line).message, 'it broke')
    assert.equal(line.writeKey, REDACTED)
    assert.equal(line.token, REDACTED)
    assert.deepEqual(line.headers, { authorization: REDACTED, cookie: REDACTED })
    assert.deepEqual(line.req, { headers: { authorization: REDACTED } })
    for (const secret of ['wk-secret', 'c2VjcmV0', 'ak-secret', 'the body', 'tok-secret', 'sid=1', '<amp/>'])
      assert.equal(out.includes(secret), false, `${secret} in ${out}`)
  })

  test('keeps a sane incoming x-request-id and replaces an odd one', () => {
    const req = (id: unknown) => ({ headers: { 'x-request-id': id } }) as never
    assert.equal(requestId(req('abc-123_x.y:z')), 'abc-123_x.y:z')
    for (const odd of ['a\nb', 'x'.repeat(129), '', '<script>', undefined])
      assert.match(requestId(req(odd)), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  })
})

describe('logs of a running server', () => {
  let smtp: TestSmtpServer
  let server: ServerProcess
  let lines: Line[] = []
  let output = ''
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')
  const wrongAdminKey = testKey('ak')
  const bodyMarker = `BODY-${randomBytes(8).toString('hex')}`
  // As short as an ESP webhook's URL secret may be: in the path of a request no route matches.
  const urlSecret = randomBytes(8).toString('hex')
  // Posted by anyone in a dashboard CSP report: a token in a URI's query, a password deep inside.
  const cspToken = `csp${randomBytes(8).toString('hex')}`
  const cspPassword = `pw${randomBytes(8).toString('hex')}`
  const secrets: Record<string, string> = {
    writeKey,
    adminKey,
    wrongAdminKey,
    basicAuth: basicAuth(writeKey).slice('Basic '.length),
    bodyMarker,
    urlSecret,
    cspToken,
    cspPassword,
  }
  const statusOf: Record<string, number> = {}

  const call = async (
    name: string,
    path: string,
    init: RequestInit & { headers?: Record<string, string> },
  ) => {
    const res = await fetch(`${server.url}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { 'x-request-id': name, ...init.headers },
    })
    statusOf[name] = res.status
    assert.equal(res.headers.get('x-request-id'), name)
    await res.text()
  }
  const json = (body: unknown) => ({ 'content-type': 'application/json', body: JSON.stringify(body) })
  const admin = (name: string, method: string, path: string, body: unknown, key = adminKey) =>
    call(name, path, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  before(async () => {
    smtp = await startSmtpServer()
    server = await startServerProcess({
      dataDir: tempDir(),
      writeKey,
      adminKey,
      env: {
        INKSTREAM_LOG_LEVEL: 'trace',
        INKSTREAM_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        INKSTREAM_FROM: 'news@shop.example',
      },
    })
    const html = `<p>${bodyMarker}</p><a href="https://shop.example/lamp">Lamp</a>`
    await admin('template', 'PUT', '/v1/templates/poke', { subject: 'Hi', html })
    await admin('trigger', 'PUT', '/v1/triggers/poke', { event: 'Poked', templateId: 'poke' })
    await admin('wrong-admin-key', 'GET', '/v1/triggers', undefined, wrongAdminKey)
    await call('unmatched', `/v1/webhooks/ses/default/${urlSecret}`, { method: 'GET' })
    await call('csp', '/ui/csp-report', {
      method: 'POST',
      headers: { 'content-type': 'application/csp-report' },
      body: JSON.stringify({
        'csp-report': {
          'document-uri': `http://127.0.0.1/ui/profiles?token=${cspToken}`,
          'effective-directive': 'img-src',
          'blocked-uri': `https://evil.example/pixel?t=${cspToken}`,
          a: { b: { password: cspPassword } },
        },
      }),
    })
    const { body, 'content-type': type } = json({
      batch: [{ type: 'identify', userId: 'ann', traits: { email: 'ann@example.com' } }],
    })
    await call('batch', '/v1/batch', {
      method: 'POST',
      headers: { authorization: basicAuth(writeKey), 'content-type': type },
      body,
    })
    await waitForZeroLag(server.url, 30_000, server.output)
    const beacon = json({ batch: [{ type: 'track', userId: 'ann', event: 'Poked' }] })
    await call('beacon', `/beacon/v1/batch?writeKey=${writeKey}`, {
      method: 'POST',
      headers: { 'content-type': beacon['content-type'] },
      body: beacon.body,
    })
    const [mail] = await smtp.waitForMessages(1)
    assert.ok(mail)
    const htmlPart = mimeParts(mail.raw).find((p) => p.contentType.startsWith('text/html'))
    assert.ok(htmlPart, 'the message has an HTML part')
    assert.ok(htmlPart.body.includes(bodyMarker), 'the message carries the marker')
    const click = /href="(http[^"]+\/c\/[^"]+)"/.exec(htmlPart.body)?.[1]
    const unsubscribe = /<(http[^>]+\/u\/[^>]+)>/.exec(header(mail.raw, 'List-Unsubscribe') ?? '')?.[1]
    assert.ok(click && unsubscribe, 'the message has a tracked link and an unsubscribe link')
    const clickPath = new URL(click).pathname
    secrets.clickToken = clickPath.slice('/c/'.length)
    secrets.unsubscribeToken = new URL(unsubscribe).pathname.slice('/u/'.length)
    await call('click', `${clickPath}?token=${secrets.clickToken}`, { method: 'GET' })
    await call('unsubscribe', new URL(unsubscribe).pathname, { method: 'GET' })
    await waitForZeroLag(server.url, 30_000, server.output)
    server.child.kill('SIGTERM')
    await server.exited
    output = server.output()
    lines = parseLines(output)
  })
  after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM')
      await server.exited
    }
    await smtp.close()
  })

  test('every log line is ECS JSON, and each request has a line with its id and http fields', () => {
    assert.ok(lines.length >= 8, output)
    for (const l of lines) {
      for (const field of ['@timestamp', 'log.level', 'message', 'ecs.version'])
        assert.ok(field in l, `${field} missing in ${JSON.stringify(l)}`)
      assert.equal(l['service.name'], 'inkstream')
    }
    const requestLine = (id: string) => {
      const found = lines.filter((l) => l['http.request.id'] === id && l.message === 'request completed')
      assert.equal(found.length, 1, `request lines for ${id}:\n${output}`)
      return found[0]!
    }
    const expected: Record<string, [string, string]> = {
      template: ['PUT', '/v1/templates/:id'],
      trigger: ['PUT', '/v1/triggers/:id'],
      'wrong-admin-key': ['GET', '/v1/triggers'],
      batch: ['POST', '/v1/batch'],
      beacon: ['POST', '/beacon/v1/batch'],
      click: ['GET', '/c/*'],
      unsubscribe: ['GET', '/u/*'],
      unmatched: ['GET', '/v1/webhooks/…'],
    }
    for (const [id, [method, path]] of Object.entries(expected)) {
      const l = requestLine(id)
      assert.equal(l['http.request.method'], method, id)
      assert.equal(l['url.path'], path, id)
      assert.equal(l['http.response.status_code'], statusOf[id], id)
      assert.equal(l['client.ip'], '127.0.0.1', id)
      assert.equal(l['event.category']?.toString(), 'web')
      assert.ok(typeof l['event.duration'] === 'number' && l['event.duration'] > 0, id)
      assert.equal(l['event.outcome'], statusOf[id]! < 400 ? 'success' : 'failure', id)
    }
    assert.equal(statusOf.click, 302)
    assert.equal(statusOf['wrong-admin-key'], 401)
  })

  test('a CSP report is logged as its directive and URIs without their queries, nothing else of it', () => {
    const found = lines.filter((l) => l['event.action'] === 'csp-violation')
    assert.equal(found.length, 1, output)
    assert.equal(found[0]!['inkstream.csp.directive'], 'img-src')
    assert.equal(found[0]!['inkstream.csp.blocked_uri'], 'https://evil.example/pixel')
    assert.equal(found[0]!['inkstream.csp.document_uri'], 'http://127.0.0.1/ui/profiles')
    assert.equal(statusOf.csp, 204)
  })

  test('no log line holds a key, a token, an Authorization header or the message body', () => {
    const logged = lines.map((l) => JSON.stringify(l)).join('\n')
    assert.equal(Object.keys(secrets).length, 10)
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 16, `${name} is a real secret`)
      assert.equal(logged.includes(secret), false, `${name} (${secret}) was logged`)
    }
    assert.equal(/authorization/i.test(logged), false)
  })
})
