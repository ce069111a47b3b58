/**
 * The production Transport: SMTP through a pool of nodemailer connections. Every failure comes back
 * as a SendOutcome (see smtp-outcome.ts for the table); only a bug in this file throws.
 */
import { availableParallelism } from 'node:os'
import type { Readable } from 'node:stream'
import nodemailer from 'nodemailer'
import type Mail from 'nodemailer/lib/mailer'
import type { SMTPPoolOptions, SMTPPoolSentMessageInfo } from 'nodemailer/lib/smtp-pool'
import { invalidConfig } from '../core/errors.ts'
import { BuildPool } from './build-pool.ts'
import type { DkimSigner } from './dkim-sign.ts'
import { isDomainName } from './mailbox.ts'
import { type BuildJob, buildMessage } from './message-build.ts'
import { type PreparedMessage, prepareMessage } from './mime.ts'
import { classifySendError } from './smtp-outcome.ts'
import { installSmtpUtf8Guard, NEEDS_SMTPUTF8 } from './smtputf8-guard.ts'
import type { TokenCodec } from './tokens.ts'
import type { OutgoingMessage, SendOutcome, Transport } from './transport.ts'
import { bounceAddressProblem, verpAddress } from './verp.ts'

export interface SmtpTransportOptions {
  host: string
  port: number
  /** TLS from the first byte (port 465). When false, STARTTLS is used if the server offers it. */
  secure: boolean
  auth?: { user: string; pass: string }
  /** Refuse to send unless STARTTLS succeeds (plain connections only). */
  requireTLS?: boolean
  /** Never try STARTTLS, even when offered. */
  ignoreTLS?: boolean
  /** Open connections at most; default 5. */
  maxConnections?: number
  /** Messages per connection before it is replaced; default 100. */
  maxMessages?: number
  /** With rateLimit: at most rateLimit messages per rateDelta ms, over the whole pool. Default 1000. */
  rateDelta?: number
  /** Messages per rateDelta; 0 (the default) means no limit. */
  rateLimit?: number
  /** ms to open the TCP (and TLS) connection; default 10 000 (nodemailer's own is 2 minutes). */
  connectionTimeout?: number
  /** ms to wait for the greeting after connecting; default 10 000 (nodemailer: 30 s). */
  greetingTimeout?: number
  /** ms of silence on an open connection before it is dropped; default 60 000 (nodemailer: 10 min). */
  socketTimeout?: number
  /** Right-hand side of our Message-IDs: `<messageId@messageIdDomain>`. */
  messageIdDomain: string
  /**
   * Worker threads that track links and build the MIME bytes (build-pool.ts), so the main thread
   * only sends; default one fewer than the cores (at least 1); 0 builds on the main thread.
   */
  buildWorkers?: number
  /** Signs every message with DKIM (dkim-sign.ts), in the build workers when they build the bytes. */
  dkim?: DkimSigner | undefined
  /**
   * The bounce address (INKSTREAM_BOUNCE_ADDRESS, `bounces@example.com`): every message's envelope
   * sender becomes its VERP form `bounces+<messageId>@example.com` (verp.ts), so a bounce names
   * the message in the address it comes back to. Without it the envelope sender is the From address.
   */
  bounceAddress?: string | undefined
  /**
   * Adds `X-PM-Metadata-ink_email_id: <messageId>` to every message this transport builds: Postmark
   * keeps it as the message's metadata and returns it in the `Metadata` of its webhooks, so a
   * Postmark bounce, complaint or delivery names our message (and its campaign) instead of only an
   * address (esp/postmark.ts). On by default for a relay at `*.postmarkapp.com` (config.ts).
   */
  postmarkMetadata?: boolean | undefined
}

/** The header Postmark turns into `Metadata.ink_email_id` (postmark.ts reads it back). */
export const POSTMARK_METADATA_HEADER = 'X-PM-Metadata-ink_email_id'

/** Option key nodemailer copies into the message data untouched; links a message to its tracker. */
const SEND_ID = 'inkstreamSendId'

interface Tracker {
  /** Every message stream nodemailer created for this send (a requeued message gets a new one). */
  streams: Readable[]
}

export class SmtpTransport implements Transport {
  readonly #mailer: Mail<SMTPPoolSentMessageInfo, SMTPPoolOptions>
  readonly #domain: string
  readonly #pool: BuildPool
  readonly #dkim: DkimSigner | undefined
  readonly #bounceAddress: string | undefined
  readonly #postmarkMetadata: boolean
  readonly #trackers = new Map<number, Tracker>()
  readonly #pending = new Set<Promise<SendOutcome>>()
  #nextId = 0
  #closed = false

  constructor(options: SmtpTransportOptions) {
    const problems = optionProblems(options)
    if (problems.length > 0) throw invalidConfig(problems.map((p) => `smtp: ${p}`))
    this.#domain = options.messageIdDomain
    this.#dkim = options.dkim
    this.#bounceAddress = options.bounceAddress
    this.#postmarkMetadata = options.postmarkMetadata === true
    this.#pool = new BuildPool(
      options.buildWorkers ?? Math.max(1, availableParallelism() - 1),
      options.dkim === undefined ? null : { dkim: options.dkim.keyData() },
    )
    installSmtpUtf8Guard()
    // `dkim` must not reach nodemailer: its own `dkim` option would sign a second time (RSA only).
    const {
      messageIdDomain: _,
      buildWorkers: __,
      dkim: ___,
      bounceAddress: ____,
      postmarkMetadata: _____,
      ...smtp
    } = options
    this.#mailer = nodemailer.createTransport({
      ...smtp,
      pool: true,
      connectionTimeout: options.connectionTimeout ?? 10_000,
      greetingTimeout: options.greetingTimeout ?? 10_000,
      socketTimeout: options.socketTimeout ?? 60_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    })
    // nodemailer reports a dropped connection the same way (ECONNECTION / ESOCKET, command 'CONN')
    // whether it happened before the message body was sent or after, so we watch the body stream
    // ourselves. nodemailer's pool makes the same decision — may this message go out again? — by
    // the same test: has the message stream been read (readableDidRead)?
    this.#mailer.use('stream', (mail, done) => {
      const id: unknown = Reflect.get(mail.data, SEND_ID)
      const tracker = typeof id === 'number' ? this.#trackers.get(id) : undefined
      if (tracker) {
        const node = mail.message
        const create = node.createReadStream.bind(node)
        node.createReadStream = (streamOptions) => {
          const stream = create(streamOptions)
          tracker.streams.push(stream)
          return stream
        }
      }
      done()
    })
  }

  /**
   * Sends one message; resolves with what happened, never rejects for an SMTP or network failure.
   * On success `smtpMessageId` is the Message-ID header we sent (what bounces and feedback reports
   * quote); the server's own queue id, if any, is in `response` ("250 OK: queued as …").
   */
  /**
   * Tracks (with `job.track`) and builds the bytes this transport sends, in a build worker when one
   * is ready, else inline: the same function either way (message-build.ts).
   */
  async build(job: BuildJob, codec: TokenCodec, now: number): Promise<OutgoingMessage> {
    const full = { ...job, message: this.#withHeaders(job.message), messageIdDomain: this.#domain }
    // A codec without its key at hand (a test's) signs on this thread.
    const signing = job.track === undefined ? undefined : codec.signing
    const inWorker =
      job.track !== undefined && signing === undefined ? undefined : this.#pool.run(full, signing, now)
    return inWorker ?? buildMessage(full, codec)
  }

  async send(message: OutgoingMessage): Promise<SendOutcome> {
    // Bytes built already (by build()) are sent as they are; the headers matter only to a build.
    let ready = message.prepared?.domain === this.#domain ? message : this.#withHeaders(message)
    // Bytes not built yet: built in a worker when one is ready (the main thread only sends).
    if (ready.prepared?.domain !== this.#domain && !this.#closed) {
      const unbuilt = ready
      const built = this.#pool.run({ message: unbuilt, messageIdDomain: this.#domain }, undefined, Date.now())
      if (built !== undefined) ready = await built.catch(() => unbuilt)
    }
    return this.#send(ready)
  }

  /** The message with the headers this transport adds to what it builds (postmarkMetadata). */
  #withHeaders<M extends Omit<OutgoingMessage, 'prepared'>>(message: M): M {
    if (!this.#postmarkMetadata) return message
    return { ...message, headers: { ...message.headers, [POSTMARK_METADATA_HEADER]: message.messageId } }
  }

  async #send(message: OutgoingMessage): Promise<SendOutcome> {
    const bytes = message.prepared?.domain === this.#domain ? message.prepared : undefined
    const prepared: PreparedMessage =
      bytes !== undefined
        ? {
            ok: true,
            ...bytes,
            raw: Buffer.from(bytes.raw.buffer, bytes.raw.byteOffset, bytes.raw.byteLength),
          }
        : prepareMessage(message, this.#domain)
    if (!prepared.ok) {
      return { outcome: 'invalid', field: prepared.field, message: prepared.message }
    }
    // Bytes built on this thread (no worker was ready) are signed here; a worker's come signed.
    if (this.#dkim !== undefined && bytes?.dkimSigned !== true) {
      try {
        prepared.raw = await this.#dkim.sign(prepared.raw)
      } catch (err) {
        // Never sent unsigned: a receiver enforcing DMARC would reject or junk it.
        return { outcome: 'temporary', code: null, message: (err as Error).message, accepted: 'no' }
      }
    }
    if (this.#closed) {
      return { outcome: 'temporary', code: null, message: 'the SMTP transport is closed', accepted: 'no' }
    }
    const id = this.#nextId++
    const tracker: Tracker = { streams: [] }
    this.#trackers.set(id, tracker)
    // VERP: the envelope sender names the message (the headers, and the DKIM signature, are unchanged).
    const envelope =
      this.#bounceAddress === undefined
        ? prepared.envelope
        : { ...prepared.envelope, from: verpAddress(this.#bounceAddress, message.messageId) }
    const mail = {
      envelope: prepared.smtpUtf8 ? { ...envelope, [NEEDS_SMTPUTF8]: true } : envelope,
      raw: prepared.raw,
      disableFileAccess: true,
      disableUrlAccess: true,
      [SEND_ID]: id,
    }
    const pending = this.#mailer.sendMail(mail).then(
      (info): SendOutcome => ({
        outcome: 'sent',
        response: info.response,
        smtpMessageId: prepared.messageIdHeader,
      }),
      (err: unknown) =>
        classifySendError(err, { bodyStarted: tracker.streams.some((stream) => stream.readableDidRead) }),
    )
    const settled = pending.finally(() => {
      this.#trackers.delete(id)
      this.#pending.delete(settled)
    })
    this.#pending.add(settled)
    return settled
  }

  /** Stops taking messages, waits for the ones in flight (bounded by socketTimeout), closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#pending])
    this.#mailer.close()
    await this.#pool.close()
  }
}

function optionProblems(o: SmtpTransportOptions): string[] {
  const problems: string[] = []
  if (o.host.trim() === '') problems.push('host is empty')
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65_535)
    problems.push(`port ${o.port} is not 1–65535`)
  if (o.requireTLS && o.ignoreTLS) problems.push('requireTLS and ignoreTLS contradict each other')
  if (o.requireTLS && o.secure)
    problems.push('requireTLS applies to plain connections; secure is already TLS')
  for (const key of ['maxConnections', 'maxMessages', 'rateDelta'] as const) {
    const value = o[key]
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      problems.push(`${key} must be a positive integer`)
    }
  }
  for (const key of ['connectionTimeout', 'greetingTimeout', 'socketTimeout'] as const) {
    const value = o[key]
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) problems.push(`${key} must be > 0 ms`)
  }
  if (o.rateLimit !== undefined && !(Number.isInteger(o.rateLimit) && o.rateLimit >= 0)) {
    problems.push('rateLimit must be an integer ≥ 0')
  }
  const bounce = o.bounceAddress === undefined ? null : bounceAddressProblem(o.bounceAddress)
  if (bounce !== null) problems.push(`bounceAddress: ${bounce}`)
  if (!isDomainName(o.messageIdDomain))
    problems.push(`messageIdDomain "${o.messageIdDomain}" is not a domain name`)
  return problems
}
