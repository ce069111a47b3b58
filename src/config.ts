/**
 * The one configuration schema. Every setting has an INKSTREAM_* environment variable and a
 * default here; nothing else in the code holds a default. The embedded default needs no config.
 */
import { z } from 'zod'
import { invalidConfig } from './core/errors.ts'
import { failpointProblems } from './core/failpoints.ts'
import { parseBounceImapUrl } from './delivery/bounce-imap-url.ts'
import { parseDkimSetting } from './delivery/dkim-keys.ts'
import {
  DEFAULT_SNS_CERT_HOSTS,
  parseBasicCredentials,
  parseHostPatterns,
  parseSendgridKey,
  parseWebhookSecrets,
} from './delivery/esp/esp-config.ts'
import { parseMailbox } from './delivery/mailbox.ts'
import type { SmtpTransportOptions } from './delivery/smtp-transport.ts'
import { bounceAddressProblem } from './delivery/verp.ts'
import { parseBouncePolicyOverrides } from './pipeline/bounce-policy.ts'

/** What INKSTREAM_SMTP_URL sets of SmtpTransport's options. */
export type SmtpUrlOptions = Omit<SmtpTransportOptions, 'messageIdDomain'>

const SMTP_PARAMS = new Set(['requireTLS', 'ignoreTLS', 'maxConnections', 'postmarkMetadata'])

/** Postmark's SMTP relays (smtp.postmarkapp.com, smtp-broadcasts.postmarkapp.com). */
const POSTMARK_HOST = /(^|\.)postmarkapp\.com$/i

/**
 * `smtp://[user[:pass]@]host[:port][?requireTLS=true|ignoreTLS=true|maxConnections=n|postmarkMetadata=…]`
 * (STARTTLS when offered, port 587 by default) or `smtps://…` (TLS from the first byte, port 465 by
 * default). User and password are URL-encoded (`%40` for `@`). `postmarkMetadata` (SmtpTransport's
 * option) is on for a host at postmarkapp.com unless the URL says `false`, off elsewhere unless it
 * says `true` (a relay in front of Postmark).
 */
export function parseSmtpUrl(
  value: string,
): { ok: true; options: SmtpUrlOptions } | { ok: false; problems: string[] } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return { ok: false, problems: ['not a URL; expected smtp://user:pass@host:587 or smtps://…'] }
  }
  const problems: string[] = []
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    problems.push(`scheme "${url.protocol.slice(0, -1)}" is not smtp or smtps`)
  if (url.hostname === '') problems.push('the host is missing')
  if (url.pathname !== '' && url.pathname !== '/') problems.push(`unexpected path "${url.pathname}"`)
  const secure = url.protocol === 'smtps:'
  const options: SmtpUrlOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
  }
  if (POSTMARK_HOST.test(options.host)) options.postmarkMetadata = true
  if (url.username !== '' || url.password !== '') {
    try {
      options.auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
    } catch {
      problems.push('the user or password is not valid URL encoding')
    }
  }
  for (const [name, raw] of url.searchParams) {
    if (!SMTP_PARAMS.has(name)) {
      problems.push(`unknown parameter "${name}" (known: ${[...SMTP_PARAMS].join(', ')})`)
    } else if (name === 'maxConnections') {
      const n = Number(raw)
      if (!Number.isInteger(n) || n < 1 || n > 100) problems.push('maxConnections must be 1-100')
      else options.maxConnections = n
    } else if (raw !== 'true' && raw !== 'false') problems.push(`${name} must be true or false`)
    else options[name as 'requireTLS' | 'ignoreTLS' | 'postmarkMetadata'] = raw === 'true'
  }
  if (secure && (options.requireTLS || options.ignoreTLS))
    problems.push('requireTLS and ignoreTLS apply to smtp:// only (smtps:// is always TLS)')
  return problems.length > 0 ? { ok: false, problems } : { ok: true, options }
}

const KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

/** A string setting checked by one of the parsers that answer `{ ok, problems }`. */
const parsedBy = (parse: (v: string) => { ok: true } | { ok: false; problems: string[] }) =>
  z.string().superRefine((value, ctx) => {
    const r = parse(value)
    if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
  })

/** What one `inkstream start` process does; `all` (the default) is every role in one process. */
export const ROLES = ['collector', 'processor', 'api', 'sender'] as const
export type Role = (typeof ROLES)[number]

/** `collector,processor` or `all` → the set of roles; throws a message for an unknown name. */
export function parseRoles(value: string): Set<Role> {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (names.length === 0 || names.includes('all')) return new Set(ROLES)
  const unknown = names.filter((n) => !(ROLES as readonly string[]).includes(n))
  if (unknown.length > 0)
    throw new Error(
      `unknown role ${unknown.map((u) => `"${u}"`).join(', ')} (roles: ${ROLES.join(', ')}, all)`,
    )
  return new Set(names as Role[])
}

export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** The URL email clients reach this server at (tracking and unsubscribe links); default http://host:port. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    /** The server CLI commands (`inkstream send`) talk to; default http://host:port. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    dataDir: z.string().min(1).default('./data'),
    workspaceId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" and "-", at most 64')
      .default('default'),
    writeKey: z.string().regex(KEY_PATTERN, '16-128 characters of A-Z a-z 0-9 _ -').optional(),
    adminKey: z.string().regex(KEY_PATTERN, '16-128 characters of A-Z a-z 0-9 _ -').optional(),
    traitsFile: z.string().min(1).optional(),
    contentFile: z.string().min(1).optional(),
    templatesDir: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    maxEventBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .default(32 * 1024),
    maxBatchBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .default(500 * 1024),
    dedupeWindowDays: z.coerce.number().min(7, 'the dedupe window must be at least 7 days').default(7),
    sqliteSynchronous: z.enum(['full', 'normal']).default('full'),
    logRetentionDays: z.coerce.number().min(1).default(7),
    processorBatchSize: z.coerce.number().int().min(1).max(50_000).default(2000),
    /**
     * Embedded (SQLite) only: after a batch smaller than the batch size, the processor reads again
     * no sooner than this long after its last read began; an event after a quiet spell is read at
     * once. Until issue 14 it slept a fixed 10 ms after every small batch: p99 lag ≈ 39 ms at 5,000
     * events/s, 18–28 ms without it (the disk's fsync latency decides the rest), for 15–20 % more
     * single-event `/v1/track` at 16 connections (fewer small commits; docs/benchmarks.md, "Lag").
     */
    processorLingerMs: z.coerce.number().int().min(0).max(1_000).default(5),
    /** smtp://user:pass@host:587 or smtps://…:465; without it messages are written to <dataDir>/outbox. */
    smtpUrl: z
      .string()
      .min(1)
      .superRefine((url, ctx) => {
        const r = parseSmtpUrl(url)
        if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
      })
      .optional(),
    /**
     * DKIM keys, one signature each: `domain:selector:keyfile[:algorithm]` or
     * `domain:selector:env:VAR[:algorithm]`, comma-separated (src/delivery/dkim-keys.ts).
     */
    dkim: z
      .string()
      .superRefine((value, ctx) => {
        const r = parseDkimSetting(value)
        if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
      })
      .optional(),
    /** Roles of this process: `all`, or a comma-separated list of collector, processor, api, sender. */
    roles: z
      .string()
      .default('all')
      .superRefine((value, ctx) => {
        try {
          parseRoles(value)
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message })
        }
      }),
    /** Kafka brokers (host:port, comma-separated): the event log is Kafka instead of embedded SQLite. */
    kafkaBrokers: z
      .string()
      .regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, 'host:port[,host:port…]')
      .optional(),
    kafkaTopic: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name')
      .default('inkstream.events'),
    /** Partitions of the topic when Inkstream creates it; bounds how many processors share the work. */
    kafkaPartitions: z.coerce.number().int().min(1).max(1000).default(8),
    /** ms from a request's arrival until an append Kafka has not acknowledged is answered 503. */
    kafkaAppendTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(8_000),
    /** Fault points for crash tests (`name=throw|hang|kill,…`, see src/core/failpoints.ts); never in production. */
    failpoints: z
      .string()
      .superRefine((spec, ctx) => {
        for (const message of failpointProblems(spec)) ctx.addIssue({ code: 'custom', message })
      })
      .optional(),
    /** postgres://…: the store is PostgreSQL instead of embedded SQLite. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// connection string')
      .optional(),
    /** redis://…: the profile and connected-content caches are shared in Redis. */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'a redis:// URL')
      .optional(),
    /** Default sender of campaigns, e.g. "Shop <news@shop.example>". */
    from: z
      .string()
      .superRefine((from, ctx) => {
        const r = parseMailbox(from)
        if (!r.ok) ctx.addIssue({ code: 'custom', message: `not a sender address: ${r.message}` })
      })
      .optional(),
    /**
     * The bounce address (`bounces@example.com`): messages go out with the envelope sender
     * `bounces+<message id>@example.com` (VERP, src/delivery/verp.ts).
     */
    bounceAddress: z
      .string()
      .superRefine((address, ctx) => {
        const problem = bounceAddressProblem(address)
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
      })
      .optional(),
    /** The bounce mailbox: imaps://user:pass@host/INBOX?processed=Processed (src/delivery/bounce-imap-url.ts). */
    bounceImap: z
      .string()
      .superRefine((url, ctx) => {
        const r = parseBounceImapUrl(url)
        if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
      })
      .optional(),
    /** Consecutive temporary transport failures after which a campaign pauses itself (per campaign: `pauseAfterFailures`). */
    campaignPauseAfterFailures: z.coerce.number().int().min(1).max(1_000_000).default(10),
    /** How long the open-time URLs of a sent message (live blocks, the web view) keep working, in days. */
    openTimeTtlDays: z.coerce.number().int().min(1).max(3650).default(180),
    /** The track event analytics counts as a conversion when it follows an open or click of a message. */
    conversionEvent: z.string().min(1).max(200).default('Order Completed'),
    /** How long after an open or click a conversion is attributed to the message, in days. */
    conversionWindowDays: z.coerce.number().positive().max(365).default(3),
    /** How long delivered and failed webhook deliveries are kept, in days (at least the log's retention). */
    webhookRetentionDays: z.coerce.number().min(1).max(3650).default(14),
    /** How long the per-minute metric rollups (anomaly detection's history) are kept, in days. */
    rollupRetentionDays: z.coerce.number().min(1).max(400).default(15),
    /** Where anomaly alerts are POSTed (signed with alertWebhookSecret); none without it. */
    alertWebhookUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** The alert webhook's HMAC key (at least 16 characters); needed with alertWebhookUrl. */
    alertWebhookSecret: z.string().min(16, 'at least 16 characters').optional(),
    /** ESP webhook URL secrets: `workspace:secret` (or a bare secret for this workspace), comma-separated. */
    espWebhookSecrets: parsedBy((v) => parseWebhookSecrets(v, 'default')).optional(),
    /** Hosts SNS SigningCertURL / SubscribeURL may name (`*` = one label); the default is AWS's. */
    snsCertHosts: parsedBy(parseHostPatterns).default(DEFAULT_SNS_CERT_HOSTS),
    /** When set, SNS messages from other topics are refused (comma-separated topic ARNs). */
    snsTopicArns: z.string().min(1).optional(),
    /** SendGrid's Signed Event Webhook verification key (base64, as SendGrid shows it). */
    sendgridWebhookKey: parsedBy(parseSendgridKey).optional(),
    /** `user:password` Postmark's webhooks send as HTTP basic auth. */
    postmarkWebhookAuth: parsedBy(parseBasicCredentials).optional(),
    /** The soft bounce of a run that suppresses the address (src/pipeline/bounce-policy.ts). */
    bounceSoftLimit: z.coerce.number().int().min(1).max(100).default(3),
    /** How long a run of soft bounces lasts from its first one, in days. */
    bounceSoftWindowDays: z.coerce.number().positive().max(365).default(30),
    /** Per-workspace overrides of the two above: `workspace:softLimit:windowDays`, comma-separated. */
    bouncePolicyWorkspaces: z
      .string()
      .superRefine((spec, ctx) => {
        const r = parseBouncePolicyOverrides(spec)
        if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
      })
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Kafka and PostgreSQL go together: the embedded SQLite files belong to one process.
    if ((c.kafkaBrokers === undefined) !== (c.databaseUrl === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c.kafkaBrokers === undefined ? 'kafkaBrokers' : 'databaseUrl'],
        message: 'INKSTREAM_KAFKA_BROKERS and INKSTREAM_DATABASE_URL are set together (scale-out mode)',
      })
    if (c.roles !== undefined && c.kafkaBrokers === undefined && parseRoles(c.roles).size < ROLES.length)
      ctx.addIssue({
        code: 'custom',
        path: ['roles'],
        message:
          'separate roles need the scale-out backends (INKSTREAM_KAFKA_BROKERS and INKSTREAM_DATABASE_URL): ' +
          'the embedded SQLite store belongs to one process',
      })
    if ((c.alertWebhookUrl === undefined) !== (c.alertWebhookSecret === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c.alertWebhookUrl === undefined ? 'alertWebhookUrl' : 'alertWebhookSecret'],
        message: 'INKSTREAM_ALERT_WEBHOOK_URL and INKSTREAM_ALERT_WEBHOOK_SECRET are set together',
      })
  })

export type Config = Readonly<z.output<typeof configSchema>>
export type ConfigInput = z.input<typeof configSchema>

/** Environment variable → config key. The README's configuration table is this list. */
export const ENV_KEYS: Record<string, keyof ConfigInput> = {
  INKSTREAM_HOST: 'host',
  INKSTREAM_PUBLIC_URL: 'publicUrl',
  INKSTREAM_PORT: 'port',
  INKSTREAM_URL: 'url',
  INKSTREAM_DATA_DIR: 'dataDir',
  INKSTREAM_WORKSPACE: 'workspaceId',
  INKSTREAM_WRITE_KEY: 'writeKey',
  INKSTREAM_ADMIN_KEY: 'adminKey',
  INKSTREAM_TRAITS_FILE: 'traitsFile',
  INKSTREAM_CONTENT_FILE: 'contentFile',
  INKSTREAM_TEMPLATES_DIR: 'templatesDir',
  INKSTREAM_LOG_LEVEL: 'logLevel',
  INKSTREAM_MAX_EVENT_BYTES: 'maxEventBytes',
  INKSTREAM_MAX_BATCH_BYTES: 'maxBatchBytes',
  INKSTREAM_DEDUPE_WINDOW_DAYS: 'dedupeWindowDays',
  INKSTREAM_LOG_RETENTION_DAYS: 'logRetentionDays',
  INKSTREAM_SQLITE_SYNCHRONOUS: 'sqliteSynchronous',
  INKSTREAM_PROCESSOR_BATCH_SIZE: 'processorBatchSize',
  INKSTREAM_PROCESSOR_LINGER_MS: 'processorLingerMs',
  INKSTREAM_SMTP_URL: 'smtpUrl',
  INKSTREAM_DKIM: 'dkim',
  INKSTREAM_FROM: 'from',
  INKSTREAM_BOUNCE_ADDRESS: 'bounceAddress',
  INKSTREAM_BOUNCE_IMAP: 'bounceImap',
  INKSTREAM_CAMPAIGN_PAUSE_AFTER_FAILURES: 'campaignPauseAfterFailures',
  INKSTREAM_OPEN_TIME_TTL_DAYS: 'openTimeTtlDays',
  INKSTREAM_CONVERSION_EVENT: 'conversionEvent',
  INKSTREAM_CONVERSION_WINDOW_DAYS: 'conversionWindowDays',
  INKSTREAM_ROLES: 'roles',
  INKSTREAM_KAFKA_BROKERS: 'kafkaBrokers',
  INKSTREAM_KAFKA_TOPIC: 'kafkaTopic',
  INKSTREAM_KAFKA_PARTITIONS: 'kafkaPartitions',
  INKSTREAM_KAFKA_APPEND_TIMEOUT_MS: 'kafkaAppendTimeoutMs',
  INKSTREAM_FAILPOINTS: 'failpoints',
  INKSTREAM_DATABASE_URL: 'databaseUrl',
  INKSTREAM_REDIS_URL: 'redisUrl',
  INKSTREAM_ROLLUP_RETENTION_DAYS: 'rollupRetentionDays',
  INKSTREAM_WEBHOOK_RETENTION_DAYS: 'webhookRetentionDays',
  INKSTREAM_ALERT_WEBHOOK_URL: 'alertWebhookUrl',
  INKSTREAM_ALERT_WEBHOOK_SECRET: 'alertWebhookSecret',
  INKSTREAM_ESP_WEBHOOK_SECRETS: 'espWebhookSecrets',
  INKSTREAM_SNS_CERT_HOSTS: 'snsCertHosts',
  INKSTREAM_SNS_TOPIC_ARNS: 'snsTopicArns',
  INKSTREAM_SENDGRID_WEBHOOK_KEY: 'sendgridWebhookKey',
  INKSTREAM_POSTMARK_WEBHOOK_AUTH: 'postmarkWebhookAuth',
  INKSTREAM_BOUNCE_SOFT_LIMIT: 'bounceSoftLimit',
  INKSTREAM_BOUNCE_SOFT_WINDOW_DAYS: 'bounceSoftWindowDays',
  INKSTREAM_BOUNCE_POLICY_WORKSPACES: 'bouncePolicyWorkspaces',
}

/** Variables read by tooling, not by the server; accepted so they are not reported as typos. */
const TOOLING_ENV = new Set(['INKSTREAM_REQUIRE_SERVICES'])

/**
 * Builds the config from environment variables and explicit overrides (overrides win).
 * Unknown INKSTREAM_* variables and unknown keys are errors; all problems are reported at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = {}, overrides: ConfigInput = {}): Config {
  const problems: string[] = []
  const fromEnv: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('INKSTREAM_') || value === undefined || TOOLING_ENV.has(name)) continue
    const key = ENV_KEYS[name]
    if (key === undefined)
      problems.push(`${name} is not a known setting (see the README's configuration table)`)
    else fromEnv[key] = value
  }
  const parsed = configSchema.safeParse({ ...fromEnv, ...overrides })
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.') || String((issue as { keys?: string[] }).keys ?? '')
      const envName = Object.keys(ENV_KEYS).find((n) => ENV_KEYS[n] === key)
      problems.push(`${envName ?? key}: ${issue.message}`)
    }
  }
  if (problems.length > 0 || !parsed.success) throw invalidConfig(problems)
  return Object.freeze(parsed.data)
}
