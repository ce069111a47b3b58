/**
 * INKSTREAM_DKIM: the setting's syntax, keys checked at start with errors a user can act on, and a
 * private key that never appears in an error message or a log line.
 */
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { isInkError } from '../../src/core/errors.ts'
import { loadDkimKeys, parseDkimSetting, publicKeyValue } from '../../src/delivery/dkim-keys.ts'
import { DkimSigner } from '../../src/delivery/dkim-sign.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import { createLogger } from '../../src/observe/logging.ts'
import { testKey } from './dkim-check.ts'

let dir: string
const rsa = testKey('shop.example', 's1', 'rsa')
const ed = testKey('shop.example', 'e1', 'ed25519')

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'inkstream-dkim-keys-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

/** The problems an INK_ERR_INVALID_CONFIG lists. */
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn()
  } catch (err) {
    assert.ok(isInkError(err), String(err))
    assert.equal(err.code, 'INK_ERR_INVALID_CONFIG')
    return err.details as string[]
  }
  assert.fail('expected INK_ERR_INVALID_CONFIG')
}

const windows = (text: string): string[] => {
  const out: string[] = []
  for (let i = 0; i + 16 <= text.length; i += 4) out.push(text.slice(i, i + 16))
  return out
}

/**
 * 16-character runs that only the private key has: of its PEM body, those not in the public record
 * (an RSA private key holds the public modulus too), and of its private scalar (`d`) in base64 and
 * base64url.
 */
const privateChunks = (pem: string): string[] => {
  const key = createPrivateKey(pem)
  const pub = publicKeyValue(createPublicKey(key))
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('base64')
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
  const d = Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url')
  return [
    ...windows(body).filter((c) => !pub.includes(c) && !der.includes(c)),
    ...windows(d.toString('base64')),
    ...windows(d.toString('base64url')),
  ]
}
const assertNoKey = (text: string, pem: string, where: string) => {
  assert.doesNotMatch(text, /PRIVATE KEY-----\s*[A-Za-z0-9+/]{16}/, `${where} holds a PEM`)
  for (const chunk of privateChunks(pem)) assert.ok(!text.includes(chunk), `${where} holds key material`)
}

describe('the INKSTREAM_DKIM setting', () => {
  test('entries name domain, selector, a file or env:VAR, and an optional algorithm', () => {
    const r = parseDkimSetting(
      'shop.example:s1:/run/secrets/dkim.pem, mail.shop.example:e1:env:DKIM_ED:ed25519,shop.example:s2:/k.pem:rsa-sha256',
    )
    assert.ok(r.ok)
    assert.deepEqual(r.specs, [
      { domain: 'shop.example', selector: 's1', source: { file: '/run/secrets/dkim.pem' } },
      {
        domain: 'mail.shop.example',
        selector: 'e1',
        source: { env: 'DKIM_ED' },
        algorithm: 'ed25519-sha256',
      },
      { domain: 'shop.example', selector: 's2', source: { file: '/k.pem' }, algorithm: 'rsa-sha256' },
    ])
  })

  test('every mistake is reported at start, at once, by loadConfig', () => {
    const problems = problemsOf(() =>
      loadConfig({
        INKSTREAM_DKIM:
          'shop.example:s1:/k.pem:rsa-sha1,not a domain:s1:/k.pem,shop.example:bad_selector:/k.pem,shop.example:s3,shop.example:s4:env:1X,a.example:s:/k,a.example:s:/j',
      }),
    )
    assert.deepEqual(problems, [
      'INKSTREAM_DKIM: "shop.example:s1:/k.pem:rsa-sha1": unknown algorithm "rsa-sha1" (known: rsa-sha256, ed25519-sha256)',
      'INKSTREAM_DKIM: "not a domain:s1:/k.pem": "not a domain" is not a domain name',
      'INKSTREAM_DKIM: "shop.example:bad_selector": "bad_selector" is not a DKIM selector',
      'INKSTREAM_DKIM: "shop.example:s3": the key file is missing (domain:selector:keyfile)',
      'INKSTREAM_DKIM: "shop.example:s4": "1X" is not an environment variable name',
      'INKSTREAM_DKIM: "a.example:s" is listed twice',
    ])
  })

  test('an unreadable file, an unset variable, a broken PEM, a key of the wrong type or size are refused with the entry named', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString()
    const small = generateKeyPairSync('rsa', { modulusLength: 512 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString()
    // A real key cut short (not parseable), and one with a byte of its private values changed
    // (parses, but signs what its public key does not verify); neither text may be quoted.
    const broken = rsa.privatePem.slice(0, 400)
    const jwk = createPrivateKey(rsa.privatePem).export({ format: 'jwk' })
    const damage = (v = '') => `${v.slice(0, 20)}${v[20] === 'A' ? 'B' : 'A'}${v.slice(21)}`
    const corrupt = createPrivateKey({
      // OpenSSL signs with the CRT values and falls back to d when they disagree: both are damaged.
      key: { ...jwk, d: damage(jwk.d), dp: damage(jwk.dp) },
      format: 'jwk',
    })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString()
    const setting = [
      `shop.example:missing:${join(dir, 'nope.pem')}`,
      'shop.example:unset:env:DKIM_UNSET',
      `shop.example:broken:${file('broken.pem', broken)}`,
      `shop.example:corrupt:${file('corrupt.pem', corrupt)}`,
      `shop.example:wrongtype:${file('rsa.pem', rsa.privatePem)}:ed25519`,
      `shop.example:ec:${file('ec.pem', ec)}`,
      `shop.example:small:${file('small.pem', small)}`,
    ].join(',')
    const problems = problemsOf(() => loadDkimKeys(setting, {}))
    assert.deepEqual(problems, [
      `INKSTREAM_DKIM "shop.example:missing": cannot read key file ${join(dir, 'nope.pem')} (ENOENT)`,
      'INKSTREAM_DKIM "shop.example:unset": environment variable DKIM_UNSET is not set',
      'INKSTREAM_DKIM "shop.example:broken": not a PEM private key (expected "-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----")',
      'INKSTREAM_DKIM "shop.example:corrupt": the private key does not match its public key (a damaged key file?)',
      'INKSTREAM_DKIM "shop.example:wrongtype": the key is rsa, not for ed25519-sha256',
      'INKSTREAM_DKIM "shop.example:ec": a ec key; DKIM signs with RSA or Ed25519 keys',
      'INKSTREAM_DKIM "shop.example:small": the RSA key has 512 bits; receivers refuse keys under 1024 (use 2048)',
    ])
    assertNoKey(problems.join('\n'), corrupt, 'the error')
    assertNoKey(problems.join('\n'), rsa.privatePem, 'the error')
  })

  test('a PEM in an environment variable may carry its line breaks as \\n', () => {
    const oneLine = ed.privatePem.trim().replaceAll('\n', '\\n')
    const [key] = loadDkimKeys('shop.example:e1:env:K', { K: oneLine })
    assert.equal(key?.algorithm, 'ed25519-sha256')
  })
})

describe('a DKIM private key is never written out', () => {
  test('a log line given the config, the signer, the transport or its key data holds no key material', () => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const logger = createLogger({ level: 'trace', serviceName: 'test', destination })
    const env = { DKIM_RSA: rsa.privatePem, DKIM_ED: ed.privatePem }
    const config = loadConfig({ INKSTREAM_DKIM: 'shop.example:s1:env:DKIM_RSA,shop.example:e1:env:DKIM_ED' })
    const signer = new DkimSigner(loadDkimKeys(config.dkim ?? '', env))
    const transport = new SmtpTransport({
      host: '127.0.0.1',
      port: 2525,
      secure: false,
      messageIdDomain: 'shop.example',
      buildWorkers: 0,
      dkim: signer,
    })
    logger.info({ config, signer, transport, dkim: signer.selectors }, 'composed')
    // The one accessor that hands key data out (to the build workers): its PEM field is redacted.
    logger.info({ key: signer.keyData()[0] }, 'key data')
    logger.error({ err: new Error('x'), signer }, 'failed')
    const out = lines.join('')
    assert.ok(out.includes('"composed"') && out.includes('e1'), out)
    assertNoKey(out, rsa.privatePem, 'the log')
    assertNoKey(out, ed.privatePem, 'the log')
    assertNoKey(JSON.stringify({ signer, transport, config }), rsa.privatePem, 'JSON')
    void transport.close()
  })
})
