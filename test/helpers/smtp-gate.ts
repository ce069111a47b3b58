/**
 * A TCP forwarder in front of the test SMTP server that can "take the mail server down": `shut()`
 * stops listening (new connections are refused) and closes every connection as soon as it is
 * between two messages — never in the middle of one (after MAIL FROM, before the reply to the
 * final "."), so an outage refuses messages and loses none. `open()` listens on the same port again.
 */
import net from 'node:net'

export interface SmtpGate {
  readonly port: number
  shut(): Promise<void>
  open(): Promise<void>
}

export async function startSmtpGate(targetPort: number): Promise<SmtpGate> {
  const idleClosers = new Set<() => void>()
  let server: net.Server | undefined
  let port = 0
  let shut = false
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1')
        // busy: between MAIL FROM and the reply to the end of the message's data, or to a reset that
        // gave the message up before its data (every recipient refused). Left busy after a reset,
        // shut() waited for the client's idle timeout (60 s).
        let busy = false
        // The client asked for DATA; its data starts once the server says 354 (pipelined commands
        // reach the server before it has refused the recipients and the DATA).
        let dataAsked = false
        // Between the server's 354 and the final "." (a line of the message is not a command).
        let inData = false
        // The next reply from the server ends the message: the one to its "." or to the reset.
        let replyEnds = false
        const end = () => {
          client.destroy()
          upstream.destroy()
          idleClosers.delete(closeIfIdle)
        }
        const closeIfIdle = () => {
          if (!busy) end()
        }
        idleClosers.add(closeIfIdle)
        for (const socket of [client, upstream]) {
          socket.on('error', end)
          socket.on('close', end)
        }
        client.on('data', (chunk: Buffer) => {
          const text = chunk.toString('latin1')
          if (inData) {
            if (text.endsWith('\r\n.\r\n')) {
              inData = false
              replyEnds = true
            }
          } else {
            // Commands, maybe pipelined: whichever of a reset and a new message comes last counts.
            const reset = text.search(/^RSET\r\n/im)
            const mail = text.search(/^MAIL FROM:/im)
            if (mail >= 0 && mail > reset) {
              busy = true
              replyEnds = false
            } else if (reset >= 0 && busy) {
              dataAsked = false
              replyEnds = true
            }
            if (busy && /^DATA\r\n/im.test(text)) dataAsked = true
          }
          upstream.write(chunk)
        })
        upstream.on('data', (chunk: Buffer) => {
          client.write(chunk)
          if (dataAsked && /^354[ -]/m.test(chunk.toString('latin1'))) {
            dataAsked = false
            inData = true
          } else if (replyEnds) {
            replyEnds = false
            busy = false
            if (shut) end()
          }
        })
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port
        server = s
        shut = false
        resolve()
      })
    })
  await open()
  return {
    get port() {
      return port
    },
    open,
    async shut() {
      shut = true
      const s = server
      server = undefined
      for (const close of [...idleClosers]) close()
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}
