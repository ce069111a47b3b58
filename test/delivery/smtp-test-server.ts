/**
 * A real SMTP server on 127.0.0.1 for transport tests (smtp-server), with a per-recipient script of
 * answers, and a small hand-written reader for the messages it receives (no mail parser dependency).
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server'

/**
 * How the server answers a recipient:
 * - `accept`: 250 everywhere;
 * - `rcpt-421` / `rcpt-550` / `rcpt-554`: that reply to RCPT TO (smtp-server closes the connection
 *   after a 421); 550 and 554 say `5.1.1` (the mailbox does not exist: a hard bounce);
 * - `rcpt-drop`: the socket is destroyed instead of answering RCPT TO;
 * - `data-451` / `data-554`: the whole message is read, then that reply to the final '.';
 * - `data-drop-mid`: the socket is destroyed when the first chunk of the message arrives;
 * - `data-drop-after`: the whole message is read and **kept**, then the socket is destroyed before
 *   the reply (the case where a client cannot know the server has the message);
 * - `data-stall`: the whole message is read and kept, and no reply ever comes (client timeout).
 */
export type Answer =
  | 'accept'
  | 'rcpt-421'
  | 'rcpt-550'
  | 'rcpt-554'
  | 'rcpt-drop'
  | 'data-451'
  | 'data-554'
  | 'data-drop-mid'
  | 'data-drop-after'
  | 'data-stall'

export interface ReceivedMessage {
  mailFrom: string
  rcptTo: string[]
  /** The client gave the SMTPUTF8 parameter on MAIL FROM (RFC 6531). */
  smtpUtf8: boolean
  raw: string
}

export interface SmtpServerOptions {
  /** Do not announce SMTPUTF8 in the EHLO reply (a server without RFC 6531 support). */
  hideSMTPUTF8?: boolean
}

export interface TestSmtpServer {
  readonly port: number
  /** Messages the server kept (answered 250, or read in full before a `data-drop-after`). */
  readonly received: ReceivedMessage[]
  /** Number of TCP connections the server accepted so far. */
  readonly connections: number
  /** Number of DATA commands the server answered with 354 (every attempt to hand over a body). */
  readonly dataCommands: number
  /** DATA commands of messages to this recipient (case-insensitive). */
  dataCommandsTo(recipient: string): number
  /**
   * How to answer this recipient from now on; with `times`, only for that many messages that reach
   * DATA (a refusal at RCPT TO does not count), then accept.
   */
  answer(recipient: string, answer: Answer, times?: number): void
  /** Resolves once `count` messages were received; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>
  close(): Promise<void>
}

export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const answers = new Map<string, Answer>()
  const received: ReceivedMessage[] = []
  const waiters = new Set<() => void>()
  let connections = 0
  let dataCommands = 0
  const dataTo = new Map<string, number>()
  const remaining = new Map<string, number>()
  const answerFor = (address: string): Answer => answers.get(address.toLowerCase()) ?? 'accept'
  /** The answer for a message's DATA; counts down a limited answer. */
  const dataAnswerFor = (address: string): Answer => {
    const key = address.toLowerCase()
    const answer = answerFor(key)
    const left = remaining.get(key)
    if (left !== undefined && left <= 1) {
      answers.delete(key)
      remaining.delete(key)
    } else if (left !== undefined) {
      remaining.set(key, left - 1)
    }
    return answer
  }

  const keep = (session: SMTPServerSession, raw: string) => {
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
    received.push({
      mailFrom,
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      smtpUtf8: session.envelope.smtpUtf8 === true,
      raw,
    })
    for (const wake of waiters) wake()
  }

  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    hideSMTPUTF8: options.hideSMTPUTF8 ?? false,
    onConnect(_session, callback) {
      connections++
      callback()
    },
    onRcptTo(address, session, callback) {
      const answer = answerFor(address.address)
      if (answer === 'rcpt-421') return callback(smtpError(421, '4.3.2 Try again later'))
      if (answer === 'rcpt-550') return callback(smtpError(550, `5.1.1 <${address.address}>: no such user`))
      if (answer === 'rcpt-554') return callback(smtpError(554, '5.1.1 No such user'))
      if (answer === 'rcpt-drop') return dropSession(server, session)
      callback()
    },
    onData(stream, session, callback) {
      dataCommands++
      for (const r of session.envelope.rcptTo)
        dataTo.set(r.address.toLowerCase(), (dataTo.get(r.address.toLowerCase()) ?? 0) + 1)
      const answer = dataAnswerFor(session.envelope.rcptTo[0]?.address ?? '')
      if (answer === 'data-drop-mid') {
        stream.once('data', () => dropSession(server, session))
        stream.resume()
        return
      }
      readAll(stream).then((raw) => {
        if (answer === 'data-drop-after') {
          keep(session, raw)
          return dropSession(server, session)
        }
        if (answer === 'data-stall') return keep(session, raw)
        if (answer === 'data-451') return callback(smtpError(451, '4.3.0 Local problem, try later'))
        if (answer === 'data-554') return callback(smtpError(554, '5.7.1 Message refused'))
        keep(session, raw)
        callback(null, 'OK: queued as TEST')
      }, callback)
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new Error('the SMTP server has no TCP port')

  return {
    port: address.port,
    received,
    get connections() {
      return connections
    },
    get dataCommands() {
      return dataCommands
    },
    dataCommandsTo(recipient) {
      return dataTo.get(recipient.toLowerCase()) ?? 0
    },
    answer(recipient, answer, times) {
      answers.set(recipient.toLowerCase(), answer)
      if (times === undefined) remaining.delete(recipient.toLowerCase())
      else remaining.set(recipient.toLowerCase(), times)
    },
    waitForMessages(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < count) return
          cleanup()
          resolve(received.slice())
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`expected ${count} messages within ${timeoutMs} ms, got ${received.length}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode })
}

/** Destroys the session's socket without a reply: the client sees the connection go mid-command. */
function dropSession(server: SMTPServer, session: SMTPServerSession): void {
  for (const connection of server.connections) {
    if (connection.id === session.id) connection._socket.destroy()
  }
}

async function readAll(stream: SMTPServerDataStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

// ---- reading what was received --------------------------------------------------------------

/** The header block as unfolded lines (`Name: value`), in order. */
export function headerLines(raw: string): string[] {
  const end = raw.indexOf('\r\n\r\n')
  const block = end === -1 ? raw : raw.slice(0, end)
  return block.replace(/\r\n[ \t]/g, ' ').split('\r\n')
}

/** Every value of a header (case-insensitive name), unfolded and with encoded words decoded. */
export function headerValues(raw: string, name: string): string[] {
  const prefix = `${name.toLowerCase()}:`
  return headerLines(raw)
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => decodeWords(line.slice(prefix.length).trim()))
}

/** The one value of a header, or undefined; throws when the header appears more than once. */
export function header(raw: string, name: string): string | undefined {
  const values = headerValues(raw, name)
  if (values.length > 1) throw new Error(`${name} appears ${values.length} times`)
  return values[0]
}

export interface MimePart {
  contentType: string
  body: string
}

/** The leaf parts of a multipart message, with their transfer encoding undone. */
export function mimeParts(raw: string): MimePart[] {
  const contentType = header(raw, 'Content-Type') ?? ''
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1]
  if (!boundary) return [part(raw)]
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((chunk) => !chunk.startsWith('--'))
    .map((chunk) => part(chunk.replace(/^\r\n/, '')))
}

function part(raw: string): MimePart {
  const contentType = header(raw, 'Content-Type') ?? 'text/plain'
  const encoding = (header(raw, 'Content-Transfer-Encoding') ?? '7bit').toLowerCase()
  const split = raw.indexOf('\r\n\r\n')
  const body = (split === -1 ? '' : raw.slice(split + 4)).replace(/\r\n$/, '')
  return { contentType, body: decodeBody(body, encoding) }
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === 'base64') return Buffer.from(body, 'base64').toString('utf8')
  if (encoding === 'quoted-printable') {
    const softBreaks = body.replace(/=\r\n/g, '')
    return Buffer.from(
      softBreaks.replace(/=([0-9A-F]{2})/gi, (_, hex: string) =>
        String.fromCharCode(Number.parseInt(hex, 16)),
      ),
      'latin1',
    ).toString('utf8')
  }
  return body
}

/** Decodes RFC 2047 encoded words (UTF-8, B or Q), joining adjacent ones as the RFC says. */
export function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
      kind.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) =>
                String.fromCharCode(Number.parseInt(hex, 16)),
              ),
            'latin1',
          ).toString('utf8'),
    )
}
