/** The private-address guard and the allow-list as plain functions: no sockets, no DNS. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Resolver } from '../../src/content/connected-content/address-guard.ts'
import { blockedRange, vetHost } from '../../src/content/connected-content/address-guard.ts'
import { compileAllowList, parseAllowEntry } from '../../src/content/connected-content/allow-list.ts'

describe('blockedRange', () => {
  const refused: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'linkLocal'],
    ['::7f00:1', 'loopback'],
    ['::ffff:0:a00:1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'linkLocal'],
    ['2002:c0a8:101::1', 'private'],
    ['2001:db8::1', 'reserved'],
  ]
  for (const [address, range] of refused) {
    test(`${address} is refused as ${range}`, () => {
      assert.equal(blockedRange(address)?.range, range)
    })
  }

  for (const address of [
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
  ]) {
    test(`${address} is a public address`, () => {
      assert.equal(blockedRange(address), undefined)
    })
  }

  test('text that is not an address is refused', () => {
    assert.equal(blockedRange('not-an-ip')?.range, 'unparseable')
  })
})

describe('allow-list entries', () => {
  test('host, host:port, wildcard and bracketed IPv6 entries parse', () => {
    assert.deepEqual(parseAllowEntry('API.Internal.Example'), {
      host: 'api.internal.example',
      wildcard: false,
      port: undefined,
    })
    assert.deepEqual(parseAllowEntry('127.0.0.1:4567'), { host: '127.0.0.1', wildcard: false, port: 4567 })
    assert.deepEqual(parseAllowEntry('*.example.com'), {
      host: 'example.com',
      wildcard: true,
      port: undefined,
    })
    assert.deepEqual(parseAllowEntry('[::1]:8080'), { host: '::1', wildcard: false, port: 8080 })
    assert.deepEqual(parseAllowEntry('fd00::1'), { host: 'fd00::1', wildcard: false, port: undefined })
  })

  test('malformed entries are rejected', () => {
    for (const bad of ['', 'host:0', 'host:99999', 'host:abc', '[::1', '*.10.0.0.1', '[::1]x']) {
      assert.equal(parseAllowEntry(bad), undefined, bad)
    }
  })

  test('a wildcard matches subdomains only, and a port entry matches only that port', () => {
    const list = compileAllowList(['*.example.com', '127.0.0.1:4567', 'api.internal.example'])
    assert.equal(list.allows('a.example.com', 443), true)
    assert.equal(list.allows('a.b.example.com', 443), true)
    assert.equal(list.allows('example.com', 443), false)
    assert.equal(list.allows('badexample.com', 443), false)
    assert.equal(list.allows('127.0.0.1', 4567), true)
    assert.equal(list.allows('127.0.0.1', 4568), false)
    assert.equal(list.allows('api.internal.example', 8443), true)
    assert.equal(list.allowsPortExplicitly('127.0.0.1', 4567), true)
    assert.equal(list.allowsPortExplicitly('api.internal.example', 22), false)
  })
})

describe('vetHost', () => {
  const resolverFor = (table: Record<string, string[]>) => {
    const calls: string[] = []
    const resolve: Resolver = async (hostname) => {
      calls.push(hostname)
      const answers = table[hostname]
      if (answers === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
      return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
    }
    return { resolve, calls }
  }

  test('a host with one private address among public ones is refused', async () => {
    const { resolve } = resolverFor({ 'mixed.test': ['93.184.216.34', '10.0.0.7'] })
    const result = await vetHost('mixed.test', 'http://mixed.test/', false, resolve)
    assert.equal(result.ok, false)
    assert.equal(!result.ok && result.refused, true)
    assert.match(!result.ok ? result.message : '', /resolves to 10\.0\.0\.7, a private address/)
  })

  test('a host resolving only to public addresses passes with every address', async () => {
    const { resolve } = resolverFor({ 'public.test': ['93.184.216.34', '2606:2800:220:1::1'] })
    const result = await vetHost('public.test', 'http://public.test/', false, resolve)
    assert.deepEqual(result, {
      ok: true,
      addresses: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::1', family: 6 },
      ],
    })
  })

  test('metadata host names are judged by the address they resolve to', async () => {
    const { resolve } = resolverFor({ 'metadata.google.internal': ['169.254.169.254'] })
    const result = await vetHost(
      'metadata.google.internal',
      'http://metadata.google.internal/',
      false,
      resolve,
    )
    assert.match(!result.ok ? result.message : '', /link-local/)
  })

  test('localhost names are refused without asking DNS', async () => {
    const { resolve, calls } = resolverFor({})
    for (const name of ['localhost', 'app.localhost']) {
      const result = await vetHost(name, `http://${name}/`, false, resolve)
      assert.equal(!result.ok && result.refused, true)
    }
    assert.deepEqual(calls, [])
  })

  test('an allow-listed host may resolve to a private address, but never to an unspecified one', async () => {
    const { resolve } = resolverFor({ 'api.internal': ['10.1.2.3'], 'zero.internal': ['0.0.0.0'] })
    assert.equal((await vetHost('api.internal', 'http://api.internal/', true, resolve)).ok, true)
    const zero = await vetHost('zero.internal', 'http://zero.internal/', true, resolve)
    assert.equal(!zero.ok && zero.refused, true)
  })

  test('a name that does not resolve is an error, not a refusal', async () => {
    const { resolve } = resolverFor({})
    const result = await vetHost('nowhere.test', 'http://nowhere.test/', false, resolve)
    assert.deepEqual(result, {
      ok: false,
      refused: false,
      message: 'http://nowhere.test/: could not resolve nowhere.test (ENOTFOUND)',
    })
  })
})
