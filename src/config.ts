/**
 * The one configuration schema. Every setting has an INKSTREAM_* environment variable and a
 * default here; nothing else in the code holds a default. The embedded default needs no config.
 */
import { z } from 'zod'
import { invalidConfig } from './core/errors.ts'

const KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** The URL email clients reach this server at (tracking and unsubscribe links); default http://host:port. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
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
  })
  .strict()

export type Config = Readonly<z.output<typeof configSchema>>
export type ConfigInput = z.input<typeof configSchema>

/** Environment variable → config key. The README's configuration table is this list. */
export const ENV_KEYS: Record<string, keyof ConfigInput> = {
  INKSTREAM_HOST: 'host',
  INKSTREAM_PUBLIC_URL: 'publicUrl',
  INKSTREAM_PORT: 'port',
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
