/**
 * Webhook deliveries API (admin key): GET /v1/webhooks/deliveries?state=&limit=&after= — the
 * workspace's webhook deliveries (opens and anomaly alerts), newest first (ids sort by creation time), a page at a time.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { adminScope } from '../http/admin-scope.ts'
import { isoTime, openObject } from '../http/schemas.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { DELIVERY_KINDS, DELIVERY_STATES, type WebhookDelivery, type WebhookOutbox } from './outbox.ts'
import { MAX_PAGE } from './outbox-rules.ts'

export interface WebhookRoutesDeps {
  outbox: WebhookOutbox
  workspaces: WorkspaceStore
}

const LIMIT = `limit must be an integer from 1 to ${MAX_PAGE}`
const STATE = `state is one of ${DELIVERY_STATES.join(', ')}`
const time = isoTime.nullable()

const delivery = z.strictObject({
  id: z.string().meta({ description: 'Sent as the `Inkstream-Delivery` header; sorts by creation time.' }),
  kind: z
    .enum(DELIVERY_KINDS)
    .meta({ description: '`open` (the open webhook) or `alert` (an anomaly alert).' }),
  eventId: z.string().meta({
    description: 'The messageId of the `Email Opened` event; for an alert, `<alert id>:started|ended`.',
  }),
  state: z.enum(DELIVERY_STATES),
  attempts: z.number().int(),
  nextAttemptAt: isoTime.meta({ description: 'Pending: when the next attempt may start.' }),
  firstAttemptAt: time,
  lastAttemptAt: time,
  lastStatus: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'HTTP status of the last attempt; null when none came.' }),
  lastError: z.string().nullable(),
  createdAt: isoTime,
  deliveredAt: time,
  payload: openObject.meta({ description: 'The JSON body POSTed (and signed).' }),
})

const page = z.strictObject({
  deliveries: z.array(delivery),
  next: z
    .string()
    .nullable()
    .meta({ description: 'Pass as `after` for the next page; null on the last one.' }),
})

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const view = (d: WebhookDelivery): z.output<typeof delivery> => ({
  id: d.id,
  kind: d.kind,
  eventId: d.eventId,
  state: d.state,
  attempts: d.attempts,
  nextAttemptAt: new Date(d.nextAttemptAt).toISOString(),
  firstAttemptAt: iso(d.firstAttemptAt),
  lastAttemptAt: iso(d.lastAttemptAt),
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: new Date(d.createdAt).toISOString(),
  deliveredAt: iso(d.deliveredAt),
  payload: openObject.parse(JSON.parse(d.payload)),
})

export async function webhookRoutes(app: FastifyInstance, deps: WebhookRoutesDeps): Promise<void> {
  const { outbox } = deps
  await adminScope(app, deps.workspaces, (admin) => {
    admin.get(
      '/v1/webhooks/deliveries',
      {
        schema: {
          summary: 'Open-webhook deliveries, newest first, a page at a time',
          querystring: z.object({
            state: z.enum(DELIVERY_STATES, STATE).optional(),
            after: z.string().max(200).optional().meta({ description: 'The `next` of the previous page.' }),
            limit: z.coerce.number(LIMIT).int(LIMIT).min(1, LIMIT).max(MAX_PAGE, LIMIT).default(100),
          }),
          response: { 200: page },
        },
      },
      async (req) => {
        const { state, after, limit } = req.query
        // One more than asked: whether there is a next page, without a second query.
        const rows = await outbox.list(req.workspace.id, {
          limit: limit + 1,
          ...(state === undefined ? {} : { state }),
          ...(after === undefined ? {} : { after }),
        })
        const shown = rows.slice(0, limit)
        return {
          deliveries: shown.map(view),
          next: rows.length > limit ? (shown.at(-1)?.id ?? null) : null,
        }
      },
    )
  })
}
