/**
 * Connected content refuses to reach private, loopback and link-local addresses, other schemes and
 * other ports, before any connection is made. Only loopback servers are ever contacted: refusals are
 * checked with an injected resolver that answers nothing and a socket counter on net.client.socket.
 */
import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Resolver } from '../../src/content/connected-content/address-guard.ts'
import type { ConnectedContentOutcome } from '../../src/content/connected-content/connected-content.ts'
import { HttpConnectedContent } from '../../src/content/connected-content/http-connected-content.ts'
import type { HttpConnectedContentOptions } from '../../src/content/connected-content/options.ts'
import { createPinnedAgents } from '../../src/content/connected-content/pinned-agent.ts'

interface TestServer {
  port: number
  url: string
  hits: { url: string; host: string }[]
  close(): Promise<void>
}

async function startServer(
  handler: http.RequestListener = (_req, res) => res.end('ok'),
): Promise<TestServer> {
  const hits: TestServer['hits'] = []
  const server = http.createServer((req, res) => {
    hits.push({ url: req.url ?? '', host: req.headers.host ?? '' })
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** Counts every client socket the process creates while a test runs. */
let sockets = 0
const onSocket = () => sockets++

/** A resolver that maps a few names and records every question. */
function resolver(table: Record<string, string> = {}) {
  const asked: string[] = []
  const resolve: Resolver = async (hostname) => {
    asked.push(hostname)
    const address = table[hostname]
    if (address === undefined) throw Object.assign(new Error('unexpected lookup'), { code: 'ENOTFOUND' })
    return [{ address, family: address.includes(':') ? 6 : 4 }]
  }
  return { resolve, asked }
}

const call = (cc: HttpConnectedContent, url: string, workspaceId = 'w1') =>
  cc.fetch({ workspaceId, url, timeoutMs: 2_000, cacheMaxAgeSeconds: 0 })

const messageOf = (o: ConnectedContentOutcome) => ('message' in o ? o.message : '')

before(() => dc.subscribe('net.client.socket', onSocket))
after(() => dc.unsubscribe('net.client.socket', onSocket))

describe('refused before connecting', () => {
  const cases: [url: string, why: RegExp][] = [
    ['http://127.0.0.1/', /is a loopback address/],
    ['http://localhost/', /is a loopback address/],
    ['http://LOCALHOST./', /is a loopback address/],
    ['http://[::1]/', /is a loopback address/],
    ['http://[::ffff:127.0.0.1]/', /is a loopback address/],
    ['http://[::ffff:7f00:1]/', /is a loopback address/],
    ['http://[::127.0.0.1]/', /is a loopback address/],
    ['http://2130706433/', /127\.0\.0\.1\/ is a loopback address/],
    ['http://0177.0.0.1/', /127\.0\.0\.1\/ is a loopback address/],
    ['http://0x7f.0.0.1/', /127\.0\.0\.1\/ is a loopback address/],
    ['http://0x7f000001/', /127\.0\.0\.1\/ is a loopback address/],
    ['http://127.1/', /127\.0\.0\.1\/ is a loopback address/],
    ['http://10.0.0.1/', /is a private address/],
    ['http://172.16.0.1/', /is a private address/],
    ['http://192.168.1.1/', /is a private address/],
    ['http://169.254.169.254/latest/meta-data/', /is a link-local address/],
    ['http://[fe80::1]/', /is a link-local address/],
    ['http://[fc00::1]/', /is a unique-local address/],
    ['http://0.0.0.0/', /is the unspecified address/],
    ['http://100.64.0.1/', /is a carrier-grade NAT address/],
    ['http://224.0.0.1/', /is a multicast address/],
    ['http://255.255.255.255/', /is the broadcast address/],
    ['file:///etc/passwd', /only http and https URLs are allowed, not file:/],
    ['ftp://example.com/', /only http and https URLs are allowed, not ftp:/],
    ['gopher://', /only http and https URLs are allowed, not gopher:/],
    ['http://example.com:22/', /port 22 is not allowed/],
    ['http://user:secret@example.com/', /user name or password are refused/],
    ['not a url', /the URL is not valid/],
  ]
  for (const [url, why] of cases) {
    test(`${url} is refused without a DNS lookup or a connection`, async () => {
      const { resolve, asked } = resolver()
      const cc = new HttpConnectedContent({ lookup: resolve })
      const socketsBefore = sockets
      const outcome = await call(cc, url)
      await cc.close()
      assert.equal(outcome.outcome, 'refused')
      assert.match(messageOf(outcome), why)
      assert.deepEqual(asked, [])
      assert.equal(sockets, socketsBefore, 'no socket was opened')
    })
  }

  test('a refusal message leaves out the query string, which may carry tokens', async () => {
    const cc = new HttpConnectedContent()
    const outcome = await call(cc, 'http://10.0.0.1/path?api_key=hunter2hunter2')
    await cc.close()
    assert.equal(outcome.outcome, 'refused')
    assert.doesNotMatch(messageOf(outcome), /hunter2/)
  })
})

describe('host names are judged by what they resolve to', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  test('a name resolving to 127.0.0.1 is refused and the server there sees nothing', async () => {
    const { resolve, asked } = resolver({ 'evil.test': '127.0.0.1' })
    const cc = new HttpConnectedContent({ lookup: resolve, allowedPorts: [server.port] })
    const outcome = await call(cc, `http://evil.test:${server.port}/`)
    await cc.close()
    assert.equal(outcome.outcome, 'refused')
    assert.match(messageOf(outcome), /resolves to 127\.0\.0\.1, a loopback address/)
    assert.deepEqual(asked, ['evil.test'])
    assert.equal(server.hits.length, 0)
  })

  test('a metadata host name resolving to 169.254.169.254 is refused', async () => {
    const { resolve } = resolver({ 'metadata.google.internal': '169.254.169.254' })
    const cc = new HttpConnectedContent({ lookup: resolve })
    const socketsBefore = sockets
    const outcome = await call(cc, 'http://metadata.google.internal/computeMetadata/v1/')
    await cc.close()
    assert.equal(outcome.outcome, 'refused')
    assert.match(messageOf(outcome), /link-local/)
    assert.equal(sockets, socketsBefore)
  })

  test('the same name on the workspace allow-list is called, at the vetted address, once', async () => {
    const { resolve, asked } = resolver({ 'evil.test': '127.0.0.1' })
    const cc = new HttpConnectedContent({
      lookup: resolve,
      allowHosts: (ws) => (ws === 'w1' ? [`evil.test:${server.port}`] : []),
    })
    const before = server.hits.length
    const allowed = await call(cc, `http://evil.test:${server.port}/hello`)
    const otherWorkspace = await call(cc, `http://evil.test:${server.port}/hello`, 'w2')
    await cc.close()
    assert.deepEqual(allowed.outcome === 'success' && allowed.data, 'ok')
    assert.equal(otherWorkspace.outcome, 'refused', 'the allow-list of w1 does not apply to w2')
    // The connection did not look the name up again: the system resolver cannot resolve evil.test.
    assert.deepEqual(asked, ['evil.test'])
    assert.deepEqual(server.hits.slice(before), [{ url: '/hello', host: `evil.test:${server.port}` }])
  })

  test('an allow-listed localhost is resolved by the system resolver and called', async () => {
    const cc = new HttpConnectedContent({ allowHosts: () => [`localhost:${server.port}`] })
    const before = server.hits.length
    const outcome = await call(cc, `http://localhost:${server.port}/local`)
    await cc.close()
    assert.equal(outcome.outcome === 'success' && outcome.data, 'ok')
    assert.deepEqual(server.hits.slice(before), [{ url: '/local', host: `localhost:${server.port}` }])
  })

  test('an allow-list entry for one port does not open other ports of the host', async () => {
    const cc = new HttpConnectedContent({ allowHosts: () => [`127.0.0.1:${server.port + 1}`] })
    const outcome = await call(cc, `${server.url}/`)
    await cc.close()
    assert.equal(outcome.outcome, 'refused')
    assert.match(messageOf(outcome), new RegExp(`port ${server.port} is not allowed`))
  })

  test('kept-alive sockets are pooled per vetted address, so one is never reused for another address', () => {
    const agents = createPinnedAgents()
    const a = { host: 'api.example', port: 80, pinned: [{ address: '10.0.0.1', family: 4 as const }] }
    const b = { host: 'api.example', port: 80, pinned: [{ address: '93.184.216.34', family: 4 as const }] }
    assert.notEqual(agents.http.getName(a), agents.http.getName(b))
    assert.notEqual(agents.https.getName(a), agents.https.getName(b))
    agents.destroy()
  })
})

describe('https', () => {
  // A throw-away self-signed certificate for localhost / 127.0.0.1, valid until 2126; test-only, not a secret.
  const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgG6sz4YdGSo/ymc+M
SsVf1fv1qTlfeYfxC1Pw4+cQgUehRANCAATPvY/dnpEkqmRCjGszaHWL3l/DOzX0
KsVAQMakfHldOU0NBLIwVEgxY/GZUH5zgAzlUyp8dYizANNv9cNahY6i
-----END PRIVATE KEY-----`
  const cert = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUVb5W8kq3jFP3mQzS+Uo5pZYnt20wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODE3MjA1OVoYDzIxMjYxMTA0
MTcyMDU5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATPvY/dnpEkqmRCjGszaHWL3l/DOzX0KsVAQMakfHldOU0NBLIwVEgx
Y/GZUH5zgAzlUyp8dYizANNv9cNahY6io28wbTAdBgNVHQ4EFgQULCJGWt9rXqXv
vZPXHvJ32Ao5ezowHwYDVR0jBBgwFoAULCJGWt9rXqXvvZPXHvJ32Ao5ezowDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAM40TSxds4MwYgYsc9YfJv3VrD3HbEcA3aYhk9NLsi6rAiBN
LYa9j7qzsLxkdI+EJvzgtGJiUfHWkvVNnLgY2GY32Q==
-----END CERTIFICATE-----`

  test('certificates are verified: a self-signed server reached by name is an error, not a success', async () => {
    const server = https.createServer({ key, cert }, (_req, res) => res.end('secret'))
    let connections = 0
    server.on('connection', () => connections++)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const { resolve, asked } = resolver({ 'tls.test': '127.0.0.1' })
    const cc = new HttpConnectedContent({ lookup: resolve, allowHosts: () => [`tls.test:${port}`] })
    const outcome = await call(cc, `https://tls.test:${port}/`)
    await cc.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    assert.equal(outcome.outcome, 'error')
    assert.match(messageOf(outcome), /SELF_SIGNED/)
    assert.deepEqual(asked, ['tls.test'])
    assert.equal(connections, 1, 'the TLS connection went to the vetted address')
  })
})

describe('redirects', () => {
  test('a 302 to another local server is not followed', async () => {
    const target = await startServer()
    const redirecting = await startServer((_req, res) => {
      res.writeHead(302, { location: `${target.url}/secret` }).end()
    })
    const options: HttpConnectedContentOptions = {
      allowHosts: () => [`127.0.0.1:${redirecting.port}`, `127.0.0.1:${target.port}`],
    }
    const cc = new HttpConnectedContent(options)
    const outcome = await call(cc, `${redirecting.url}/start`)
    await cc.close()
    await Promise.all([target.close(), redirecting.close()])
    assert.equal(outcome.outcome, 'error')
    assert.match(messageOf(outcome), /answered 302; redirects are not followed/)
    assert.equal(redirecting.hits.length, 1)
    assert.equal(target.hits.length, 0)
  })
})
