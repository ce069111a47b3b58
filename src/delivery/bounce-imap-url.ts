/**
 * INKSTREAM_BOUNCE_IMAP: where the bounce mailbox is, as one URL (like INKSTREAM_SMTP_URL):
 *
 *   imap://user:pass@host[:143]/[mailbox][?processed=Folder|delete=true][&pollSeconds=60][&requireTLS=true|ignoreTLS=true]
 *   imaps://user:pass@host[:993]/…   (TLS from the first byte)
 *
 * `imap://` upgrades with STARTTLS when the server offers it (`requireTLS=true`: refuses to log in
 * without; `ignoreTLS=true`: never tries). User, password and mailbox are URL-encoded (`%40` for
 * `@`, `%2F` for `/`). The mailbox defaults to INBOX; read messages are moved to `processed`
 * (default `Processed`, created when missing) or, with `delete=true`, deleted. The password never
 * appears in a problem or a description.
 */

export interface BounceImapSettings {
  host: string
  port: number
  /** TLS from the first byte (imaps://). */
  secure: boolean
  /** STARTTLS policy on imap://: true requires it, false never tries, undefined when offered. */
  startTls: boolean | undefined
  user: string
  pass: string
  mailbox: string
  /** Where read messages go; null deletes them. */
  processed: string | null
  pollMs: number
}

const PARAMS = new Set(['processed', 'delete', 'pollSeconds', 'requireTLS', 'ignoreTLS'])

export function parseBounceImapUrl(
  value: string,
): { ok: true; settings: BounceImapSettings } | { ok: false; problems: string[] } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return { ok: false, problems: ['not a URL; expected imaps://user:pass@host/INBOX or imap://…'] }
  }
  const problems: string[] = []
  if (url.protocol !== 'imap:' && url.protocol !== 'imaps:')
    problems.push(`scheme "${url.protocol.slice(0, -1)}" is not imap or imaps`)
  if (url.hostname === '') problems.push('the host is missing')
  const secure = url.protocol === 'imaps:'
  let user = ''
  let pass = ''
  let mailbox = 'INBOX'
  try {
    user = decodeURIComponent(url.username)
    pass = decodeURIComponent(url.password)
    const path = decodeURIComponent(url.pathname.replace(/^\//, ''))
    if (path !== '') mailbox = path
  } catch {
    problems.push('the user, password or mailbox is not valid URL encoding')
  }
  if (user === '') problems.push('the user is missing (imap://user:pass@host/INBOX)')
  const settings: BounceImapSettings = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 993 : 143) : Number(url.port),
    secure,
    startTls: undefined,
    user,
    pass,
    mailbox,
    processed: 'Processed',
    pollMs: 60_000,
  }
  const flag = (name: string, raw: string): boolean | undefined => {
    if (raw === 'true' || raw === 'false') return raw === 'true'
    problems.push(`${name} must be true or false`)
    return undefined
  }
  for (const [name, raw] of url.searchParams) {
    if (!PARAMS.has(name)) problems.push(`unknown parameter "${name}" (known: ${[...PARAMS].join(', ')})`)
    else if (name === 'processed') {
      if (raw.trim() === '') problems.push('processed must name a folder (or use delete=true)')
      else settings.processed = raw
    } else if (name === 'delete') {
      if (flag(name, raw)) settings.processed = null
    } else if (name === 'pollSeconds') {
      const n = Number(raw)
      if (!Number.isFinite(n) || n < 1 || n > 86_400) problems.push('pollSeconds must be 1-86400')
      else settings.pollMs = n * 1000
    } else if (flag(name, raw)) settings.startTls = name === 'requireTLS'
  }
  if (url.searchParams.has('delete') && url.searchParams.has('processed') && settings.processed === null)
    problems.push('processed and delete=true contradict each other')
  if (secure && settings.startTls !== undefined)
    problems.push('requireTLS and ignoreTLS apply to imap:// only (imaps:// is always TLS)')
  if (url.searchParams.has('requireTLS') && url.searchParams.has('ignoreTLS'))
    problems.push('requireTLS and ignoreTLS contradict each other')
  if (settings.processed !== null && settings.processed === settings.mailbox)
    problems.push('processed must be another folder than the one read')
  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings }
}

/** The mailbox for logs and the start banner: never the password. */
export const describeBounceImap = (s: BounceImapSettings) =>
  `${s.secure ? 'imaps' : 'imap'}://${encodeURIComponent(s.user)}@${s.host}:${s.port}/${s.mailbox} → ${
    s.processed === null ? 'deleted' : s.processed
  }`
