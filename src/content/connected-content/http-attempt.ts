/**
 * One HTTP exchange with a vetted target: no redirects followed, the body capped at maxBytes,
 * JSON parsed when the content type says JSON. Never throws; the result says whether a retry or
 * the circuit breaker should care.
 */
import http from 'node:http'
import https from 'node:https'
import type { ResolvedAddress } from './address-guard.ts'
import type { PinnedAgents, PinnedRequestOptions } from './pinned-agent.ts'
import { pinnedLookup } from './pinned-agent.ts'
import { decodeBody } from './response-body.ts'
import type { Target } from './target.ts'

export interface Attempt {
  target: Target
  addresses: readonly ResolvedAddress[]
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body: string | undefined
  maxBytes: number
  agents: PinnedAgents
  signal: AbortSignal
}

export type AttemptResult =
  | { ok: true; status: number; data: unknown }
  /**
   * aborted: the signal fired; retryable: network error or 5xx; final: the host answered, but not
   * usefully; invalid: the request could not be sent at all (bad template headers).
   */
  | { ok: false; kind: 'aborted' | 'retryable' | 'final' | 'invalid'; message: string }

export function attempt(a: Attempt): Promise<AttemptResult> {
  const { target, signal } = a
  return new Promise((resolve) => {
    let settled = false
    let req: http.ClientRequest | undefined
    const finish = (result: AttemptResult) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const onAbort = () => {
      req?.destroy()
      finish({ ok: false, kind: 'aborted', message: 'aborted' })
    }
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    const fail = (kind: 'retryable' | 'final' | 'invalid', message: string) =>
      finish({ ok: false, kind, message: `${target.display}: ${message}` })

    const headers: Record<string, string> = { ...a.headers, 'accept-encoding': 'identity' }
    if (a.body !== undefined) headers['content-length'] = String(Buffer.byteLength(a.body))
    const options: PinnedRequestOptions = {
      method: a.method,
      host: target.hostname,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      headers,
      agent: target.protocol === 'https:' ? a.agents.https : a.agents.http,
      lookup: pinnedLookup(a.addresses),
      pinned: a.addresses,
    }
    try {
      req = (target.protocol === 'https:' ? https : http).request(options)
    } catch (err) {
      // Invalid header names or values are rejected synchronously by node:http.
      return fail('invalid', `the request could not be built (${describe(err)})`)
    }
    req.on('error', (err) => fail('retryable', `the request failed (${describe(err)})`))
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      const drop = (kind: 'retryable' | 'final', message: string) => {
        res.destroy()
        fail(kind, message)
      }
      if (status >= 300 && status < 400) {
        return drop('final', `the server answered ${status}; redirects are not followed`)
      }
      if (status >= 500) return drop('retryable', `the server answered ${status}`)
      if (status < 200 || status >= 300) return drop('final', `the server answered ${status}`)
      const encoding = res.headers['content-encoding']
      if (encoding !== undefined && encoding !== 'identity') {
        return drop('final', `the response uses content-encoding ${encoding}, which is not supported`)
      }
      const declared = Number(res.headers['content-length'])
      if (Number.isFinite(declared) && declared > a.maxBytes) {
        return drop('final', `the response is ${declared} bytes, over the limit of ${a.maxBytes} bytes`)
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        if (settled) return
        size += chunk.length
        if (size > a.maxBytes) return drop('final', `the response exceeds the limit of ${a.maxBytes} bytes`)
        chunks.push(chunk)
      })
      res.on('error', (err) => fail('retryable', `the response was cut off (${describe(err)})`))
      res.on('close', () => {
        if (!res.complete) fail('retryable', 'the response was cut off')
      })
      res.on('end', () => {
        const decoded = decodeBody(Buffer.concat(chunks, size), res.headers['content-type'])
        if (decoded.ok) finish({ ok: true, status, data: decoded.data })
        else fail('final', decoded.message)
      })
    })
    req.end(a.body)
  })
}

const describe = (err: unknown): string => {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code
  return err instanceof Error ? err.message : String(err)
}
