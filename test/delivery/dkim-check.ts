/**
 * Two DKIM verifiers for tests, neither of them the signer's code path:
 * - mailauth's dkimVerify, its DNS answered from the test's own key pairs (no network);
 * - a small RFC 6376 verifier written here on node:crypto (relaxed/relaxed only), so a bug shared by
 *   mailauth's signer and verifier (the same canonicalization code) cannot pass unnoticed.
 * Public records are computed here from the key pairs, not with src/delivery/dkim-keys.ts.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto'
import { dkimVerify } from 'mailauth/lib/dkim/verify.js'

export interface TestKey {
  domain: string
  selector: string
  kind: 'rsa' | 'ed25519'
  /** PKCS#8 PEM (RSA keys as PKCS#1 "RSA PRIVATE KEY", as `openssl genrsa` writes them). */
  privatePem: string
  publicKey: KeyObject
}

export function testKey(domain: string, selector: string, kind: 'rsa' | 'ed25519'): TestKey {
  const pair =
    kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')
  const privatePem = pair.privateKey
    .export(kind === 'rsa' ? { format: 'pem', type: 'pkcs1' } : { format: 'pem', type: 'pkcs8' })
    .toString()
  return { domain, selector, kind, privatePem, publicKey: pair.publicKey }
}

/** The TXT record a receiver would fetch, from the public key (RFC 6376 §3.6.1, RFC 8463 §4.2). */
export function txtRecord(key: TestKey): string {
  if (key.kind === 'rsa') {
    const der = key.publicKey.export({ format: 'der', type: 'spki' })
    return `v=DKIM1; k=rsa; p=${der.toString('base64')}`
  }
  const jwk = key.publicKey.export({ format: 'jwk' })
  return `v=DKIM1; k=ed25519; p=${Buffer.from(jwk.x ?? '', 'base64url').toString('base64')}`
}

/** mailauth's verdict per signature: `selector → pass|fail|neutral|…`. */
export async function mailauthVerdicts(
  raw: string,
  keys: readonly TestKey[],
): Promise<Record<string, string>> {
  const records = new Map(
    keys.map((k) => [`${k.selector}._domainkey.${k.domain}`.toLowerCase(), txtRecord(k)]),
  )
  const result = await dkimVerify(Buffer.from(raw, 'utf8'), {
    resolver: async (name: string, type: string) => {
      const record = type === 'TXT' ? records.get(name.toLowerCase()) : undefined
      if (record === undefined) throw Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' })
      return [[record]]
    },
  } as Parameters<typeof dkimVerify>[1])
  const verdicts: Record<string, string> = {}
  for (const r of result.results) verdicts[r.selector ?? '?'] = r.status.result
  return verdicts
}

// ---- RFC 6376 by hand --------------------------------------------------------------------------

interface Field {
  name: string
  /** The whole field as received, folding included, without the final CRLF. */
  raw: string
}

function splitMessage(raw: string): { fields: Field[]; body: string } {
  const end = raw.indexOf('\r\n\r\n')
  const head = raw.slice(0, end)
  const fields: Field[] = []
  for (const line of head.split('\r\n')) {
    const last = fields.at(-1)
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) last.raw += `\r\n${line}`
    else fields.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line })
  }
  return { fields, body: raw.slice(end + 4) }
}

/** RFC 6376 §3.4.2. */
function relaxedHeader(field: string): string {
  const colon = field.indexOf(':')
  const name = field.slice(0, colon).trim().toLowerCase()
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim()
  return `${name}:${value}`
}

/** RFC 6376 §3.4.4. */
function relaxedBody(body: string): string {
  const lines = body.split('\r\n').map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''))
  while (lines.length > 0 && lines.at(-1) === '') lines.pop()
  return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`
}

function tags(value: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const part of value.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    map.set(part.slice(0, eq).trim(), part.slice(eq + 1).replace(/\s+/g, ''))
  }
  return map
}

/**
 * Verifies every DKIM-Signature of `raw` with the given keys; returns `selector → pass|fail` and
 * the `h=` list of each. Only what Inkstream signs: relaxed/relaxed, rsa-sha256 or ed25519-sha256.
 */
export function verifyByHand(
  raw: string,
  keys: readonly TestKey[],
): Record<string, { result: 'pass' | 'fail'; why?: string; signed: string[] }> {
  const { fields, body } = splitMessage(raw)
  const out: Record<string, { result: 'pass' | 'fail'; why?: string; signed: string[] }> = {}
  for (const sig of fields.filter((f) => f.name === 'dkim-signature')) {
    const t = tags(sig.raw.slice(sig.raw.indexOf(':') + 1))
    const selector = t.get('s') ?? '?'
    const signed = (t.get('h') ?? '').split(':').map((h) => h.trim().toLowerCase())
    const fail = (why: string) => {
      out[selector] = { result: 'fail', why, signed }
    }
    const key = keys.find((k) => k.selector === selector && k.domain === t.get('d'))
    if (key === undefined) {
      fail('no key')
      continue
    }
    if (t.get('c') !== 'relaxed/relaxed') {
      fail(`canonicalization ${t.get('c')}`)
      continue
    }
    const bh = createHash('sha256').update(relaxedBody(body), 'utf8').digest('base64')
    if (bh !== t.get('bh')) {
      fail('body hash')
      continue
    }
    // §5.4.2: each name takes the last unused instance, from the bottom up.
    const used = new Set<Field>()
    let data = ''
    for (const name of signed) {
      const field = fields.findLast((f) => f.name === name && !used.has(f) && f !== sig)
      if (field === undefined) continue
      used.add(field)
      data += `${relaxedHeader(field.raw)}\r\n`
    }
    // The signature's own field with an empty b= value, and no CRLF after it (§3.7).
    data += relaxedHeader(sig.raw.replace(/(;\s*b=)[^;]*/, '$1'))
    const signature = Buffer.from(t.get('b') ?? '', 'base64')
    const ok =
      t.get('a') === 'rsa-sha256' && key.kind === 'rsa'
        ? verify('sha256', Buffer.from(data, 'utf8'), key.publicKey, signature)
        : t.get('a') === 'ed25519-sha256' && key.kind === 'ed25519'
          ? // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalized header.
            verify(null, createHash('sha256').update(data, 'utf8').digest(), key.publicKey, signature)
          : false
    out[selector] = ok ? { result: 'pass', signed } : { result: 'fail', why: 'signature', signed }
  }
  return out
}

/** A public key from a `p=` value, as a receiver would load it (checks records of dns-check). */
export function publicKeyFromRecord(record: string): KeyObject {
  const t = tags(record)
  const p = Buffer.from(t.get('p') ?? '', 'base64')
  return t.get('k') === 'ed25519'
    ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: p.toString('base64url') }, format: 'jwk' })
    : createPublicKey({ key: p, format: 'der', type: 'spki' })
}
