/** The zod schemas of the privacy routes (privacy-routes.ts); they also feed /openapi.json. */
import { z } from 'zod'
import { isoTime, openObject } from '../http/schemas.ts'
import { ERASURE_COUNT_KEYS, type ErasureCounts } from './erasure-plan.ts'

const time = isoTime.nullable()

const idParams = z.object({
  id: z.string().min(1).max(512).meta({ description: 'A userId, anonymousId or profileId' }),
})
const byQuery = z.object({
  by: z
    .enum(['userId', 'anonymousId', 'profileId'])
    .optional()
    .meta({ description: 'Which kind of id `id` is; without it, a userId and then an anonymousId' }),
})

/** The version of the export's shape: a change to it is a new version (docs/arch-erase-export.md). */
export const EXPORT_FORMAT = 'inkstream.profile-export/1' as const

const event = z.strictObject({
  messageId: z.string(),
  type: z.string(),
  name: z.string().nullable(),
  timestamp: isoTime,
  receivedAt: isoTime,
  data: openObject,
})

export const exportSchema = {
  summary: 'Everything held about a person, as JSON (GDPR Art. 15 and 20); audited',
  params: idParams,
  querystring: byQuery,
  response: {
    200: z.strictObject({
      format: z.literal(EXPORT_FORMAT),
      exportedAt: isoTime,
      workspaceId: z.string(),
      profile: z.strictObject({
        profileId: z.string(),
        userId: z.string().nullable(),
        traits: openObject.meta({ description: 'Traits and computed traits, evaluated now' }),
        createdAt: time,
        updatedAt: time,
        firstSeenAt: time,
        lastSeenAt: time,
        lastEventReceivedAt: time,
      }),
      identities: z.strictObject({ userIds: z.array(z.string()), anonymousIds: z.array(z.string()) }),
      events: z.array(event).meta({ description: 'The recent events kept with the profile, newest first' }),
      consent: z.array(event).meta({ description: 'Of those, the subscription events (Unsubscribed)' }),
      segments: z.array(z.strictObject({ id: z.string(), name: z.string(), joinedAt: isoTime })),
      suppressions: z.array(
        z.strictObject({ email: z.string(), reason: z.string(), source: z.string(), createdAt: isoTime }),
      ),
      messages: z.array(
        z.strictObject({
          emailId: z.string(),
          campaignId: z.string(),
          recipient: z.string(),
          templateId: z.string().nullable(),
          createdAt: isoTime,
          sentAt: time,
          bouncedAt: time,
          failedAt: time,
          opens: z.number().int(),
          clicks: z.number().int(),
          firstOpenAt: time,
          firstClickAt: time,
          unsubscribedAt: time,
          conversions: z.number().int(),
          revenue: z.number(),
        }),
      ),
      sends: z.array(
        z.strictObject({
          campaignId: z.string(),
          recipient: z.string(),
          email: z.string(),
          state: z.string(),
          updatedAt: isoTime,
        }),
      ),
      triggerJobs: z.array(
        z.strictObject({
          jobId: z.string(),
          triggerId: z.string(),
          state: z.string(),
          eventAt: isoTime,
          dueAt: isoTime,
          sentAt: time,
          createdAt: isoTime,
        }),
      ),
    }),
  },
}

export const eraseSchema = {
  summary:
    'Erase a person (GDPR Art. 17): profile, identities, events, memberships, jobs, analytics; audited',
  description:
    'Leaves a suppression entry keyed by the hash of each address (reason `erased`). Unknown or already erased → 404 INK_ERR_NOT_FOUND.',
  params: idParams,
  querystring: byQuery,
  response: {
    200: z.strictObject({
      profileId: z.string(),
      erasedAt: isoTime,
      auditId: z.number().int(),
      removed: z
        .strictObject({
          ...Object.fromEntries(ERASURE_COUNT_KEYS.map((k) => [k, z.number().int()])),
          logEvents: z.number().int().nullable(),
          log: z.enum(['erased', 'retention']).meta({
            description:
              "The person's events in the event log: `erased` (`logEvents` of them; the embedded SQLite log) or `retention` (Kafka cannot delete: kept until the topic's retention, `logEvents` null)",
          }),
        } as { [K in keyof ErasureCounts]: z.ZodNumber } & {
          logEvents: z.ZodNullable<z.ZodNumber>
          log: z.ZodEnum<{ erased: 'erased'; retention: 'retention' }>
        })
        .meta({ description: 'What was removed, by table; the log part in `log` and `logEvents`' }),
    }),
  },
}

export const auditSchema = {
  summary: 'The audit of erasures and exports, newest first, a page at a time',
  querystring: z
    .object({
      before: z.coerce
        .number()
        .int()
        .min(1)
        .optional()
        .meta({ description: 'The `next` of the previous page' }),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    })
    .strict(),
  response: {
    200: z.strictObject({
      entries: z.array(
        z.strictObject({
          id: z.number().int(),
          action: z.enum(['erase', 'export']),
          profileId: z.string(),
          actor: z.string(),
          at: isoTime,
          details: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
        }),
      ),
      next: z.number().int().nullable(),
    }),
  },
}
