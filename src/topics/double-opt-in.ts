/**
 * Double opt-in (issue 15). Subscribing someone to a topic with `doubleOptIn` (through
 * PUT /v1/profiles/:id/topics or the preference center) does not activate it: the state becomes
 * `pending` (skipped by sends like `unsubscribed`) and a confirmation email with a signed link
 * (token kind `confirm`, campaignId = the topic id, expires) goes through the configured transport,
 * outside the send path (as the test send does: no ledger row, no tracking). The link opens
 * GET /confirm/<token>, a page with a button: only its POST confirms, so link scanners that fetch
 * GETs confirm nothing. The POST turns `pending` into `subscribed`, recorded as `Topic Subscribed`
 * with source `double_opt_in`, the IP and the time. A link for a state that is no longer pending
 * (the person left since) changes nothing.
 */
import { randomBytes } from 'node:crypto'
import type { Clock, InkEvent } from '../core/types.ts'
import type { TokenCodec } from '../delivery/tokens.ts'
import { trackingBase } from '../delivery/tracking.ts'
import type { OutgoingMessage, Transport } from '../delivery/transport.ts'
import { consentEvent } from './consent-events.ts'
import { escapeHtml } from './preference-pages.ts'
import { defaultState, type SubscriptionState, type Topic, type TopicStore } from './topic-store.ts'

export const DOUBLE_OPT_IN_SOURCE = 'double_opt_in'
/** How long a confirmation link works. */
export const CONFIRM_TTL_MS = 7 * 24 * 3600_000

export interface DoubleOptInDeps {
  codec: Pick<TokenCodec, 'sign'>
  transport: Pick<Transport, 'send'>
  topics: Pick<TopicStore, 'subscriptions' | 'setSubscription'>
  /** The sender (INKSTREAM_FROM); without it no confirmation can be sent (logged, state stays pending). */
  from: string | undefined
  /** Public origin of the tracking routes. */
  publicUrl: () => string
  lookupEmail: (workspaceId: string, userId: string) => Promise<string | undefined>
  clock: Clock
  log?: { error(obj: object, msg: string): void }
}

export interface SubscribeRequest {
  workspaceId: string
  userId: string
  topic: Topic
  /** What asked: `api`, `preference_center`. */
  source: string
  ip?: string | undefined
}

export interface SubscribeResult {
  state: SubscriptionState
  /** The consent event to record, when the stored state became `subscribed`. */
  event?: InkEvent
  /** Whether a confirmation email was handed to the mail server. */
  confirmationSent: boolean
}

/** No control characters in a header made of user data. */
const headerSafe = (s: string) => s.replace(/[\p{Cc}]+/gu, ' ').trim()

export class DoubleOptIn {
  readonly #d: DoubleOptInDeps
  constructor(deps: DoubleOptInDeps) {
    this.#d = deps
  }

  /**
   * Subscribes: directly for a topic without double opt-in; else to `pending` plus a confirmation
   * email (sent again when already pending: asking again re-sends it). Already subscribed: nothing.
   */
  async subscribe(r: SubscribeRequest): Promise<SubscribeResult> {
    const { workspaceId: ws, userId, topic } = r
    const at = this.#d.clock.now()
    const current =
      (await this.#d.topics.subscriptions(ws, userId)).find((s) => s.topicId === topic.id)?.state ??
      defaultState(topic)
    if (current === 'subscribed') return { state: 'subscribed', confirmationSent: false }
    if (!topic.doubleOptIn) {
      const change = { topicId: topic.id, state: 'subscribed' as const, source: r.source, at }
      const changed = await this.#d.topics.setSubscription(ws, userId, change)
      return {
        state: 'subscribed',
        confirmationSent: false,
        ...(changed ? { event: consentEvent({ workspaceId: ws, userId, ...change, ip: r.ip }) } : {}),
      }
    }
    if (current !== 'pending')
      await this.#d.topics.setSubscription(ws, userId, {
        topicId: topic.id,
        state: 'pending',
        source: r.source,
        at,
      })
    return { state: 'pending', confirmationSent: await this.#sendConfirmation(ws, userId, topic) }
  }

  /** The signed confirmation URL for one person and topic. */
  confirmUrl(ws: string, userId: string, topicId: string, messageId: string): string {
    const token = this.#d.codec.sign(
      { kind: 'confirm', workspaceId: ws, campaignId: topicId, recipient: userId, messageId },
      CONFIRM_TTL_MS,
    )
    return `${trackingBase(this.#d.publicUrl())}/confirm/${token}`
  }

  async #sendConfirmation(ws: string, userId: string, topic: Topic): Promise<boolean> {
    const email = await this.#d.lookupEmail(ws, userId)
    const from = this.#d.from
    if (email === undefined || from === undefined) {
      this.#d.log?.error(
        { workspaceId: ws, userId, topicId: topic.id, hasEmail: email !== undefined },
        'double opt-in confirmation not sent: no address for the profile or no INKSTREAM_FROM',
      )
      return false
    }
    const messageId = `ink-k.${randomBytes(16).toString('hex')}`
    const url = this.confirmUrl(ws, userId, topic.id, messageId)
    const name = headerSafe(topic.name)
    const message: OutgoingMessage = {
      messageId,
      from,
      to: email,
      subject: `Please confirm your subscription: ${name}`.slice(0, 250),
      text: `Please confirm that you want to receive "${name}".\n\nConfirm: ${url}\n\nIf you did not ask for this, ignore this email: nothing will be sent.\n`,
      html: `<!doctype html><html><body><p>Please confirm that you want to receive <strong>${escapeHtml(
        topic.name,
      )}</strong>.</p><p><a href="${escapeHtml(url)}">Confirm my subscription</a></p><p>If you did not ask for this, ignore this email: nothing will be sent.</p></body></html>`,
    }
    try {
      const outcome = await this.#d.transport.send(message)
      if (outcome.outcome === 'sent') return true
      this.#d.log?.error({ workspaceId: ws, userId, outcome }, 'double opt-in confirmation refused')
    } catch (err) {
      this.#d.log?.error({ err, workspaceId: ws, userId }, 'double opt-in confirmation not sent')
    }
    return false
  }

  /**
   * The confirmation POST: `pending` becomes `subscribed`. Answers the consent event to record, or
   * why nothing changed (`already`: subscribed before; `stale`: not pending any more, or topic gone).
   */
  async confirm(
    ws: string,
    userId: string,
    topicId: string,
    ip: string | undefined,
  ): Promise<{ ok: true; event?: InkEvent } | { ok: false; why: 'stale' }> {
    const current = (await this.#d.topics.subscriptions(ws, userId)).find((s) => s.topicId === topicId)
    if (current?.state === 'subscribed') return { ok: true }
    if (current?.state !== 'pending') return { ok: false, why: 'stale' }
    const change = {
      topicId,
      state: 'subscribed' as const,
      source: DOUBLE_OPT_IN_SOURCE,
      at: Math.max(this.#d.clock.now(), current.at),
    }
    if (!(await this.#d.topics.setSubscription(ws, userId, change))) return { ok: false, why: 'stale' }
    return { ok: true, event: consentEvent({ workspaceId: ws, userId, ...change, ip }) }
  }
}
