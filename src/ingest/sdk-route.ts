/** GET /sdk.js — the browser snippet, gzipped once at start. */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'

export const SDK_FILE = new URL('./sdk/inkstream.js', import.meta.url)

export function loadSdk(): { source: Buffer; gzipped: Buffer } {
  const source = readFileSync(SDK_FILE)
  return { source, gzipped: gzipSync(source, { level: 9 }) }
}

export async function sdkRoute(app: FastifyInstance): Promise<void> {
  const { source, gzipped } = loadSdk()
  app.get('/sdk.js', async (req, reply) => {
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .header('access-control-allow-origin', '*')
      .header('vary', 'accept-encoding')
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? ''))
      return reply.header('content-encoding', 'gzip').send(gzipped)
    return reply.send(source)
  })
}
