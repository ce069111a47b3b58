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
        // busy: between MAIL FROM and the reply to the end of the message's data.
        let busy = false
        let dataEnded = false
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
          if (/^MAIL FROM:/im.test(text)) busy = true
          if (busy && text.endsWith('\r\n.\r\n')) dataEnded = true
          upstream.write(chunk)
          // A message given up before its data (every recipient refused: the client resets): between
          // two messages again. Left busy, shut() waited for the client's idle timeout (60 s).
          if (busy && !dataEnded && /^RSET\r\n/im.test(text)) {
            busy = false
            if (shut) end()
          }
        })
        upstream.on('data', (chunk: Buffer) => {
          client.write(chunk)
          if (dataEnded) {
            dataEnded = false
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
