/** A connected-content source on 127.0.0.1 that holds its answers until released (a slow API). */
import { createServer, type ServerResponse } from 'node:http'

export interface SlowSource {
  readonly port: number
  /** Hold every request from now on until release(). */
  hold(): void
  /** Answers the held requests, and the next ones at once. */
  release(): void
  /** Resolves once `n` requests are held at the same time. */
  waitForHeld(n: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function startSlowSource(): Promise<SlowSource> {
  let holding = false
  const held: { res: ServerResponse; user: string }[] = []
  const waiters = new Set<() => void>()
  const answer = (res: ServerResponse, user: string) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ title: `Picks for ${user}` }))
  }
  const server = createServer((req, res) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('u') ?? ''
    if (!holding) return answer(res, user)
    held.push({ res, user })
    for (const wake of waiters) wake()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return {
    port: address.port,
    hold() {
      holding = true
    },
    release() {
      holding = false
      for (const h of held.splice(0)) answer(h.res, h.user)
    },
    waitForHeld(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (held.length < n) return
          done()
          resolve()
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${held.length} requests held, expected ${n}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
