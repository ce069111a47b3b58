/**
 * A TCP forwarder in front of a server (the test SMTP server) that can refuse connections and take
 * them again on the same port: "the mail server is down" without stopping the server behind it.
 */
import net from 'node:net'

export interface TcpGate {
  readonly port: number
  /** Stops listening and cuts the connections it carries: new connections are refused. */
  shut(): Promise<void>
  /** Listens again on the same port. */
  open(): Promise<void>
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  let port = 0
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1')
        const end = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('error', end)
          socket.on('close', end)
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port
        server = s
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
      const s = server
      server = undefined
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}
