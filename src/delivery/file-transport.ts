/**
 * A Transport that writes each message as an .eml file instead of sending it: for the demo and for
 * tests that need the built message but not SMTP. The bytes are what SmtpTransport would send.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { invalidConfig } from '../core/errors.ts'
import type { DkimSigner } from './dkim-sign.ts'
import { isDomainName } from './mailbox.ts'
import { prepareMessage } from './mime.ts'
import type { OutgoingMessage, SendOutcome, Transport } from './transport.ts'

export interface FileTransportOptions {
  /** Folder for the .eml files; created if missing. */
  dir: string
  /** Right-hand side of our Message-IDs: `<messageId@messageIdDomain>`. */
  messageIdDomain: string
  /** Signs each file as SmtpTransport would sign the message (INKSTREAM_DKIM). */
  dkim?: DkimSigner | undefined
}

export class FileTransport implements Transport {
  readonly #dir: string
  readonly #domain: string
  readonly #dkim: DkimSigner | undefined
  #ready: Promise<unknown> | null = null
  #closed = false
  #tmpCounter = 0

  constructor(options: FileTransportOptions) {
    const problems: string[] = []
    if (options.dir.trim() === '') problems.push('file transport: dir is empty')
    if (!isDomainName(options.messageIdDomain)) {
      problems.push(`file transport: messageIdDomain "${options.messageIdDomain}" is not a domain name`)
    }
    if (problems.length > 0) throw invalidConfig(problems)
    this.#dir = options.dir
    this.#domain = options.messageIdDomain
    this.#dkim = options.dkim
  }

  /** The file a message with this id is written to. */
  pathFor(messageId: string): string {
    return join(this.#dir, `${fileName(messageId)}.eml`)
  }

  /**
   * Writes `<dir>/<messageId>.eml` (CRLF line ends, as sent over SMTP). A second message with the same
   * id replaces the first; the file appears whole or not at all (written aside, then renamed).
   */
  async send(message: OutgoingMessage): Promise<SendOutcome> {
    const prepared = prepareMessage(message, this.#domain)
    if (!prepared.ok) return { outcome: 'invalid', field: prepared.field, message: prepared.message }
    if (this.#closed) {
      return { outcome: 'temporary', code: null, message: 'the file transport is closed', accepted: 'no' }
    }
    const target = this.pathFor(message.messageId)
    const tmp = `${target}.${process.pid}.${this.#tmpCounter++}.tmp`
    try {
      this.#ready ??= mkdir(this.#dir, { recursive: true })
      await this.#ready
      await writeFile(tmp, this.#dkim === undefined ? prepared.raw : await this.#dkim.sign(prepared.raw))
      await rename(tmp, target)
      return { outcome: 'sent', response: `written to ${target}`, smtpMessageId: prepared.messageIdHeader }
    } catch (err) {
      this.#ready = null
      // Best effort: when the folder itself is the problem there is no temporary file to remove.
      await rm(tmp, { force: true }).catch(() => undefined)
      const reason = err instanceof Error ? err.message : String(err)
      return {
        outcome: 'temporary',
        code: null,
        message: `could not write ${target}: ${reason}`,
        accepted: 'no',
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

/** Characters other than [A-Za-z0-9._-] are %-escaped, so any dot-atom id is a safe, distinct file name. */
const fileName = (messageId: string): string =>
  messageId.replace(
    /[^A-Za-z0-9._-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
