/**
 * What the ESP webhook tests play the providers with: certificates made with openssl at test time
 * (a TLS certificate for a local "SNS" HTTPS server, and the RSA certificate SNS signs with),
 * SNS's signing (the canonical string as the AWS docs list it, written out here apart from the
 * code under test), SendGrid's ECDSA signature, and payloads in the shapes the providers document.
 */
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { tempDir } from '../helpers/app.ts'

/** A self-signed certificate for `localhost` (its own trust root) and its key, as PEM. */
export function selfSigned(cn = 'localhost'): { key: string; cert: string } {
  const dir = tempDir('inkstream-certs-')
  try {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ],
      { stdio: 'ignore' },
    )
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A local stand-in for sns.<region>.amazonaws.com: serves certificates and records every GET. */
export interface FakeSns {
  port: number
  /** Paths (with query) requested, in order. */
  requests: string[]
  /** Serves `pem` at `path`. */
  serve(path: string, pem: string): void
  close(): Promise<void>
}

export async function startFakeSns(tls: { key: string; cert: string }): Promise<FakeSns> {
  const files = new Map<string, string>()
  const requests: string[] = []
  const server = https.createServer(tls, (req, res) => {
    const url = req.url ?? '/'
    requests.push(url)
    const path = url.split('?', 1)[0] ?? '/'
    if (path === '/' && url.includes('Action=ConfirmSubscription')) {
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(
        '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>',
      )
      return
    }
    const pem = files.get(path)
    res.writeHead(pem === undefined ? 404 : 200, { 'content-type': 'application/x-pem-file' })
    res.end(pem ?? 'not found')
  })
  // Every interface: `localhost` may resolve to ::1 or 127.0.0.1.
  await new Promise<void>((resolve) => server.listen(0, resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    serve: (path, pem) => void files.set(path, pem),
    close: async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

/** The fields of an SNS message before it is signed. */
export type UnsignedSns = Record<string, string> & { Type: string }

/** AWS docs: the fields signed, in this order, per message type (Subject only when present). */
const SIGNED: Record<string, string[]> = {
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

/** Signs an SNS message as SNS does (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA). */
export function snsSigned(
  m: UnsignedSns,
  key: string,
  certUrl: string,
  version: '1' | '2' = '2',
): Record<string, string> {
  const fields = SIGNED[m.Type] ?? []
  const text = fields
    .filter((f) => m[f] !== undefined)
    .map((f) => `${f}\n${m[f]}\n`)
    .join('')
  const signature = sign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256', Buffer.from(text), key).toString(
    'base64',
  )
  return { ...m, SignatureVersion: version, Signature: signature, SigningCertURL: certUrl }
}

export const TOPIC = 'arn:aws:sns:us-west-2:123456789012:ses-feedback'

/** An SNS Notification carrying an SES notification (JSON in Message), unsigned. */
export function sesNotification(messageId: string, ses: object): UnsignedSns {
  return {
    Type: 'Notification',
    MessageId: messageId,
    TopicArn: TOPIC,
    Message: JSON.stringify(ses),
    Timestamp: '2026-11-28T11:59:00.000Z',
    UnsubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC}:1`,
  }
}

/** SES's `mail` object with the original headers (AWS docs' bounce example, our Message-ID). */
export function sesMail(messageIdHeader: string | undefined, to: string): object {
  const headers = [
    { name: 'From', value: 'Shop <news@shop.example>' },
    { name: 'To', value: to },
    { name: 'Subject', value: 'Spring sale' },
    ...(messageIdHeader === undefined ? [] : [{ name: 'Message-ID', value: messageIdHeader }]),
  ]
  return {
    timestamp: '2026-11-28T11:58:00.000Z',
    source: 'news@shop.example',
    sourceArn: 'arn:aws:ses:us-west-2:123456789012:identity/shop.example',
    sourceIp: '127.0.3.0',
    sendingAccountId: '123456789012',
    messageId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000',
    destination: [to],
    headersTruncated: false,
    headers,
    commonHeaders: {
      from: ['Shop <news@shop.example>'],
      to: [to],
      ...(messageIdHeader === undefined ? {} : { messageId: messageIdHeader }),
      subject: 'Spring sale',
    },
  }
}

/** An EC P-256 key pair, the public key as SendGrid shows its verification key (base64 DER). */
export function sendgridKeys(): { privateKey: KeyObject; verificationKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { privateKey, verificationKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') }
}

/** SendGrid's signature headers over timestamp + body. */
export function sendgridHeaders(
  privateKey: KeyObject,
  body: string,
  timestamp: number,
): Record<string, string> {
  const ts = String(timestamp)
  const signature = sign('sha256', Buffer.concat([Buffer.from(ts), Buffer.from(body)]), privateKey).toString(
    'base64',
  )
  return {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': signature,
    'x-twilio-email-event-webhook-timestamp': ts,
  }
}
