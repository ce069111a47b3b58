/** Options of HttpConnectedContent, their defaults, and the check that rejects nonsense at start. */

import { invalidConfig } from '../../core/errors.ts'
import type { Clock } from '../../core/types.ts'
import type { Cache } from '../cache/cache.ts'
import type { Resolver } from './address-guard.ts'

/** What the app counts per call (inkstream_connected_content_calls_total by host and outcome). */
export interface ConnectedContentCall {
  workspaceId: string
  /** URL host (`name` or `name:port`); empty when the URL did not parse. */
  host: string
  outcome: string
  durationMs: number
  /**
   * What the response cache answered: hit (fresh), stale (served past its TTL after a failure), miss
   * (the call went out or failed); undefined when it was refused before any lookup.
   */
  cache: 'hit' | 'miss' | 'stale' | undefined
}

export interface HttpConnectedContentOptions {
  /** Response cache; default an in-process MemoryCache owned (and closed) by the fetcher. */
  cache?: Cache
  /** Wall clock for cache ages and breaker cool-downs (timeouts use real timers). */
  clock?: Clock
  /** Resolves a host name to all its addresses; default dns.lookup({ all: true }). */
  lookup?: Resolver
  /** Hosts a workspace may reach although they resolve to private addresses. */
  allowHosts?: (workspaceId: string) => readonly string[]
  /** Header sets of named server-side credentials; undefined = no such credential. */
  credentials?: (workspaceId: string, name: string) => Record<string, string> | undefined
  /** Ports URLs may use (an allow-list entry with an explicit port adds that port). Default 80, 443, 8080, 8443. */
  allowedPorts?: readonly number[]
  /** Largest response body accepted, in bytes. Default 256 KiB. */
  maxBytes?: number
  /** TTL when the call gives no cacheMaxAgeSeconds. Default 30. */
  defaultTtlSeconds?: number
  /** Upper bound on any TTL. Default 60. */
  maxTtlSeconds?: number
  /** How long an expired response is kept to be served when a fresh call fails. Default 300. */
  staleForSeconds?: number
  /** Consecutive failures that open a host's circuit. Default 5. */
  failureThreshold?: number
  /** Failure share over the last failureRateWindow calls that opens the circuit. Default 0.5. */
  failureRate?: number
  /** Calls the failure rate is computed over. Default 20. */
  failureRateWindow?: number
  /** How long an open circuit rejects calls before one trial. Default 30,000 ms. */
  coolDownMs?: number
  /** User-Agent sent unless the template sets one. Default `Inkstream-ConnectedContent/1`. */
  userAgent?: string
  /** Called once per fetch with its outcome; a throwing hook is ignored. */
  onCall?: (info: ConnectedContentCall) => void
}

export const defaults = {
  allowedPorts: [80, 443, 8080, 8443],
  maxBytes: 256 * 1024,
  defaultTtlSeconds: 30,
  maxTtlSeconds: 60,
  staleForSeconds: 300,
  userAgent: 'Inkstream-ConnectedContent/1',
} as const

/** Throws INK_ERR_INVALID_CONFIG listing every invalid option. */
export function validateOptions(o: HttpConnectedContentOptions): void {
  const problems: string[] = []
  const check = (name: string, value: number | undefined, ok: (v: number) => boolean, want: string) => {
    if (value !== undefined && !(Number.isFinite(value) && ok(value))) {
      problems.push(`connected content: ${name} must be ${want}, got ${value}`)
    }
  }
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0
  check('maxBytes', o.maxBytes, positiveInt, 'a positive integer')
  check('defaultTtlSeconds', o.defaultTtlSeconds, (v) => v >= 0, '>= 0')
  check('maxTtlSeconds', o.maxTtlSeconds, (v) => v >= 0, '>= 0')
  check('staleForSeconds', o.staleForSeconds, (v) => v >= 0, '>= 0')
  check('failureThreshold', o.failureThreshold, positiveInt, 'a positive integer')
  check('failureRate', o.failureRate, (v) => v > 0 && v <= 1, 'in (0, 1]')
  check('failureRateWindow', o.failureRateWindow, positiveInt, 'a positive integer')
  check('coolDownMs', o.coolDownMs, (v) => v >= 0, '>= 0')
  for (const port of o.allowedPorts ?? []) {
    check('allowedPorts[]', port, (v) => Number.isInteger(v) && v >= 1 && v <= 65_535, 'a port number')
  }
  if (problems.length > 0) throw invalidConfig(problems)
}
