/** Redis for the scale-out tests: REDIS_URL, default redis://127.0.0.1:6379. */
import net from 'node:net'
import { missingService } from './services.ts'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** False when Redis accepts connections; else the skip reason (throws under INKSTREAM_REQUIRE_SERVICES=1). */
export async function redisMissing(): Promise<string | false> {
  const target = new URL(REDIS_URL)
  const up = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: target.hostname, port: Number(target.port || 6379), timeout: 1_000 })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
  return missingService(
    'Redis',
    up,
    `nothing accepts connections at ${REDIS_URL} (npm run services:up starts it)`,
  )
}
