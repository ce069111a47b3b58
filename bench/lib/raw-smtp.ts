/**
 * The delivery baseline: a bare SMTP client on node:net sockets. Over each connection it sends one
 * pre-built, pre-dot-stuffed message per transaction (MAIL, RCPT, DATA, body, '.'), pipelined as
 * RFC 2920 allows: MAIL/RCPT/DATA go in one write, and the next transaction's MAIL/RCPT/DATA go in
 * the same write as the previous body. No MIME building, no validation, no pool, no queue.
 */
import { connect, type Socket } from 'node:net'

/** Reads SMTP replies (multi-line aware) from a socket, one promise per reply, in order. */
class ReplyReader {
  #buffer = ''
  readonly #replies: number[] = []
  readonly #waiters: ((code: number) => void)[] = []
  #error: Error | undefined

  constructor(socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      for (let end = this.#buffer.indexOf('\r\n'); end !== -1; end = this.#buffer.indexOf('\r\n')) {
        const line = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end + 2)
        if (line.length >= 3 && line[3] !== '-') this.#push(Number(line.slice(0, 3)))
      }
    })
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new Error('the SMTP connection closed')))
  }

  #push(code: number): void {
    const waiter = this.#waiters.shift()
    if (waiter) waiter(code)
    else this.#replies.push(code)
  }

  #fail(err: Error): void {
    this.#error ??= err
  }

  /** The next reply's code; throws unless it is `expected`. */
  async expect(expected: number): Promise<void> {
    if (this.#error) throw this.#error
    const code =
      this.#replies.length > 0
        ? this.#replies.shift()!
        : await new Promise<number>((resolve) => this.#waiters.push(resolve))
    if (code !== expected) throw new Error(`expected SMTP ${expected}, got ${code}`)
  }
}

/** RFC 5321 §4.5.2 transparency, plus the terminating CRLF.CRLF. */
export function dataBlock(raw: Buffer): Buffer {
  let text = raw.toString('latin1').replace(/\r?\n/g, '\r\n')
  text = text.replace(/^\./gm, '..')
  if (!text.endsWith('\r\n')) text += '\r\n'
  return Buffer.from(`${text}.\r\n`, 'latin1')
}

export interface RawRunResult {
  messages: number
  seconds: number
}

/**
 * Sends `block` (from dataBlock) over `connections` connections, back to back, until `durationMs`
 * has passed (after `warmup` messages per connection, not counted). Returns messages/s.
 */
export async function rawSmtpRun(opts: {
  port: number
  connections: number
  block: Buffer
  from: string
  to: string
  durationMs: number
  warmup?: number
}): Promise<RawRunResult> {
  const envelope = Buffer.from(`MAIL FROM:<${opts.from}>\r\nRCPT TO:<${opts.to}>\r\nDATA\r\n`, 'latin1')
  const warmup = opts.warmup ?? 20
  let start = 0
  let end = 0
  let ready = 0
  let onAllReady: () => void = () => {}
  const allReady = new Promise<void>((r) => {
    onAllReady = r
  })
  const one = async (): Promise<number> => {
    const socket = connect(opts.port, '127.0.0.1')
    socket.setNoDelay(true)
    const replies = new ReplyReader(socket)
    await replies.expect(220)
    socket.write('EHLO bench.example.com\r\n')
    await replies.expect(250)
    socket.write(envelope)
    let sent = 0
    let counting = false
    for (let i = 0; ; i++) {
      await replies.expect(250)
      await replies.expect(250)
      await replies.expect(354)
      if (i === warmup) {
        if (++ready === opts.connections) {
          start = performance.now()
          end = start + opts.durationMs
          onAllReady()
        }
        await allReady
        counting = true
      }
      const more = !counting || performance.now() < end
      socket.write(more ? Buffer.concat([opts.block, envelope]) : opts.block)
      await replies.expect(250)
      if (counting) sent++
      if (!more) break
    }
    socket.end('QUIT\r\n')
    return sent
  }
  const counts = await Promise.all(Array.from({ length: opts.connections }, one))
  const seconds = (performance.now() - start) / 1000
  return { messages: counts.reduce((a, b) => a + b, 0), seconds }
}
