/**
 * DKIM keys from configuration (INKSTREAM_DKIM): the syntax of the setting, loading each private
 * key from its file or environment variable, and the public DNS record each key needs.
 *
 * The setting never holds key material, only where to find it, so the config object, its logs and
 * its error messages cannot leak a key. Once read, a key lives in a DkimSigner's private field.
 *
 *   INKSTREAM_DKIM=shop.example:s2026:/run/secrets/dkim-rsa.pem,shop.example:e2026:env:DKIM_ED25519:ed25519-sha256
 *
 * One entry per signature: `domain:selector:source[:algorithm]`, entries separated by commas;
 * `source` is a PEM file path or `env:NAME` (the PEM in environment variable NAME); `algorithm` is
 * `rsa-sha256` or `ed25519-sha256` (RFC 8463), by default the one the key is for.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { invalidConfig } from '../core/errors.ts'
import { isDomainName } from './mailbox.ts'

export const DKIM_ALGORITHMS = ['rsa-sha256', 'ed25519-sha256'] as const
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number]

export interface DkimKeySpec {
  domain: string
  selector: string
  source: { file: string } | { env: string }
  /** Absent: the key's own type decides. */
  algorithm?: DkimAlgorithm
}

/** One loaded key: what signs (a PKCS#8 PEM, what mailauth takes) and what DNS must publish. */
export interface DkimKeyData {
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  /** PKCS#8 PEM of the private key. Never logged: held in DkimSigner's private field only. */
  privateKeyPem: string
  /** The `p=` value of the DNS record (RFC 6376 §3.6.1; Ed25519: the raw 32-byte key, RFC 8463). */
  publicKey: string
}

/** RFC 6376 §3.1: a selector is one or more dot-separated sub-domain labels. */
const SELECTOR =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** RFC 8301 §3.2: verifiers must not accept RSA keys under 1024 bits; 2048 is what to publish. */
const MIN_RSA_BITS = 1024

const ALIASES: Record<string, DkimAlgorithm> = {
  rsa: 'rsa-sha256',
  'rsa-sha256': 'rsa-sha256',
  ed25519: 'ed25519-sha256',
  'ed25519-sha256': 'ed25519-sha256',
}

/** Parses INKSTREAM_DKIM; every problem is listed, none names key material (there is none here). */
export function parseDkimSetting(
  value: string,
): { ok: true; specs: DkimKeySpec[] } | { ok: false; problems: string[] } {
  const problems: string[] = []
  const specs: DkimKeySpec[] = []
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
  if (entries.length === 0) problems.push('no entry; expected domain:selector:keyfile[:algorithm], …')
  for (const entry of entries) {
    const parts = entry.split(':')
    const [domain = '', selector = ''] = parts
    let rest = parts.slice(2)
    let algorithm: DkimAlgorithm | undefined
    const last = rest.at(-1)
    if (rest.length >= 2 && last !== undefined && !(rest[0] === 'env' && rest.length === 2)) {
      algorithm = ALIASES[last.toLowerCase()]
      if (algorithm === undefined) {
        problems.push(`"${entry}": unknown algorithm "${last}" (known: ${DKIM_ALGORITHMS.join(', ')})`)
        continue
      }
      rest = rest.slice(0, -1)
    }
    const where = `"${domain}:${selector}"`
    if (!isDomainName(domain)) problems.push(`"${entry}": "${domain}" is not a domain name`)
    if (!SELECTOR.test(selector)) problems.push(`${where}: "${selector}" is not a DKIM selector`)
    let source: DkimKeySpec['source'] | undefined
    if (rest[0] === 'env' && rest.length === 2) {
      const name = rest[1] ?? ''
      if (ENV_NAME.test(name)) source = { env: name }
      else problems.push(`${where}: "${name}" is not an environment variable name`)
    } else {
      const file = rest.join(':')
      if (file === '') problems.push(`${where}: the key file is missing (domain:selector:keyfile)`)
      else source = { file }
    }
    if (source !== undefined)
      specs.push({ domain, selector, source, ...(algorithm === undefined ? {} : { algorithm }) })
  }
  const seen = new Set<string>()
  for (const s of specs) {
    const id = `${s.selector}._domainkey.${s.domain}`.toLowerCase()
    if (seen.has(id)) problems.push(`"${s.domain}:${s.selector}" is listed twice`)
    seen.add(id)
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, specs }
}

/**
 * Reads and checks every key (at start: a bad key stops the process, not the first send). Throws
 * INK_ERR_INVALID_CONFIG listing each problem: unreadable file, unset variable, not a PEM private
 * key, a key of another type than its algorithm, an RSA key under 1024 bits.
 */
export function loadDkimKeys(
  setting: string,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): DkimKeyData[] {
  const parsed = parseDkimSetting(setting)
  if (!parsed.ok) throw invalidConfig(parsed.problems.map((p) => `INKSTREAM_DKIM: ${p}`))
  const problems: string[] = []
  const keys: DkimKeyData[] = []
  for (const spec of parsed.specs) {
    const where = `INKSTREAM_DKIM "${spec.domain}:${spec.selector}"`
    let pem: string
    if ('file' in spec.source) {
      try {
        pem = readFile(spec.source.file)
      } catch (err) {
        // The error's code (ENOENT, EACCES) and the path: never the content.
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable'
        problems.push(`${where}: cannot read key file ${spec.source.file} (${code})`)
        continue
      }
    } else {
      const value = env[spec.source.env]
      if (value === undefined || value.trim() === '') {
        problems.push(`${where}: environment variable ${spec.source.env} is not set`)
        continue
      }
      pem = value
    }
    const key = loadKey(pem, spec, where)
    if (typeof key === 'string') problems.push(key)
    else keys.push(key)
  }
  if (problems.length > 0) throw invalidConfig(problems)
  return keys
}

function loadKey(pem: string, spec: DkimKeySpec, where: string): DkimKeyData | string {
  let key: KeyObject
  try {
    // Environment variables often carry the PEM with literal "\n" for its line breaks.
    key = createPrivateKey({ key: pem.includes('\n') ? pem : pem.replaceAll('\\n', '\n'), format: 'pem' })
  } catch {
    // OpenSSL's reason is not passed on: it adds nothing a user can act on, and must never risk
    // quoting key bytes.
    return `${where}: not a PEM private key (expected "-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----")`
  }
  const type = key.asymmetricKeyType
  const algorithm = type === 'rsa' ? 'rsa-sha256' : type === 'ed25519' ? 'ed25519-sha256' : undefined
  if (algorithm === undefined)
    return `${where}: a ${type ?? 'unknown'} key; DKIM signs with RSA or Ed25519 keys`
  if (spec.algorithm !== undefined && spec.algorithm !== algorithm)
    return `${where}: the key is ${type}, not for ${spec.algorithm}`
  const bits = key.asymmetricKeyDetails?.modulusLength
  if (type === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS)
    return `${where}: the RSA key has ${bits} bits; receivers refuse keys under ${MIN_RSA_BITS} (use 2048)`
  // A damaged key can still parse; it would sign every message with a signature no receiver accepts.
  const publicKey = createPublicKey(key)
  const probe = Buffer.from('inkstream dkim key check')
  const hash = algorithm === 'rsa-sha256' ? 'sha256' : null
  let matches = false
  try {
    matches = verify(hash, probe, publicKey, sign(hash, probe, key))
  } catch {
    matches = false
  }
  if (!matches) return `${where}: the private key does not match its public key (a damaged key file?)`
  return {
    domain: spec.domain,
    selector: spec.selector,
    algorithm,
    privateKeyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKeyValue(publicKey),
  }
}

/** The `p=` of a public key: SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519. */
export function publicKeyValue(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' })
  // An Ed25519 SPKI is a fixed 12-byte prefix and the key (RFC 8410); RFC 8463 publishes the key alone.
  return (key.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64')
}

/** The TXT record at `<selector>._domainkey.<domain>`: `v=DKIM1; k=rsa; p=…`. */
export function dkimRecord(key: Pick<DkimKeyData, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${key.publicKey}`
}
