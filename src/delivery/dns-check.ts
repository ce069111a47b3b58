/**
 * The DNS records a sending domain needs (SPF, one DKIM key record per configured selector, DMARC)
 * and whether DNS has them: the logic of `inkstream dns-check`. Lookups go through a node:dns
 * Resolver the caller builds (its servers can be a local test responder); the comparison is plain.
 */
import type { Resolver } from 'node:dns/promises'
import type { DkimSelector } from './dkim-sign.ts'

export type CheckStatus = 'OK' | 'missing' | 'different' | 'error'

export interface RecordCheck {
  kind: 'SPF' | 'DKIM' | 'DMARC'
  /** The DNS name queried (TXT). */
  name: string
  /** What to publish (SPF and DMARC: a starting point to adapt). */
  expected: string
  /** The matching TXT records DNS holds, each with its strings joined. */
  found: string[]
  status: CheckStatus
  /** Why the status is not OK, in words a user can act on. */
  detail?: string
}

type TxtLookup = Pick<Resolver, 'resolveTxt'>

/** TXT records at `name` (their strings joined, RFC 7208 §3.3), [] when the name or type is absent. */
async function txt(dns: TxtLookup, name: string): Promise<string[] | Error> {
  try {
    return (await dns.resolveTxt(name)).map((chunks) => chunks.join(''))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTFOUND' || code === 'ENODATA') return []
    return new Error(`DNS lookup of ${name} failed (${code ?? (err as Error).message})`)
  }
}

/** `k=v; k=v` → a map (tag names lower-case, whitespace in values removed: RFC 6376 §3.2). */
export function tagList(record: string): Map<string, string> {
  const tags = new Map<string, string>()
  for (const part of record.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''))
  }
  return tags
}

/** A key's selectors that sign for `domain`: its own d=, or a parent domain (relaxed DMARC alignment). */
export const selectorsFor = (domain: string, selectors: readonly DkimSelector[]): DkimSelector[] =>
  selectors.filter((s) => {
    const d = s.domain.toLowerCase()
    const target = domain.toLowerCase()
    return target === d || target.endsWith(`.${d}`)
  })

/** Checks SPF, DKIM (each selector) and DMARC of `domain`. */
export async function checkDomain(
  domain: string,
  selectors: readonly DkimSelector[],
  dns: TxtLookup,
): Promise<RecordCheck[]> {
  const checks: RecordCheck[] = []

  const spfFound = await txt(dns, domain)
  checks.push(
    judge(
      'SPF',
      domain,
      `v=spf1 include:<your SMTP provider's SPF domain, or ip4:…> ~all`,
      spfFound,
      (all) => {
        const spf = all.filter((r) => /^v=spf1(\s|$)/i.test(r))
        if (spf.length === 0) return { found: spf, status: 'missing', detail: 'no v=spf1 record' }
        if (spf.length > 1)
          return {
            found: spf,
            status: 'different',
            detail: 'more than one v=spf1 record: receivers treat SPF as an error (RFC 7208 §4.5)',
          }
        if (/\s\+?all\s*$/i.test(spf[0] ?? ''))
          return {
            found: spf,
            status: 'different',
            detail: '"+all" lets anyone send as this domain; end with ~all or -all',
          }
        return { found: spf, status: 'OK' }
      },
    ),
  )

  const mine = selectorsFor(domain, selectors)
  if (mine.length === 0)
    checks.push({
      kind: 'DKIM',
      name: `<selector>._domainkey.${domain}`,
      expected: '(no key configured for this domain)',
      found: [],
      status: 'missing',
      detail: `INKSTREAM_DKIM has no key for ${domain}: messages from it go unsigned`,
    })
  for (const s of mine) {
    const name = `${s.selector}._domainkey.${s.domain}`
    const k = s.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'
    const expected = `v=DKIM1; k=${k}; p=${s.publicKey}`
    checks.push(
      judge('DKIM', name, expected, await txt(dns, name), (all) => {
        const keys = all.filter((r) => tagList(r).has('p'))
        if (keys.length === 0) return { found: all, status: 'missing', detail: 'no DKIM key record' }
        const match = keys.some((r) => {
          const t = tagList(r)
          return t.get('p') === s.publicKey && (t.get('k') ?? 'rsa').toLowerCase() === k
        })
        if (match) return { found: keys, status: 'OK' }
        return {
          found: keys,
          status: 'different',
          detail: 'the published key is not the configured key (p= or k= differ)',
        }
      }),
    )
  }

  const dmarcName = `_dmarc.${domain}`
  const own = judge(
    'DMARC',
    dmarcName,
    `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`,
    await txt(dns, dmarcName),
    (all) => judgeDmarc(all, 'p'),
  )
  checks.push(own.status === 'missing' ? await inheritedDmarc(own, domain, dns) : own)
  return checks
}

/** One DMARC record (RFC 7489 §6.6.3: exactly one), whose policy tag `tag` (p, or sp for a subdomain) is valid. */
function judgeDmarc(all: string[], tag: 'p' | 'sp'): Pick<RecordCheck, 'found' | 'status' | 'detail'> {
  const dmarc = all.filter((r) => /^v=DMARC1\s*(;|$)/i.test(r))
  if (dmarc.length === 0) return { found: dmarc, status: 'missing', detail: 'no v=DMARC1 record' }
  if (dmarc.length > 1)
    return {
      found: dmarc,
      status: 'different',
      detail: 'more than one v=DMARC1 record: receivers ignore them all (RFC 7489 §6.6.3)',
    }
  const tags = tagList(dmarc[0] ?? '')
  const policy = (tags.get(tag) ?? tags.get('p'))?.toLowerCase()
  if (policy !== 'none' && policy !== 'quarantine' && policy !== 'reject')
    return {
      found: dmarc,
      status: 'different',
      detail: `the record has no valid ${tag === 'sp' ? 'sp= or ' : ''}p= (none, quarantine or reject)`,
    }
  return { found: dmarc, status: 'OK' }
}

/**
 * A subdomain without a DMARC record of its own is covered by its organizational domain's (RFC 7489
 * §6.6.3: its `sp=`, else `p=`). Without the Public Suffix List, the parents are walked up to the
 * last two labels, as DMARCbis's DNS tree walk does (which stops at the first record found), so
 * `mail.shop.example` finds `_dmarc.shop.example`.
 */
async function inheritedDmarc(own: RecordCheck, domain: string, dns: TxtLookup): Promise<RecordCheck> {
  const labels = domain.split('.')
  for (let i = 1; labels.length - i >= 2 && i <= 7; i++) {
    const parent = labels.slice(i).join('.')
    const found = await txt(dns, `_dmarc.${parent}`)
    if (found instanceof Error) continue
    const judged = judgeDmarc(found, 'sp')
    if (judged.status === 'missing') continue
    return {
      ...own,
      ...judged,
      detail:
        judged.status === 'OK'
          ? `inherited from _dmarc.${parent} (its sp=, else p=, applies to ${domain}); publish ${own.name} to set a policy of its own`
          : `_dmarc.${parent} covers ${domain}, but: ${judged.detail}`,
    }
  }
  return own
}

function judge(
  kind: RecordCheck['kind'],
  name: string,
  expected: string,
  found: string[] | Error,
  rule: (all: string[]) => Pick<RecordCheck, 'found' | 'status' | 'detail'>,
): RecordCheck {
  if (found instanceof Error)
    return { kind, name, expected, found: [], status: 'error', detail: found.message }
  return { kind, name, expected, ...rule(found) }
}
