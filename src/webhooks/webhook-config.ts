/**
 * Where opens are POSTed: `content.openTime.webhook` `{ url, secret }` in the content config (the
 * open-routes branch adds that key to src/content/content-config.ts, `${VAR}` interpolated there).
 * Read through this small type so this part does not depend on that schema; without it, opens are
 * not enqueued and no dispatcher runs.
 */
import { z } from 'zod'
import { invalidConfig } from '../core/errors.ts'

export interface WebhookConfig {
  /** http(s) URL the JSON is POSTed to. */
  url: string
  /** The HMAC key; never logged, never in a row or an error. */
  secret: string
}

const webhook = z.object({
  url: z.url({ protocol: /^https?$/, error: 'webhook.url must be an http(s) URL' }),
  secret: z.string().min(16, 'webhook.secret must be at least 16 characters'),
})

const holder = z.looseObject({
  openTime: z.looseObject({ webhook: z.unknown().optional() }).optional(),
})

/** The webhook of a content config (any shape that may carry `openTime.webhook`); undefined when absent. */
export function webhookConfigOf(content: unknown): WebhookConfig | undefined {
  const found = holder.safeParse(content)
  const raw = found.success ? found.data.openTime?.webhook : undefined
  if (raw === undefined) return undefined
  const parsed = webhook.safeParse(raw)
  // The issue's message names the field, never the value (it may be the secret).
  if (!parsed.success)
    throw invalidConfig(parsed.error.issues.map((i) => `openTime.webhook.${i.path.join('.')}: ${i.message}`))
  return parsed.data
}
