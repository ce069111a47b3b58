/**
 * Per-workspace allow-list of hosts that may be reached even though they resolve to private
 * addresses. Entries: `api.internal.example`, `*.example.com` (any subdomain, not the apex),
 * `127.0.0.1:4567`, `[::1]:4567`. An entry with a port matches only that port, and also admits
 * that port when it is not among the generally allowed ones.
 */
import { isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import ipaddr from 'ipaddr.js'

export interface AllowEntry {
  /** Normalised host: lower-case ASCII domain without trailing dot, or canonical IP text. */
  host: string
  /** `*.host`: matches every subdomain of host. */
  wildcard: boolean
  port: number | undefined
}

export interface AllowList {
  /** True when an entry names this host (and this port, when the entry has one). */
  allows(hostname: string, port: number): boolean
  /** True when an entry names this host with exactly this port. */
  allowsPortExplicitly(hostname: string, port: number): boolean
}

/** Parses one entry; undefined when it is not a host, `*.domain`, or either with `:port`. */
export function parseAllowEntry(raw: string): AllowEntry | undefined {
  let rest = raw.trim().toLowerCase()
  const wildcard = rest.startsWith('*.')
  if (wildcard) rest = rest.slice(2)
  let host: string
  let portText: string | undefined
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0) return undefined
    host = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) return undefined
    portText = after === '' ? undefined : after.slice(1)
  } else {
    const colons = rest.split(':').length - 1
    if (colons === 1) {
      const at = rest.indexOf(':')
      host = rest.slice(0, at)
      portText = rest.slice(at + 1)
    } else {
      host = rest // no port, or a bare IPv6 address
    }
  }
  let port: number | undefined
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined
    port = Number(portText)
    if (port < 1 || port > 65_535) return undefined
  }
  const normalised = normaliseHost(host)
  if (normalised === undefined) return undefined
  if (wildcard && isIP(normalised) !== 0) return undefined
  return { host: normalised, wildcard, port }
}

/**
 * Hosts already normalised: every call normalises its URL's host (and the allow-list check again),
 * and the same few hosts come back for every recipient; ipaddr's parse and domainToASCII are not free.
 */
const normalised = new Map<string, string | undefined>()
const MAX_NORMALISED = 1024

/** Lower-case ASCII for a domain (no trailing dot), canonical text for an IP; undefined when invalid. */
export function normaliseHost(host: string): string | undefined {
  if (normalised.has(host)) return normalised.get(host)
  const result = normaliseUncached(host)
  // Bounded: a template could make a host per recipient; then the memo simply starts over.
  if (normalised.size >= MAX_NORMALISED) normalised.clear()
  normalised.set(host, result)
  return result
}

function normaliseUncached(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (isIP(bare) !== 0) return ipaddr.parse(bare).toString()
  const ascii = domainToASCII(bare.replace(/\.$/, ''))
  return ascii === '' ? undefined : ascii
}

/** Compiles entries; invalid ones are skipped (the config layer validates them with parseAllowEntry). */
export function compileAllowList(entries: readonly string[]): AllowList {
  const parsed = entries.map(parseAllowEntry).filter((e): e is AllowEntry => e !== undefined)
  const hostMatches = (entry: AllowEntry, host: string) =>
    entry.wildcard ? host.endsWith(`.${entry.host}`) : host === entry.host
  return {
    allows(hostname, port) {
      const host = normaliseHost(hostname)
      if (host === undefined) return false
      return parsed.some((e) => hostMatches(e, host) && (e.port === undefined || e.port === port))
    },
    allowsPortExplicitly(hostname, port) {
      const host = normaliseHost(hostname)
      if (host === undefined) return false
      return parsed.some((e) => hostMatches(e, host) && e.port === port)
    },
  }
}

export const emptyAllowList: AllowList = { allows: () => false, allowsPortExplicitly: () => false }
