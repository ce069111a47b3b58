/**
 * The dashboard page-load baseline (bench/dashboard.ts): a bare node:http server answering
 * `GET /page?bytes=N` with one static HTML page of exactly N bytes — a `#page-title` heading and text
 * — so the browser receives as many bytes as a dashboard page load, with no script, no API call and
 * no rendering work.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const HEAD =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bare page</title><link rel="icon" href="data:,"></head><body><h1 id="page-title">Bare page</h1><pre>'
const TAIL = '</pre></body></html>\n'
const LINE = 'static text of the same byte size as the dashboard page load, no script, no data.\n'

/** An HTML page of exactly `bytes` bytes (ASCII), at least the frame's own size. */
export function barePage(bytes: number): string {
  const fill = Math.max(0, bytes - HEAD.length - TAIL.length)
  return HEAD + LINE.repeat(Math.ceil(fill / LINE.length)).slice(0, fill) + TAIL
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = createServer((req, res) => {
    req.resume()
    const url = new URL(req.url ?? '/', 'http://bare')
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end()
    const bytes = Number(url.searchParams.get('bytes') ?? '1000')
    if (url.pathname !== '/page' || !Number.isSafeInteger(bytes) || bytes > 50_000_000)
      return void res.writeHead(404).end()
    const body = barePage(bytes)
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    })
    res.end(body)
  })
  server.keepAliveTimeout = 72_000
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo
    process.stdout.write(`listening at http://127.0.0.1:${port}\n`)
  })
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}
