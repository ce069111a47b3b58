/**
 * Open-loop load: one request every `intervalMs`, sent on schedule whether or not earlier ones
 * were answered (unlike autocannon's closed loop), over a keep-alive node:http agent. Records
 * the round-trip time of every request.
 */
import { Agent, request } from 'node:http'
import type { ServerUnderTest } from './children.ts'
import { type BodyPool, basicAuth } from './events.ts'

export interface PacedSpec {
  path: string
  bodies: BodyPool
  intervalMs: number
  seconds: number
}

export interface PacedResult {
  sent: number
  ok: number
  non2xx: number
  errors: number
  /** Round-trip times in ms, ascending. */
  rttMs: number[]
  /** From the first send to the last response. */
  seconds: number
  /** The latest any send left compared with its schedule (the sender's own jitter). */
  maxLateMs: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function paced(server: ServerUnderTest, spec: PacedSpec): Promise<PacedResult> {
  const { hostname, port } = new URL(server.url)
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const auth = basicAuth(server.writeKey)
  const result: PacedResult = { sent: 0, ok: 0, non2xx: 0, errors: 0, rttMs: [], seconds: 0, maxLateMs: 0 }

  const send = (): Promise<void> =>
    new Promise((resolve) => {
      const body = spec.bodies.next()
      const t0 = performance.now()
      const headers = {
        'content-type': 'application/json',
        'content-length': body.length,
        authorization: auth,
      }
      const req = request({ hostname, port, path: spec.path, method: 'POST', agent, headers }, (res) => {
        res.resume()
        res.on('end', () => {
          result.rttMs.push(performance.now() - t0)
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) result.ok++
          else result.non2xx++
          resolve()
        })
      })
      req.on('error', () => {
        result.errors++
        resolve()
      })
      req.end(body)
    })

  const start = performance.now()
  const ticks = Math.round((spec.seconds * 1000) / spec.intervalMs)
  const inFlight: Promise<void>[] = []
  for (let i = 0; i < ticks; i++) {
    const due = start + i * spec.intervalMs
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    result.maxLateMs = Math.max(result.maxLateMs, performance.now() - due)
    inFlight.push(send())
    result.sent++
  }
  await Promise.all(inFlight)
  result.seconds = (performance.now() - start) / 1000
  result.rttMs.sort((a, b) => a - b)
  agent.destroy()
  return result
}
