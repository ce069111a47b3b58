/**
 * A real webhook receiver for the tests: node:http on a loopback port 0. Each request is recorded
 * (headers and raw body) and answered by `respond`: a status, or 'hang' (never answered until the
 * receiver closes), or a promise of a status (the test holds the answer until it resolves it).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  method: string
  headers: IncomingHttpHeaders
  body: string
  /** Set once the receiver has answered. */
  answered: boolean
}

export type Answer = number | 'hang' | Promise<number>

export interface Receiver {
  url: string
  requests: Received[]
  /** Chooses the answer to the n-th request (0-based). */
  respond: (n: number, req: Received) => Answer
  close(): Promise<void>
}

export async function startReceiver(respond: (n: number, req: Received) => Answer): Promise<Receiver> {
  const requests: Received[] = []
  const receiver: Receiver = { url: '', requests, respond, close: async () => {} }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const got: Received = {
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        answered: false,
      }
      const n = requests.push(got) - 1
      const answer = receiver.respond(n, got)
      if (answer === 'hang') return
      void Promise.resolve(answer).then((status) => {
        got.answered = true
        res.writeHead(status, status >= 300 && status < 400 ? { location: '/elsewhere' } : {})
        res.end('ok')
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  receiver.url = `http://127.0.0.1:${port}/hooks/open`
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return receiver
}

/** Waits for `cond` (polled every 5 ms), failing after `ms`: no sleeps standing in for a condition. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
