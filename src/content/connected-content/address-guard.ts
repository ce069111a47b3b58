/**
 * The private-address guard. Only globally routable unicast addresses pass; IPv6 forms that carry
 * an IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, SIIT, NAT64, 6to4) are judged by the
 * address they carry. A workspace allow-list lifts the refusal for the hosts it names, except for
 * addresses that are never a server (unspecified, multicast, broadcast).
 */
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

export interface BlockedRange {
  /** ipaddr.js range name, e.g. `loopback`, `private`, `linkLocal`. */
  range: string
  /** Human wording for messages: "a loopback address". */
  label: string
  /** True when even an allow-list cannot admit it. */
  absolute: boolean
}

const LABELS: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address (this includes cloud metadata at 169.254.169.254)',
  uniqueLocal: 'a unique-local address',
  unspecified: 'the unspecified address',
  carrierGradeNat: 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
}
const ABSOLUTE = new Set(['unspecified', 'multicast', 'broadcast'])

const blocked = (range: string): BlockedRange => ({
  range,
  label: LABELS[range] ?? `a special-purpose address (${range})`,
  absolute: ABSOLUTE.has(range),
})

/** Why an address may not be called, or undefined when it is a public unicast address. */
export function blockedRange(address: string): BlockedRange | undefined {
  if (!ipaddr.isValid(address)) return blocked('unparseable')
  const parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv4') {
    const range = parsed.range()
    return range === 'unicast' ? undefined : blocked(range)
  }
  const v6 = ipaddr.IPv6.parse(address)
  const embedded = embeddedIPv4(v6)
  if (embedded !== undefined) return blockedRange(embedded.toString())
  const range = v6.range()
  return range === 'unicast' ? undefined : blocked(range)
}

/** The IPv4 address an IPv6 address stands for, when it is one of the IPv4-carrying forms. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = v6.parts
  const last32 = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff])
  const range = v6.range()
  if (range === 'ipv4Mapped') return v6.toIPv4Address() // ::ffff:a.b.c.d
  if (range === 'rfc6145') return last32() // ::ffff:0:a.b.c.d (SIIT)
  // ::a.b.c.d (deprecated "IPv4-compatible"); :: and ::1 keep their own meaning.
  if (p.slice(0, 6).every((x) => x === 0) && range !== 'unspecified' && range !== 'loopback') return last32()
  // NAT64 well-known prefix 64:ff9b::/96 (the /48 local-use prefix is refused as special-purpose).
  if (p[0] === 0x64 && p[1] === 0xff9b && p.slice(2, 6).every((x) => x === 0)) return last32()
  if (range === '6to4') return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff])
  return undefined
}

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Resolves every address of a host name (an injectable seam; tests map names to loopback). */
export type Resolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>

export type VetResult =
  | { ok: true; addresses: readonly ResolvedAddress[] }
  | { ok: false; refused: boolean; message: string }

/** RFC 6761: `localhost` and its subdomains are loopback whatever DNS says, so they never reach DNS. */
const isLocalhostName = (hostname: string) => hostname === 'localhost' || hostname.endsWith('.localhost')

/**
 * Resolves a host and checks every address it resolves to; one refused address refuses the host,
 * so an attacker cannot mix a public and a private answer. The caller connects only to the
 * returned addresses.
 */
export async function vetHost(
  hostname: string,
  display: string,
  allowListed: boolean,
  resolve: Resolver,
): Promise<VetResult> {
  const family = isIP(hostname)
  let answers: readonly { address: string; family: number }[]
  if (family === 4 || family === 6) {
    answers = [{ address: hostname, family }]
  } else if (isLocalhostName(hostname) && !allowListed) {
    return { ok: false, refused: true, message: refusal(display, hostname, blocked('loopback'), true) }
  } else {
    try {
      answers = await resolve(hostname)
    } catch (err) {
      return {
        ok: false,
        refused: false,
        message: `${display}: could not resolve ${hostname} (${errorCode(err)})`,
      }
    }
    if (answers.length === 0) {
      return { ok: false, refused: false, message: `${display}: ${hostname} has no addresses` }
    }
  }
  const addresses: ResolvedAddress[] = []
  for (const answer of answers) {
    const range = blockedRange(answer.address)
    if (range !== undefined && (!allowListed || range.absolute)) {
      return { ok: false, refused: true, message: refusal(display, answer.address, range, family !== 0) }
    }
    addresses.push({ address: answer.address, family: isIP(answer.address) === 6 ? 6 : 4 })
  }
  return { ok: true, addresses }
}

function refusal(display: string, address: string, range: BlockedRange, literal: boolean): string {
  const to = literal ? 'is' : `resolves to ${address},`
  const fix = range.absolute ? '' : '; a workspace can allow-list the host if it is meant to be reached'
  return `${display} ${to} ${range.label}: connected content calls only public addresses${fix}`
}

const errorCode = (err: unknown): string =>
  err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'lookup failed'
