/**
 * Behavioural triggers: a track event (optionally not followed by another one within a window)
 * sends one template to the profile that did it. Pure parsing and matching; no I/O.
 */
import { z } from 'zod'
import { InkError } from '../core/errors.ts'
import { isTimeZone, type QuietHours } from '../core/local-time.ts'
import { checkFrom } from '../delivery/mailbox.ts'
import { toInt } from './trigger-jobs.ts'

export interface TriggerDef {
  workspaceId: string
  triggerId: string
  /** The track event name that starts a job. */
  event: string
  /** Abandonment: the job is cancelled when this event follows within `withinMs`. */
  unless?: { event: string; withinMs: number }
  /** The profile must be a member of this segment when the message is sent. */
  segment?: string
  templateId: string
  from: string
  delayMs: number
  /** At most `max` messages of this trigger per recipient per `perMs`. */
  frequencyCap?: { max: number; perMs: number }
  /**
   * No message between `start` and `end` on the recipient's clock (their `timezone` trait, else
   * `timezone` here): a job that comes due then is held until `end`.
   */
  quietHours?: QuietHours & { timezone: string }
  /** The subscription topic (topics/): who left it is skipped; its unsubscribe link leaves it only. */
  topic?: string
  updatedAt: number
}

const DAY = 86_400_000
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/

/** The body of PUT /v1/triggers/:id; the route validates with it, parseTrigger adds the checks beyond shape. */
export const schema = z.strictObject({
  event: z.string().min(1).max(200),
  unless: z
    .strictObject({
      event: z.string().min(1).max(200),
      withinMs: z
        .number()
        .int()
        .min(0)
        .max(30 * DAY),
    })
    .optional(),
  segment: z.string().min(1).max(100).optional(),
  templateId: z.string().min(1).max(100),
  from: z.string().min(3).max(300).optional(),
  delayMs: z
    .number()
    .int()
    .min(0)
    .max(30 * DAY)
    .optional(),
  frequencyCap: z
    .strictObject({
      max: z.number().int().min(1).max(1000),
      perMs: z
        .number()
        .int()
        .min(1)
        .max(365 * DAY),
    })
    .optional(),
  quietHours: z
    .strictObject({
      start: z.string().regex(CLOCK, 'a 24-hour HH:MM time'),
      end: z.string().regex(CLOCK, 'a 24-hour HH:MM time'),
      timezone: z.string().min(1).max(64).optional(),
    })
    .optional(),
  topic: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a topic id: lowercase letters, digits, "_" and "-", at most 64')
    .optional(),
})

export type TriggerInput = Omit<TriggerDef, 'workspaceId' | 'triggerId' | 'updatedAt'>

/** Validates an API body; `defaultFrom` is INKSTREAM_FROM. Throws INK_ERR_BAD_REQUEST. */
/** A triggers row as either backend reads it (the definition as JSON text or parsed, the time as text or number). */
export interface TriggerDefRow {
  workspace_id: string
  trigger_id: string
  definition: string | TriggerInput
  updated_at: number | string
}

/** The one row mapping of both TriggerStore backends. */
export const defFromRow = (r: TriggerDefRow): TriggerDef => ({
  ...(typeof r.definition === 'string' ? (JSON.parse(r.definition) as TriggerInput) : r.definition),
  workspaceId: r.workspace_id,
  triggerId: r.trigger_id,
  updatedAt: toInt(r.updated_at),
})

export function parseTrigger(body: unknown, defaultFrom: string | undefined): TriggerInput {
  const parsed = schema.safeParse(body)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
    throw new InkError('INK_ERR_BAD_REQUEST', `invalid trigger: ${problems.join('; ')}`, {
      details: { issues: problems },
    })
  }
  const b = parsed.data
  const from = b.from ?? defaultFrom
  if (from === undefined)
    throw new InkError('INK_ERR_BAD_REQUEST', 'the trigger has no "from", and INKSTREAM_FROM is not set')
  // The campaigns' check: a sender that is not one mailbox would fail every message (422).
  checkFrom(from)
  if (b.unless?.event === b.event)
    throw new InkError('INK_ERR_BAD_REQUEST', 'unless.event must differ from event')
  const quietHours = b.quietHours && { ...b.quietHours, timezone: b.quietHours.timezone ?? 'UTC' }
  if (quietHours && !isTimeZone(quietHours.timezone))
    throw new InkError(
      'INK_ERR_BAD_REQUEST',
      `quietHours.timezone: unknown time zone "${quietHours.timezone}"; use an IANA name such as "Europe/Paris", or "UTC"`,
    )
  if (quietHours && quietHours.start === quietHours.end)
    throw new InkError('INK_ERR_BAD_REQUEST', 'quietHours: start and end must differ')
  return {
    event: b.event,
    ...(b.unless === undefined ? {} : { unless: b.unless }),
    ...(b.segment === undefined ? {} : { segment: b.segment }),
    templateId: b.templateId,
    from,
    delayMs: b.delayMs ?? 0,
    ...(b.frequencyCap === undefined ? {} : { frequencyCap: b.frequencyCap }),
    ...(quietHours === undefined ? {} : { quietHours }),
    ...(b.topic === undefined ? {} : { topic: b.topic }),
  }
}

/** When a job for an event at `eventAt` is due: after the delay, and after the abandonment window. */
export const dueAt = (t: Pick<TriggerDef, 'delayMs' | 'unless'>, eventAt: number): number =>
  eventAt + Math.max(t.delayMs, t.unless?.withinMs ?? 0)
