/**
 * The bounce and complaint policy (issue 15), applied by the processor to each event it folds:
 * a pure function over the profile's state and the event, so the suppression it decides is written
 * in the batch's own transaction (BatchChanges.suppressions) and the processor's messageId dedupe and
 * offsets make it exactly-once, like every other profile change.
 *
 * - `Email Bounced`, hard (`bounce_type: "hard"`, or the SMTP session's `reason: "hard_bounce"`):
 *   suppress the address, reason `bounced`.
 * - `Email Bounced`, soft (`bounce_type: "soft"`, or `reason: "soft_bounce"`): count it; the
 *   `softLimit`-th soft bounce of a run suppresses (`bounced`). A run starts at its first soft bounce
 *   and lasts `softWindowMs`; a soft bounce after that starts a new run at 1, and a confirmed
 *   delivery (`Email Delivered`, from the feedback path) ends the run.
 * - `Email Complained`: suppress, reason `complained`, and (the processor) unsubscribe the profile from
 *   every topic of the workspace (BatchChanges.topicUnsubscribes).
 *
 * Only events the server wrote count (send outcomes and delivery feedback, by their messageId prefix,
 * which the collector refuses from clients): the write key is public, and a client's own
 * `Email Complained` must not suppress anyone.
 *
 * The address is the event's `recipient` property, else the profile's `email` trait; neither (or
 * something that is not an address): the traits still change, nothing is suppressed.
 *
 * Traits written to the profile (identify traits, so segments and templates see them):
 * `email_status` (`soft_bouncing` | `bounced` | `complained`; `active` again after a delivery ends a
 * soft run), `email_soft_bounces` (soft bounces in the current run), `email_soft_bounces_since`
 * (ISO time the run started), `email_bounced_at`, `email_complained_at` (ISO time of the event that
 * suppressed). `complained` outranks `bounced`, which outranks `soft_bouncing`.
 */
import type { InkEvent, JsonObject } from '../core/types.ts'
import { EMAIL_COMPLAINED, EMAIL_DELIVERED, FEEDBACK_EVENT_PREFIX } from '../delivery/feedback.ts'
import { EMAIL_BOUNCED, OUTCOME_EVENT_PREFIX } from '../delivery/outcome-events.ts'
import { normalizeEmail, type SuppressionReason } from '../delivery/suppression-store.ts'
import type { ProfileState } from '../traits/computed-traits.ts'
import { effectiveEventTime } from '../traits/event-time.ts'

export interface BouncePolicy {
  /** The soft bounce of a run that suppresses the address (1: the first one does). */
  softLimit: number
  /** How long a run of soft bounces lasts from its first one, ms. */
  softWindowMs: number
}

export const DEFAULT_BOUNCE_POLICY: BouncePolicy = { softLimit: 3, softWindowMs: 30 * 86_400_000 }

/** The policy of a workspace. */
export type BouncePolicies = (workspaceId: string) => BouncePolicy

/** What the policy decided: a suppression (written with the batch when the address is known). */
export interface PolicySuppression {
  /** Undefined when neither the event nor the profile has a usable address. */
  email: string | undefined
  reason: Extract<SuppressionReason, 'bounced' | 'complained'>
  /** `campaign:<id>`, `trigger:<id>`, `feedback:<source>` or `bounce-policy`. */
  source: string
}

export const TRAIT_STATUS = 'email_status'
export const TRAIT_SOFT_BOUNCES = 'email_soft_bounces'
export const TRAIT_SOFT_SINCE = 'email_soft_bounces_since'
export const TRAIT_BOUNCED_AT = 'email_bounced_at'
export const TRAIT_COMPLAINED_AT = 'email_complained_at'

const RANK: Record<string, number> = { active: 0, soft_bouncing: 1, bounced: 2, complained: 3 }

function setStatus(traits: JsonObject, status: keyof typeof RANK): void {
  const now = traits[TRAIT_STATUS]
  const current = typeof now === 'string' ? (RANK[now] ?? 0) : 0
  if ((RANK[status] ?? 0) >= current) traits[TRAIT_STATUS] = status
}

type Kind = 'hard' | 'soft' | 'complaint' | 'delivered'

/** Written by the server itself (the collector refuses these messageId prefixes from clients). */
const fromServer = (e: InkEvent) =>
  e.messageId.startsWith(OUTCOME_EVENT_PREFIX) || e.messageId.startsWith(FEEDBACK_EVENT_PREFIX)

function kindOf(e: InkEvent): Kind | undefined {
  if (e.type !== 'track' || !fromServer(e)) return undefined
  if (e.event === EMAIL_COMPLAINED) return 'complaint'
  if (e.event === EMAIL_DELIVERED) return 'delivered'
  if (e.event !== EMAIL_BOUNCED) return undefined
  const p = e.properties ?? {}
  if (p.bounce_type === 'hard' || p.bounce_type === 'soft') return p.bounce_type
  if (p.reason === 'hard_bounce') return 'hard'
  if (p.reason === 'soft_bounce') return 'soft'
  return undefined
}

const MAX_SOURCE = 200

function sourceOf(p: JsonObject): string {
  const campaign = p.campaign_id
  let source = 'bounce-policy'
  if (typeof campaign === 'string' && campaign !== '')
    source = campaign.startsWith('trigger:') ? campaign : `campaign:${campaign}`
  else if (p.origin === 'feedback' && typeof p.source === 'string') source = `feedback:${p.source}`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the suppression store refuses control characters
  return source.replace(/[\x00-\x1f\x7f]/g, '').slice(0, MAX_SOURCE) || 'bounce-policy'
}

function addressOf(p: JsonObject, state: ProfileState): string | undefined {
  const given = typeof p.recipient === 'string' ? normalizeEmail(p.recipient) : undefined
  if (given !== undefined) return given
  const trait = state.traits.email
  return typeof trait === 'string' ? normalizeEmail(trait) : undefined
}

const iso = (t: number) => new Date(t).toISOString()

/**
 * Applies the policy to one event folded into `state` (mutating its traits); answers the suppression
 * the event calls for, if any (its `email` undefined when no address is known).
 */
export function applyBouncePolicy(
  state: ProfileState,
  e: InkEvent,
  policy: BouncePolicy,
): PolicySuppression | undefined {
  const kind = kindOf(e)
  if (kind === undefined) return undefined
  const traits = state.traits
  const t = effectiveEventTime(e)
  const p = e.properties ?? {}
  let reason: PolicySuppression['reason'] | undefined
  switch (kind) {
    case 'delivered':
      if (traits[TRAIT_SOFT_BOUNCES] !== undefined) traits[TRAIT_SOFT_BOUNCES] = 0
      delete traits[TRAIT_SOFT_SINCE]
      if (traits[TRAIT_STATUS] === 'soft_bouncing') traits[TRAIT_STATUS] = 'active'
      return undefined
    case 'soft': {
      const since = typeof traits[TRAIT_SOFT_SINCE] === 'string' ? Date.parse(traits[TRAIT_SOFT_SINCE]) : NaN
      const count = typeof traits[TRAIT_SOFT_BOUNCES] === 'number' ? traits[TRAIT_SOFT_BOUNCES] : 0
      const inRun = count > 0 && Number.isFinite(since) && t - since < policy.softWindowMs
      const n = inRun ? count + 1 : 1
      traits[TRAIT_SOFT_BOUNCES] = n
      if (!inRun) traits[TRAIT_SOFT_SINCE] = iso(t)
      if (n < policy.softLimit) {
        setStatus(traits, 'soft_bouncing')
        return undefined
      }
      reason = 'bounced'
      break
    }
    case 'hard':
      reason = 'bounced'
      break
    case 'complaint':
      reason = 'complained'
      break
  }
  if (reason === 'bounced') {
    setStatus(traits, 'bounced')
    traits[TRAIT_BOUNCED_AT] ??= iso(t)
  } else {
    setStatus(traits, 'complained')
    traits[TRAIT_COMPLAINED_AT] ??= iso(t)
  }
  return { email: addressOf(p, state), reason, source: sourceOf(p) }
}

/**
 * Parses the per-workspace overrides: `workspace:softLimit:windowDays` entries, comma-separated
 * (`shop-eu:5:14,shop-us:1:30`). Answers the overrides or every problem found.
 */
export function parseBouncePolicyOverrides(
  spec: string,
): { ok: true; overrides: [string, BouncePolicy][] } | { ok: false; problems: string[] } {
  const overrides: [string, BouncePolicy][] = []
  const problems: string[] = []
  for (const raw of spec.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    const m = /^([a-z0-9][a-z0-9_-]{0,63}):(\d{1,3}):(\d+(?:\.\d+)?)$/.exec(entry)
    const limit = m ? Number(m[2]) : NaN
    const days = m ? Number(m[3]) : NaN
    if (!m || limit < 1 || limit > 100 || days <= 0 || days > 365) {
      problems.push(
        `"${entry}" is not workspace:softLimit:windowDays (softLimit 1-100, windowDays above 0 and at most 365), e.g. shop-eu:5:14`,
      )
      continue
    }
    if (overrides.some(([ws]) => ws === m[1])) problems.push(`workspace "${m[1]}" is named twice`)
    overrides.push([m[1]!, { softLimit: limit, softWindowMs: days * 86_400_000 }])
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, overrides }
}

/** The policy per workspace: an override, else the defaults. Plain data in, so it crosses a thread. */
export function bouncePolicies(settings: BouncePolicySettings): BouncePolicies {
  const byWorkspace = new Map(settings.overrides)
  return (workspaceId) => byWorkspace.get(workspaceId) ?? settings.defaults
}

/** The settings of the policy as plain data (they cross into the processor's thread). */
export interface BouncePolicySettings {
  defaults: BouncePolicy
  overrides: [string, BouncePolicy][]
}

/** The settings from the config's INKSTREAM_BOUNCE_* values (already validated by the schema). */
export function bouncePolicySettings(config: {
  bounceSoftLimit: number
  bounceSoftWindowDays: number
  bouncePolicyWorkspaces?: string | undefined
}): BouncePolicySettings {
  const parsed = parseBouncePolicyOverrides(config.bouncePolicyWorkspaces ?? '')
  return {
    defaults: { softLimit: config.bounceSoftLimit, softWindowMs: config.bounceSoftWindowDays * 86_400_000 },
    overrides: parsed.ok ? parsed.overrides : [],
  }
}
