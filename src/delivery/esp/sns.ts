/**
 * Amazon SNS HTTP(S) deliveries: the message's fields, the string SNS signs, and the verifier.
 *
 * AWS docs ("Verifying the signatures of Amazon SNS messages"): the string to sign is `Name\nvalue\n`
 * for a fixed, sorted list of fields per message type — Notification: Message, MessageId, Subject
 * (only when present), Timestamp, TopicArn, Type; SubscriptionConfirmation and
 * UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type.
 * SignatureVersion 1 signs it with SHA1withRSA, 2 with SHA256withRSA, with the key of the X.509
 * certificate at SigningCertURL. That URL must be https on an SNS host (`sns.<region>.amazonaws.com`),
 * or anyone could sign with a certificate of their own; certificates are cached by URL.
 */

import { type KeyObject, verify, X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import { webhookMalformed, webhookUnauthorized, webhookUnverifiable } from '../../core/errors.ts'

export type SnsType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation'

export interface SnsMessage {
  Type: SnsType
  MessageId: string
  TopicArn: string
  Message: string
  Timestamp: string
  SignatureVersion: '1' | '2'
  Signature: string
  SigningCertURL: string
  Subject?: string | undefined
  SubscribeURL?: string | undefined
  Token?: string | undefined
}

const SIGNED_FIELDS: Record<SnsType, readonly (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The SNS message of a request body; 400 INK_ERR_WEBHOOK_MALFORMED when it is not one. */
export function parseSnsMessage(body: string): SnsMessage {
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch {
    throw webhookMalformed('SES (SNS)', 'the body is not JSON')
  }
  if (!isRecord(raw)) throw webhookMalformed('SES (SNS)', 'the body is not a JSON object')
  const type = raw.Type
  if (type !== 'Notification' && type !== 'SubscriptionConfirmation' && type !== 'UnsubscribeConfirmation')
    throw webhookMalformed(
      'SES (SNS)',
      `Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation`,
    )
  const need = [...SIGNED_FIELDS[type].filter((f) => f !== 'Subject'), 'Signature', 'SigningCertURL']
  for (const field of need)
    if (typeof raw[field] !== 'string' || raw[field] === '')
      throw webhookMalformed('SES (SNS)', `${field} is missing or not a string`)
  if (raw.SignatureVersion !== '1' && raw.SignatureVersion !== '2')
    throw webhookMalformed('SES (SNS)', 'SignatureVersion must be "1" or "2"')
  if (raw.Subject !== undefined && raw.Subject !== null && typeof raw.Subject !== 'string')
    throw webhookMalformed('SES (SNS)', 'Subject is not a string')
  // Every field read above is a string: the object is an SnsMessage.
  return raw as unknown as SnsMessage
}

/** The string SNS signed for this message. */
export function snsStringToSign(m: SnsMessage): string {
  let s = ''
  for (const field of SIGNED_FIELDS[m.Type]) {
    const value = m[field]
    // Subject is signed only when the notification has one (SNS sends null or omits it otherwise).
    if (value === undefined || value === null) continue
    s += `${field}\n${value}\n`
  }
  return s
}

/** GETs an https URL's body as text (small, no redirects); rejects on a non-200 or a timeout. */
export type FetchText = (url: URL) => Promise<string>

const MAX_FETCH_BYTES = 64 * 1024
const FETCH_TIMEOUT_MS = 5_000

/** node:https with the process's trust store (the default agent). */
export const httpsFetchText: FetchText = (url) =>
  new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: FETCH_TIMEOUT_MS }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`${url.host} answered ${res.statusCode}`))
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_FETCH_BYTES)
          req.destroy(new Error(`${url.host} sent more than ${MAX_FETCH_BYTES} bytes`))
        else chunks.push(c)
      })
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      res.on('error', reject)
    })
    req.on('timeout', () =>
      req.destroy(new Error(`${url.host} did not answer within ${FETCH_TIMEOUT_MS} ms`)),
    )
    req.on('error', reject)
    req.end()
  })

export interface SnsVerifierOptions {
  /** Whether a SigningCertURL's / SubscribeURL's `host` (with port, if any) may be fetched. */
  allowHost: (host: string) => boolean
  fetchText?: FetchText
  /** Certificates kept (by URL); SNS rotates them rarely. */
  cacheSize?: number
}

/** Verifies SNS messages and confirms subscriptions. */
export class SnsVerifier {
  readonly #allowHost: (host: string) => boolean
  readonly #fetch: FetchText
  readonly #cacheSize: number
  readonly #certs = new Map<string, Promise<KeyObject>>()

  constructor(opts: SnsVerifierOptions) {
    this.#allowHost = opts.allowHost
    this.#fetch = opts.fetchText ?? httpsFetchText
    this.#cacheSize = opts.cacheSize ?? 32
  }

  /** An https URL on an allowed host, or 401 INK_ERR_WEBHOOK_UNAUTHORIZED naming which field. */
  allowedUrl(value: string | undefined, field: string): URL {
    const url = value !== undefined && URL.canParse(value) ? new URL(value) : undefined
    if (url === undefined || url.protocol !== 'https:' || url.username !== '' || url.password !== '')
      throw webhookUnauthorized('SES (SNS)', `${field} is not an https URL`)
    if (!this.#allowHost(url.host))
      throw webhookUnauthorized('SES (SNS)', `${field} is not on an SNS host (${url.host})`)
    return url
  }

  /** Resolves when the message is signed by SNS; throws 401 (forged) or 503 (certificate unreachable). */
  async verify(m: SnsMessage): Promise<void> {
    const url = this.allowedUrl(m.SigningCertURL, 'SigningCertURL')
    if (!url.pathname.endsWith('.pem')) throw webhookUnauthorized('SES (SNS)', 'SigningCertURL is not a .pem')
    const key = await this.#certificate(url)
    const algorithm = m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256'
    let ok = false
    try {
      ok = verify(algorithm, Buffer.from(snsStringToSign(m), 'utf8'), key, Buffer.from(m.Signature, 'base64'))
    } catch {
      ok = false
    }
    if (!ok) throw webhookUnauthorized('SES (SNS)', 'the message signature does not verify')
  }

  /** GETs the SubscribeURL of a verified SubscriptionConfirmation (on an SNS host only). */
  async confirm(m: SnsMessage): Promise<void> {
    const url = this.allowedUrl(m.SubscribeURL, 'SubscribeURL')
    try {
      await this.#fetch(url)
    } catch (err) {
      throw webhookUnverifiable('SES (SNS)', 'the subscription could not be confirmed (SubscribeURL)', err)
    }
  }

  async #certificate(url: URL): Promise<KeyObject> {
    const key = url.href
    let cert = this.#certs.get(key)
    if (cert === undefined) {
      cert = this.#fetch(url).then(
        (pem) => {
          try {
            return new X509Certificate(pem).publicKey
          } catch (err) {
            throw webhookUnauthorized(
              'SES (SNS)',
              `SigningCertURL is not an X.509 certificate (${String(err)})`,
            )
          }
        },
        (err: unknown) => {
          throw webhookUnverifiable('SES (SNS)', 'the signing certificate could not be fetched', err)
        },
      )
      if (this.#certs.size >= this.#cacheSize) {
        const oldest = this.#certs.keys().next().value
        if (oldest !== undefined) this.#certs.delete(oldest)
      }
      this.#certs.set(key, cert)
      // A failure is not cached: the next delivery tries again.
      cert.catch(() => this.#certs.delete(key))
    }
    return cert
  }
}
