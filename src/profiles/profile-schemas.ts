/** The zod schemas of the profile routes (profile-routes.ts); they also feed /openapi.json. */
import { z } from 'zod'
import { EVENT_TYPES } from '../core/types.ts'
import { isoTime, openObject } from '../http/schemas.ts'
import { RECENT_EVENTS_KEPT } from './recent-events.ts'

const time = isoTime.nullable()

/** Search results and list pages are bounded. */
export const MAX_SEARCH = 100
export const MAX_MESSAGES = 100

const idParams = z.object({ id: z.string().meta({ description: 'A userId, anonymousId or profileId' }) })
const byQuery = {
  by: z
    .enum(['userId', 'anonymousId', 'profileId'])
    .optional()
    .meta({ description: 'Which kind of id `id` is; without it, a userId and then an anonymousId' }),
}

export const profileSchema = {
  summary: 'A profile, with its identities and traits evaluated now',
  params: idParams,
  querystring: z.object(byQuery),
  response: {
    200: z.strictObject({
      profileId: z.string(),
      userId: z.string().nullable(),
      identities: z.strictObject({ userIds: z.array(z.string()), anonymousIds: z.array(z.string()) }),
      traits: openObject,
      version: z.number().int(),
      createdAt: time,
      updatedAt: time,
      firstSeenAt: time,
      lastSeenAt: time,
      lastEventReceivedAt: time,
    }),
  },
}

const searchValue = z.string().min(1).max(512)

export const searchSchema = {
  summary: 'Profiles by userId, anonymousId or email (the `email` trait, ASCII case-insensitive)',
  description:
    'Exactly one of `userId`, `anonymousId`, `email` or `q`; `q` tries all three and lists each profile once.',
  querystring: z.object({
    userId: searchValue.optional(),
    anonymousId: searchValue.optional(),
    email: searchValue.optional(),
    q: searchValue.optional().meta({ description: 'A userId, an anonymousId or an email' }),
    limit: z.coerce.number().int().min(1).max(MAX_SEARCH).default(20),
  }),
  response: {
    200: z.strictObject({
      profiles: z.array(
        z.strictObject({
          profileId: z.string(),
          userId: z.string().nullable(),
          email: z.string().nullable(),
          matchedBy: z.enum(['userId', 'anonymousId', 'email']),
          lastSeenAt: time,
        }),
      ),
    }),
  },
}

export const eventsSchema = {
  summary: "A profile's recent events, newest first",
  description: `The newest ${RECENT_EVENTS_KEPT} events folded into the profile are kept (by event time); older ones are not.`,
  params: idParams,
  querystring: z.object({
    ...byQuery,
    limit: z.coerce.number().int().min(1).max(RECENT_EVENTS_KEPT).default(RECENT_EVENTS_KEPT),
  }),
  response: {
    200: z.strictObject({
      profileId: z.string(),
      events: z.array(
        z.strictObject({
          messageId: z.string(),
          type: z.enum(EVENT_TYPES as [string, ...string[]]),
          name: z.string().nullable(),
          timestamp: isoTime,
          receivedAt: isoTime,
          data: openObject.meta({
            description:
              'properties or traits, and context.userAgent/page/ip/locale; `truncated` when too big',
          }),
        }),
      ),
    }),
  },
}

export const segmentsSchema = {
  summary: 'The segments a profile is a member of',
  params: idParams,
  querystring: z.object(byQuery),
  response: {
    200: z.strictObject({
      profileId: z.string(),
      segments: z.array(
        z.strictObject({
          id: z.string(),
          name: z.string(),
          joinedAt: isoTime,
          backfilled: z
            .boolean()
            .meta({ description: "False while the segment's current definition is being backfilled" }),
        }),
      ),
    }),
  },
}

export const messagesSchema = {
  summary: 'Messages sent to a profile, newest first, with their outcome and engagement',
  description:
    'From engagement analytics (per-message rows, kept for the analytics retention). Opens are human opens; machine opens (proxies, scanners) are not counted.',
  params: idParams,
  querystring: z.object({
    ...byQuery,
    limit: z.coerce.number().int().min(1).max(MAX_MESSAGES).default(20),
  }),
  response: {
    200: z.strictObject({
      profileId: z.string(),
      messages: z.array(
        z.strictObject({
          emailId: z.string(),
          origin: z.enum(['campaign', 'trigger']),
          campaignId: z.string().nullable(),
          triggerId: z.string().nullable(),
          recipient: z.string().meta({ description: 'The userId (or anonymousId) it was sent to' }),
          templateId: z.string().nullable(),
          templateVersion: z.number().int().nullable(),
          outcome: z
            .enum(['sent', 'bounced', 'failed', 'pending'])
            .meta({ description: '`pending`: engagement seen before the send outcome was folded' }),
          createdAt: isoTime,
          sentAt: time,
          opens: z.number().int(),
          clicks: z.number().int(),
          firstOpenAt: time,
          firstClickAt: time,
          unsubscribedAt: time,
          conversions: z.number().int(),
          revenue: z.number(),
        }),
      ),
    }),
  },
}
