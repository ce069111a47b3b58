/**
 * The settings of the ESP webhooks (INKSTREAM_ESP_WEBHOOK_SECRETS, INKSTREAM_SNS_CERT_HOSTS,
 * INKSTREAM_SNS_TOPIC_ARNS, INKSTREAM_SENDGRID_WEBHOOK_KEY, INKSTREAM_POSTMARK_WEBHOOK_AUTH): their
 * parsers (config.ts validates with them at start) and the one record the routes get.
 *
 * Providers cannot send our API keys, so a webhook URL names its workspace and carries a secret of
 * that workspace: `/v1/webhooks/<provider>/<workspace>/<secret>`. The provider's own proof (SNS
 * signature, SendGrid signature, Postmark basic auth) comes on top: the secret says "this is one of
 * our webhooks", the provider's proof "this really comes from the provider". For SNS both matter:
 * anyone can create an SNS topic, subscribe our URL to it and publish genuinely AWS-signed messages.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { sameKey } from '../../workspaces/workspace-store.ts'

const SECRET = /^[A-Za-z0-9_-]{16,128}$/
const WORKSPACE = /^[a-z0-9][a-z0-9_-]{0,63}$/

/** Production: SNS signs with certificates served from `https://sns.<region>.amazonaws.com[.cn]/…`. */
export const DEFAULT_SNS_CERT_HOSTS = 'sns.*.amazonaws.com,sns.*.amazonaws.com.cn'

export interface EspWebhookSettings {
  /** workspace id → its webhook secrets (several while rotating). */
  secrets: ReadonlyMap<string, readonly string[]>
  /** Hosts (`host[:port]`) SigningCertURL and SubscribeURL may name. */
  snsCertHosts: (host: string) => boolean
  /** When set, only these SNS topics are accepted. */
  snsTopicArns: ReadonlySet<string> | undefined
  /** SendGrid's signed event webhook verification key (EC P-256 public key). */
  sendgridKey: KeyObject | undefined
  /** Postmark's webhook basic-auth credentials. */
  postmarkAuth: { user: string; password: string } | undefined
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] }

/** `workspace:secret,…`; a bare `secret` belongs to `defaultWorkspace`. */
export function parseWebhookSecrets(value: string, defaultWorkspace: string): Parsed<Map<string, string[]>> {
  const secrets = new Map<string, string[]>()
  const problems: string[] = []
  value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .forEach((entry, i) => {
      const colon = entry.indexOf(':')
      const workspace = colon === -1 ? defaultWorkspace : entry.slice(0, colon)
      const secret = colon === -1 ? entry : entry.slice(colon + 1)
      // The problem names the entry's position, never the secret.
      // A part as long as a secret may be one written first (`secret:workspace`): not echoed.
      if (!WORKSPACE.test(workspace))
        problems.push(
          `entry ${i + 1}: ${workspace.length < 16 ? `"${workspace}"` : 'the part before ":"'} is not a workspace id (lower-case letters, digits, _ and -); write workspace:secret`,
        )
      else if (!SECRET.test(secret))
        problems.push(`entry ${i + 1}: the secret must be 16-128 characters of A-Z a-z 0-9 _ -`)
      else secrets.set(workspace, [...(secrets.get(workspace) ?? []), secret])
    })
  if (problems.length === 0 && secrets.size === 0) problems.push('no entry; expected workspace:secret')
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: secrets }
}

const HOST_PATTERN = /^(\*|[a-z0-9-]+)(\.(\*|[a-z0-9-]+))*(:(\*|\d{1,5}))?$/

/** `sns.*.amazonaws.com,localhost:8443`: `*` stands for one DNS label (or any port); case-insensitive. */
export function parseHostPatterns(value: string): Parsed<(host: string) => boolean> {
  const patterns = value
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '')
  const bad = patterns.filter((p) => !HOST_PATTERN.test(p))
  if (patterns.length === 0) return { ok: false, problems: ['no host pattern'] }
  if (bad.length > 0) return { ok: false, problems: bad.map((p) => `"${p}" is not a host[:port] pattern`) }
  const regexes = patterns.map((p) => {
    const [host = '', port] = p.split(':')
    const h = host
      .split('.')
      .map((l) => (l === '*' ? '[a-z0-9-]+' : l))
      .join('\\.')
    const portPart = port === undefined ? '' : port === '*' ? ':\\d{1,5}' : `:${port}`
    return new RegExp(`^${h}${portPart}$`)
  })
  return { ok: true, value: (host) => regexes.some((r) => r.test(host.toLowerCase())) }
}

/** The key as SendGrid shows it (base64 of the DER SubjectPublicKeyInfo), or a PEM. */
export function parseSendgridKey(value: string): Parsed<KeyObject> {
  try {
    const trimmed = value.trim()
    const key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' })
    if (key.asymmetricKeyType !== 'ec')
      return { ok: false, problems: ['not an elliptic-curve (ECDSA) public key'] }
    return { ok: true, value: key }
  } catch {
    return {
      ok: false,
      problems: ['not a public key; paste the "Verification Key" SendGrid shows (base64)'],
    }
  }
}

/** `user:password` (the password may contain ':'). */
export function parseBasicCredentials(value: string): Parsed<{ user: string; password: string }> {
  const colon = value.indexOf(':')
  if (colon <= 0 || colon === value.length - 1)
    return { ok: false, problems: ['expected user:password, both non-empty'] }
  return { ok: true, value: { user: value.slice(0, colon), password: value.slice(colon + 1) } }
}

/** Whether `secret` is one of the workspace's webhook secrets (constant time per candidate). */
export function knownSecret(settings: EspWebhookSettings, workspaceId: string, secret: string): boolean {
  const candidates = settings.secrets.get(workspaceId) ?? []
  let found = false
  for (const c of candidates) found = sameKey(c, secret) || found
  return found
}

const must = <T>(r: Parsed<T>): T => {
  // config.ts validated every value before: a failure here is a bug, not bad input.
  if (!r.ok) throw new Error(`ESP webhook setting not validated: ${r.problems.join('; ')}`)
  return r.value
}

/** The settings of a validated config. */
export function espWebhookSettings(c: {
  workspaceId: string
  espWebhookSecrets?: string | undefined
  snsCertHosts: string
  snsTopicArns?: string | undefined
  sendgridWebhookKey?: string | undefined
  postmarkWebhookAuth?: string | undefined
}): EspWebhookSettings {
  const arns = c.snsTopicArns
    ?.split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '')
  return {
    secrets:
      c.espWebhookSecrets === undefined
        ? new Map()
        : must(parseWebhookSecrets(c.espWebhookSecrets, c.workspaceId)),
    snsCertHosts: must(parseHostPatterns(c.snsCertHosts)),
    snsTopicArns: arns === undefined || arns.length === 0 ? undefined : new Set(arns),
    sendgridKey:
      c.sendgridWebhookKey === undefined ? undefined : must(parseSendgridKey(c.sendgridWebhookKey)),
    postmarkAuth:
      c.postmarkWebhookAuth === undefined ? undefined : must(parseBasicCredentials(c.postmarkWebhookAuth)),
  }
}
