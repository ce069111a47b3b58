/**
 * The baseline: a bare node:http server that reads each request body, parses it as JSON and answers
 * 200 {"success":true} (400 when it is not JSON). What the same requests cost with no framework,
 * validation or storage, but with the one step any collector must take: parsing what it received.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const REPLY = Buffer.from('{"success":true}')

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      res.writeHead(400).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': REPLY.length })
    res.end(REPLY)
  })
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
