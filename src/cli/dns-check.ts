/**
 * `inkstream dns-check <domain> [--dns-server host[:port]]…` — prints the SPF, DKIM (one record per
 * INKSTREAM_DKIM selector of the domain, from the configured key) and DMARC records the sending
 * domain needs, and whether DNS has them: OK, missing, different, or error (the lookup failed).
 * Exit code 0 when all are OK, 1 otherwise, 2 for bad usage. Reads the keys, never prints them:
 * only their public half goes into the DKIM records.
 */
import { Resolver } from 'node:dns/promises'
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import { loadDkimKeys } from '../delivery/dkim-keys.ts'
import { checkDomain, type RecordCheck } from '../delivery/dns-check.ts'
import { isDomainName } from '../delivery/mailbox.ts'

export const DNS_CHECK_USAGE = 'dns-check <domain> [--dns-server host[:port]]… [--timeout ms]'

export interface DnsCheckIo {
  stdout: (s: string) => void
  stderr: (s: string) => void
}

const defaultIo: DnsCheckIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
}

/** Runs the check; resolves with the exit code. */
export async function dnsCheck(
  config: Config,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: DnsCheckIo = defaultIo,
): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
  } catch (err) {
    io.stderr(`${(err as Error).message}\nusage: inkstream ${DNS_CHECK_USAGE}\n`)
    return 2
  }
  const { domain, servers, timeout } = parsed
  const resolver = new Resolver({ timeout, tries: 2 })
  if (servers.length > 0) {
    try {
      resolver.setServers(servers)
    } catch {
      io.stderr(`--dns-server: "${servers.join(', ')}" is not an IP address with an optional port\n`)
      return 2
    }
  }
  // A bad key throws INK_ERR_INVALID_CONFIG, as at start.
  const selectors = config.dkim === undefined ? [] : loadDkimKeys(config.dkim, env)
  const checks = await checkDomain(domain, selectors, resolver)
  io.stdout(format(checks))
  const bad = checks.filter((c) => c.status !== 'OK').length
  io.stdout(
    bad === 0
      ? `\nall ${checks.length} records OK\n`
      : `\n${bad} of ${checks.length} records need attention\n`,
  )
  return bad === 0 ? 0 : 1
}

function parse(args: readonly string[]): { domain: string; servers: string[]; timeout: number } {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { 'dns-server': { type: 'string', multiple: true }, timeout: { type: 'string' } },
  })
  if (positionals.length !== 1) throw new Error('dns-check takes exactly one domain')
  const domain = (positionals[0] ?? '').replace(/\.$/, '')
  if (!isDomainName(domain)) throw new Error(`"${domain}" is not a domain name`)
  const timeout = values.timeout === undefined ? 3000 : Number(values.timeout)
  if (!Number.isInteger(timeout) || timeout < 1) throw new Error('--timeout must be a positive number of ms')
  return { domain, servers: values['dns-server'] ?? [], timeout }
}

/** Zone-file form: one TXT string holds at most 255 characters (RFC 1035 §3.3.14), so a 2048-bit key needs two. */
const quoted = (value: string): string =>
  (value.match(/.{1,255}/g) ?? ['']).map((part) => `"${part}"`).join(' ')

/** One block per record: kind, name, status; what to publish when it is not OK; what DNS has. */
export function format(checks: readonly RecordCheck[]): string {
  const lines: string[] = []
  for (const c of checks) {
    lines.push(`${c.kind.padEnd(6)}${c.name}  ${c.status}`)
    if (c.detail !== undefined) lines.push(`      ${c.detail}`)
    for (const f of c.found) lines.push(`      found:   ${f}`)
    if (c.status !== 'OK') lines.push(`      publish: ${c.name} TXT ${quoted(c.expected)}`)
  }
  return `${lines.join('\n')}\n`
}
