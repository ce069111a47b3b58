/**
 * DKIM signing (RFC 6376; Ed25519: RFC 8463) of the exact bytes a transport sends, with mailauth's
 * signer: one DKIM-Signature per configured key, all over one body hash pass, prepended to the
 * message. nodemailer's own `dkim` option signs RSA only, hence mailauth.
 *
 * Signed where the bytes are final: after List-Unsubscribe and every other header is in (they are
 * written by composeMessage), before SMTP dot-stuffing (which the receiving server undoes, RFC 5321
 * §4.5.2: DKIM covers the message, not its transfer encoding).
 */
import type { DkimAlgorithm, DkimKeyData } from './dkim-keys.ts'

type DkimSign = typeof import('mailauth/lib/dkim/sign.js').dkimSign
let loading: Promise<DkimSign> | undefined
/**
 * mailauth takes 120-300 ms to load (it brings its whole library): only a process (or build
 * worker) with DKIM keys loads it, from the moment its signer is made.
 */
const loadDkimSign = (): Promise<DkimSign> => {
  loading ??= import('mailauth/lib/dkim/sign.js').then((m) => m.dkimSign)
  return loading
}

/**
 * The header fields every signature covers when present (`h=`): the ones a reader sees and a
 * forger would change, and the one-click unsubscribe pair (RFC 8058 §4 requires both signed).
 * Never a relay's own instruction header (Postmark's `X-PM-Metadata-*`, smtp-transport.ts): the
 * relay removes it before delivery, and the signature would then fail.
 */
export const SIGNED_HEADERS = [
  'From',
  'Reply-To',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'MIME-Version',
  'Content-Type',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Id',
  'Feedback-ID',
] as const

/** What a signer signs with, without its keys: safe to log and show. */
export interface DkimSelector {
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  publicKey: string
}

export class DkimSigner {
  readonly #keys: readonly DkimKeyData[]
  /** The keys' public half, for `inkstream dns-check` and start-up lines. */
  readonly selectors: readonly DkimSelector[]

  constructor(keys: readonly DkimKeyData[]) {
    if (keys.length === 0) throw new Error('a DKIM signer needs at least one key')
    this.#keys = keys
    void loadDkimSign().catch(() => undefined)
    this.selectors = keys.map(({ domain, selector, algorithm, publicKey }) => ({
      domain,
      selector,
      algorithm,
      publicKey,
    }))
  }

  /** The key data, only to hand to a build worker's own signer (build-pool.ts). */
  keyData(): readonly DkimKeyData[] {
    return this.#keys
  }

  /**
   * `raw` with a DKIM-Signature per key in front. Throws when a signature could not be made (the
   * message must not go out half signed); the error names the selector, never the key.
   */
  async sign(raw: Uint8Array, now: Date = new Date()): Promise<Buffer> {
    const input = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
    const dkimSign = await loadDkimSign()
    const result = await dkimSign(input, {
      canonicalization: 'relaxed/relaxed',
      signTime: now,
      // mailauth reads a colon-separated string (its .d.ts says string[]; an array is ignored).
      headerList: SIGNED_HEADERS.join(':') as unknown as string[],
      signatureData: this.#keys.map((k) => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: k.privateKeyPem,
        algorithm: k.algorithm,
        canonicalization: 'relaxed/relaxed',
      })),
    } as unknown as Parameters<typeof dkimSign>[1])
    const errors = result.errors as unknown as { selector?: string; signingDomain?: string; err?: Error }[]
    const lines = result.signatures.split('\r\n').filter((l) => l.startsWith('DKIM-Signature:')).length
    if (errors.length > 0 || lines !== this.#keys.length) {
      const which = errors.map((e) => `${e.signingDomain}:${e.selector} (${e.err?.message ?? 'failed'})`)
      throw new Error(`DKIM signing failed: ${which.join('; ') || 'a signature is missing'}`)
    }
    return Buffer.concat([Buffer.from(result.signatures, 'latin1'), input])
  }
}
