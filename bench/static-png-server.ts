/**
 * The open-time baseline: a bare node:http server answering every GET with one static PNG of the
 * size given as argv (`WIDTHxHEIGHT`), read from memory — what serving an image costs with no token,
 * render, cache or event.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PNG } from 'pngjs'

const [w, h] = (process.argv[2] ?? '600x240').split('x').map(Number)
const png = new PNG({ width: w ?? 600, height: h ?? 240 })
png.data.fill(255)
const BODY = PNG.sync.write(png)

const server = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'image/png',
    'content-length': BODY.length,
    'cache-control': 'private, max-age=30',
  })
  res.end(BODY)
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
