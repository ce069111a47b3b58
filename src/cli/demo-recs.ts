/**
 * The demo's recommendations API, the connected-content source of its templates: a node:http server
 * on 127.0.0.1 that answers `GET /recs?user=…` with three products, usually in 20-80 ms, sometimes
 * late (400 ms, past the templates' 200 ms budget) or failing (503), so fallbacks show on the
 * dashboard's charts and in sent messages.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PRODUCTS } from './demo-catalog.ts'

export interface RecsServer {
  url: string
  /** Requests answered so far, by kind. */
  counts: { ok: number; slow: number; failed: number }
  close(): Promise<void>
}

export interface RecsOptions {
  /** Share of requests answered after `slowMs` (default 0.12). */
  slowShare?: number
  /** Share of requests answered 503 (default 0.04). */
  failShare?: number
  slowMs?: number
  /** Port to try first (0 or taken: any free one). */
  port?: number
  random?: () => number
}

export async function startRecsServer(opts: RecsOptions = {}): Promise<RecsServer> {
  const random = opts.random ?? Math.random
  const slowShare = opts.slowShare ?? 0.12
  const failShare = opts.failShare ?? 0.04
  const counts = { ok: 0, slow: 0, failed: 0 }
  const timers = new Set<NodeJS.Timeout>()
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/recs') {
      res.writeHead(404).end()
      return
    }
    const roll = random()
    if (roll < failShare) {
      counts.failed++
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"recommendations warming up"}')
      return
    }
    const slow = roll < failShare + slowShare
    if (slow) counts.slow++
    else counts.ok++
    const user = url.searchParams.get('user') ?? ''
    const start = [...user].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % PRODUCTS.length
    const items = [0, 1, 2].map((i) => {
      const p = PRODUCTS[(start + i) % PRODUCTS.length]!
      return { product_id: p.product_id, name: p.name, price: p.price }
    })
    const body = JSON.stringify({ title: 'Picked for you', items })
    const timer = setTimeout(
      () => {
        timers.delete(timer)
        res.writeHead(200, { 'content-type': 'application/json' }).end(body)
      },
      slow ? (opts.slowMs ?? 400) : 20 + Math.floor(random() * 60),
    )
    timers.add(timer)
  })
  // The same port as the last run where it is free: the templates' source URL, and so their version, stay.
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  await listen(opts.port ?? 0).catch(() => listen(0))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: async () => {
      for (const t of timers) clearTimeout(t)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
