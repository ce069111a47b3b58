/**
 * `inkstream dns-check` against a local DNS responder (dns-responder.ts, UDP on 127.0.0.1): the
 * records a domain needs, each judged OK / missing / different / error, and the exit code.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { cliArgs } from '../../scripts/dist.ts'
import { dnsCheck } from '../../src/cli/dns-check.ts'
import { loadConfig } from '../../src/config.ts'
import { type TestKey, testKey, txtRecord } from '../delivery/dkim-check.ts'
import { tempDir } from '../helpers/app.ts'
import { type DnsResponder, startDnsResponder } from './dns-responder.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname

describe('inkstream dns-check', () => {
  let dns: DnsResponder
  let dir: string
  let rsa: TestKey
  let ed: TestKey
  let env: Record<string, string>

  const check = async (args: string[]) => {
    let stdout = ''
    let stderr = ''
    const code = await dnsCheck(loadConfig({ INKSTREAM_DKIM: env.INKSTREAM_DKIM }), args, env, {
      stdout: (s) => {
        stdout += s
      },
      stderr: (s) => {
        stderr += s
      },
    })
    return { code, stdout, stderr }
  }
  /** The status word on the line of a record name. */
  const statusOf = (stdout: string, name: string) =>
    stdout
      .split('\n')
      .find((l) => l.split(/\s+/)[1] === name)
      ?.split(/\s+/)
      .at(-1)

  before(async () => {
    dir = tempDir('inkstream-dns-check-')
    rsa = testKey('shop.example', 'news2026', 'rsa')
    ed = testKey('shop.example', 'news2026e', 'ed25519')
    const other = testKey('shop.example', 'news2026e', 'ed25519')
    writeFileSync(join(dir, 'rsa.pem'), rsa.privatePem)
    env = {
      INKSTREAM_DKIM: `shop.example:news2026:${join(dir, 'rsa.pem')},shop.example:news2026e:env:DKIM_ED`,
      DKIM_ED: ed.privatePem,
    }
    dns = await startDnsResponder({
      'shop.example': ['google-site-verification=abc', 'v=spf1 include:_spf.mail.example ~all'],
      // The records a receiver would need, computed from the test's own key pairs; the Ed25519
      // one publishes another key (a rotation not done in DNS).
      'news2026._domainkey.shop.example': [txtRecord(rsa)],
      'news2026e._domainkey.shop.example': [txtRecord(other)],
    })
  })
  after(async () => {
    await dns.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a missing DMARC and a DKIM record of another key are reported with what to publish, exit code 1', async () => {
    const { code, stdout } = await check(['shop.example', '--dns-server', dns.address])
    assert.equal(code, 1, stdout)
    assert.equal(statusOf(stdout, 'shop.example'), 'OK')
    assert.equal(statusOf(stdout, 'news2026._domainkey.shop.example'), 'OK')
    assert.equal(statusOf(stdout, 'news2026e._domainkey.shop.example'), 'different')
    assert.equal(statusOf(stdout, '_dmarc.shop.example'), 'missing')
    // What to publish for the Ed25519 selector is the test key's own record (RFC 8463: raw key).
    assert.ok(stdout.includes(`publish: news2026e._domainkey.shop.example TXT "${txtRecord(ed)}"`), stdout)
    assert.match(
      stdout,
      /publish: _dmarc\.shop\.example TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@shop\.example"/,
    )
    assert.match(stdout, /2 of 4 records need attention/)
    assert.ok(dns.queries.includes('_dmarc.shop.example TXT'), 'the local responder was asked')
  })

  test('once DNS holds every record, all are OK and the exit code is 0; without SPF it is 1 again', async () => {
    dns.txt.set('news2026e._domainkey.shop.example', [txtRecord(ed)])
    dns.txt.set('_dmarc.shop.example', ['v=DMARC1; p=quarantine; rua=mailto:d@shop.example'])
    const ok = await check(['shop.example', '--dns-server', dns.address])
    assert.equal(ok.code, 0, ok.stdout)
    assert.match(ok.stdout, /all 4 records OK/)

    dns.txt.set('shop.example', ['google-site-verification=abc'])
    const noSpf = await check(['shop.example', '--dns-server', dns.address])
    assert.equal(noSpf.code, 1)
    assert.equal(statusOf(noSpf.stdout, 'shop.example'), 'missing')
    dns.txt.set('shop.example', ['v=spf1 include:_spf.mail.example ~all'])
  })

  test('a domain with no configured key is told that its mail goes unsigned', async () => {
    dns.txt.set('other.example', ['v=spf1 -all'])
    dns.txt.set('_dmarc.other.example', ['v=DMARC1; p=reject'])
    const { code, stdout } = await check(['other.example', '--dns-server', dns.address])
    assert.equal(code, 1)
    assert.match(stdout, /INKSTREAM_DKIM has no key for other\.example/)
  })

  test("a subdomain without its own DMARC record is covered by its parent's (sp=, else p=), and told so", async () => {
    const before = dns.txt.get('_dmarc.shop.example')
    try {
      dns.txt.set('mail.shop.example', ['v=spf1 include:_spf.mail.example ~all'])
      dns.txt.set('_dmarc.shop.example', ['v=DMARC1; p=reject; sp=quarantine'])
      const args = ['mail.shop.example', '--dns-server', dns.address]
      const inherited = await check(args)
      assert.equal(statusOf(inherited.stdout, '_dmarc.mail.shop.example'), 'OK')
      assert.match(inherited.stdout, /inherited from _dmarc\.shop\.example/)
      assert.ok(dns.queries.includes('_dmarc.mail.shop.example TXT'), 'its own record is asked first')
      dns.txt.set('_dmarc.shop.example', ['v=DMARC1; p=none; sp=always'])
      const bad = await check(args)
      assert.equal(statusOf(bad.stdout, '_dmarc.mail.shop.example'), 'different')
      assert.match(
        bad.stdout,
        /_dmarc\.shop\.example covers mail\.shop\.example, but: the record has no valid sp= or p=/,
      )
      dns.txt.delete('_dmarc.shop.example')
      const none = await check(args)
      assert.equal(statusOf(none.stdout, '_dmarc.mail.shop.example'), 'missing')
      assert.equal(none.code, 1)
    } finally {
      if (before === undefined) dns.txt.delete('_dmarc.shop.example')
      else dns.txt.set('_dmarc.shop.example', before)
    }
  })

  test('a DNS server that does not answer is an error, not "missing"', async () => {
    const silent = createSocket('udp4')
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
    try {
      const { code, stdout } = await check([
        'shop.example',
        '--dns-server',
        `127.0.0.1:${silent.address().port}`,
        '--timeout',
        '100',
      ])
      assert.equal(code, 1)
      assert.equal(statusOf(stdout, '_dmarc.shop.example'), 'error')
      assert.match(stdout, /DNS lookup of _dmarc\.shop\.example failed \(ETIMEOUT\)/)
    } finally {
      silent.close()
    }
  })

  test('bad usage exits with 2', async () => {
    assert.equal((await check([])).code, 2)
    assert.equal((await check(['not a domain'])).code, 2)
    assert.equal((await check(['shop.example', '--dns-server', 'nonsense:x'])).code, 2)
  })

  test('the inkstream command runs it with the settings from the environment', async () => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_TEST')),
    )
    const args = cliArgs('dns-check', 'shop.example', '--dns-server', dns.address)
    const { stdout } = await run(process.execPath, args, { cwd: ROOT, env: { ...clean, ...env } })
    assert.match(stdout, /all 4 records OK/)
    assert.ok(!stdout.includes('PRIVATE'), stdout)
    dns.txt.delete('_dmarc.shop.example')
    const failed = await run(process.execPath, args, { cwd: ROOT, env: { ...clean, ...env } }).catch(
      (err: { code: number; stdout: string }) => err,
    )
    assert.equal((failed as { code?: number }).code, 1)
  })
})
