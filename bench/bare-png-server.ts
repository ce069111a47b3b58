/**
 * The open-time baseline: a bare node:http server answering every GET with one static PNG (the file
 * named by argv[2], read once), with the same kind of headers an image route sends. What serving an
 * image of that size costs with no token, no profile, no render and no cache lookup.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const file = process.argv[2]
if (file === undefined) throw new Error('usage: bare-png-server.ts <file.png>')
const PNG = readFileSync(file)

const server = createServer((req, res) => {
  req.resume()
  res.writeHead(200, {
    'content-type': 'image/png',
    'content-length': PNG.length,
    'cache-control': 'private, max-age=30',
    etag: '"static"',
  })
  res.end(PNG)
})
// Same idle keep-alive as fastify's default, so the paced sender's sockets behave alike on both.
server.keepAliveTimeout = 72_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`listening at http://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
