/**
 * Turns a template-supplied URL into a call target, refusing what is never allowed whatever it
 * resolves to: other schemes, user info, ports outside the allowed set. WHATWG URL parsing already
 * rewrites the odd IPv4 spellings (2130706433, 0177.0.0.1, 0x7f.0.0.1, 127.1) to dotted form.
 */
import { isIP } from 'node:net'
import type { AllowList } from './allow-list.ts'
import { normaliseHost } from './allow-list.ts'

export interface Target {
  url: URL
  protocol: 'http:' | 'https:'
  /** Host without IPv6 brackets, normalised (lower-case ASCII or canonical IP text). */
  hostname: string
  port: number
  /** `hostname:port`: the circuit breaker's key. */
  hostKey: string
  /** Origin and path without the query string (which may hold tokens), for messages. */
  display: string
}

export type TargetResult = { ok: true; target: Target } | { ok: false; message: string }

const DEFAULT_PORTS = { 'http:': 80, 'https:': 443 } as const

export function parseTarget(
  raw: string,
  allowedPorts: ReadonlySet<number>,
  allowList: AllowList,
): TargetResult {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, message: 'the URL is not valid' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `only http and https URLs are allowed, not ${url.protocol}` }
  }
  const display = `${url.origin}${url.pathname}`
  if (url.username !== '' || url.password !== '') {
    return {
      ok: false,
      message: `${url.origin}: URLs with a user name or password are refused; use a server-side credential`,
    }
  }
  const hostname = normaliseHost(url.hostname)
  if (hostname === undefined) return { ok: false, message: `${display}: the host is not valid` }
  const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port)
  if (!allowedPorts.has(port) && !allowList.allowsPortExplicitly(hostname, port)) {
    return {
      ok: false,
      message: `${display}: port ${port} is not allowed (allowed: ${[...allowedPorts].join(', ')})`,
    }
  }
  return {
    ok: true,
    target: {
      url,
      protocol: url.protocol,
      hostname,
      port,
      hostKey: `${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`,
      display,
    },
  }
}
