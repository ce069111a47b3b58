/**
 * Workspace content settings, from a YAML or JSON file (INKSTREAM_CONTENT_FILE): fallbacks per
 * trait name, connected-content hosts allowed despite private addresses, named credentials, the
 * render deadline, and open-time serving (deadline, cache TTL, AMP senders, open webhook). `${VAR}` in a credential is read from the environment at start, so secrets
 * stay out of the file and out of templates.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { invalidConfig } from '../core/errors.ts'

const contentFile = z
  .object({
    fallbacks: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    connectedContent: z
      .object({
        allowHosts: z.array(z.string().min(1)).default([]),
        credentials: z
          .record(
            z.string().regex(/^[A-Za-z_][\w-]*$/),
            z.object({ headers: z.record(z.string(), z.string()) }).strict(),
          )
          .default({}),
        defaultTtlSeconds: z.number().min(0).max(60, 'cached responses live at most 60 s').default(30),
      })
      .strict()
      .default({ allowHosts: [], credentials: {}, defaultTtlSeconds: 30 }),
    render: z
      .object({ deadlineMs: z.number().int().min(10).max(10_000).default(500) })
      .strict()
      .default({ deadlineMs: 500 }),
    openTime: z
      .object({
        /** Every /o/ request answers within this; data not ready by then is replaced by the fallback. */
        deadlineMs: z.number().int().min(10).max(10_000).default(250),
        /** Rendered blocks (block cache) and the edge's max-age; DESIGN.md §5: ≤ 60 s. */
        cacheTtlSeconds: z
          .number()
          .int()
          .min(0)
          .max(60, 'open-time blocks are cached at most 60 s')
          .default(30),
        /** AMP-Email-Sender values allowed to read the .json route (AMP for Email CORS v2; v1 derives from them). */
        ampSenders: z
          .array(
            z
              .string()
              .min(3)
              .max(320)
              .regex(/^[^\s@]+@[^\s@]+$/, 'an email address'),
          )
          .default([]),
        /** The open webhook (branch open-webhook): POSTed, signed with `secret`, on every recorded open. */
        webhook: z
          .object({ url: z.string().url(), secret: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({ deadlineMs: 250, cacheTtlSeconds: 30, ampSenders: [] }),
  })
  .strict()

export type ContentConfig = z.output<typeof contentFile>

export const DEFAULT_CONTENT_FILE = fileURLToPath(
  new URL('../../config/content.default.yaml', import.meta.url),
)

/** Replaces `${NAME}` with the environment variable; a missing one is a config problem. */
function interpolate(value: string, env: NodeJS.ProcessEnv, where: string, problems: string[]): string {
  return value.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const v = env[name]
    if (v === undefined) problems.push(`${where}: environment variable ${name} is not set`)
    return v ?? ''
  })
}

export function parseContentConfig(
  doc: unknown,
  env: NodeJS.ProcessEnv = {},
  source = 'content config',
): ContentConfig {
  const parsed = contentFile.safeParse(doc ?? {})
  if (!parsed.success) {
    throw invalidConfig(
      parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  const problems: string[] = []
  for (const [name, cred] of Object.entries(parsed.data.connectedContent.credentials)) {
    for (const [header, value] of Object.entries(cred.headers)) {
      cred.headers[header] = interpolate(
        value,
        env,
        `${source}: credential ${name} header ${header}`,
        problems,
      )
    }
  }
  const webhook = parsed.data.openTime.webhook
  if (webhook !== undefined) {
    webhook.secret = interpolate(webhook.secret, env, `${source}: openTime.webhook.secret`, problems)
    // A short HMAC key is guessable (RFC 2104 §3); checked after ${VAR} is read.
    if (webhook.secret.length < 16)
      problems.push(`${source}: openTime.webhook.secret: at least 16 characters`)
  }
  if (problems.length > 0) throw invalidConfig(problems)
  return parsed.data
}

export function loadContentConfig(file = DEFAULT_CONTENT_FILE, env: NodeJS.ProcessEnv = {}): ContentConfig {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    throw invalidConfig([`${file}: ${(err as Error).message}`])
  }
  return parseContentConfig(doc, env, file)
}
