/**
 * The preference center (issue 15), reached by the unsubscribe link's own signed token:
 *   GET  /prefs/<token>   the workspace's topics with the recipient's state, as a form
 *   POST /prefs/<token>   saves the ticked boxes (application/x-www-form-urlencoded), or with
 *                         `all=1` leaves every topic and suppresses the address; answers a page
 * The token (kind `unsubscribe`, authentic however old, as for /u/) names the workspace and the
 * recipient; it authorizes that recipient only. Each change is a consent event with source
 * `preference_center`, the request's IP and time. Registered inside the tracking routes' scope,
 * which owns the form parser and the page headers.
 *   GET  /confirm/<token> a page with one button (link scanners fetch GETs: they confirm nothing)
 *   POST /confirm/<token> confirms a pending double opt-in (double-opt-in.ts)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Clock, InkEvent } from '../core/types.ts'
import type { SuppressionStore } from '../delivery/suppression-store.ts'
import type { TokenPayload } from '../delivery/tokens.ts'
import { type PageResponse, type Rejection, rejectionPage } from '../delivery/tracking-pages.ts'
import { requestSpan, traced } from '../observe/tracing.ts'
import { consentEvent } from './consent-events.ts'
import type { DoubleOptIn } from './double-opt-in.ts'
import {
  ALL_FIELD,
  confirmedPage,
  confirmPage,
  confirmStalePage,
  type PreferenceRow,
  preferencesPage,
  preferencesSavedPage,
  TOPIC_FIELD_PREFIX,
  TOPICS_FIELD,
} from './preference-pages.ts'
import { defaultState, type SubscriptionState, type TopicStore } from './topic-store.ts'

export const PREFERENCE_SOURCE = 'preference_center'

type TokenRoute = { Params: { '*': string } }
type Verified = { ok: true; token: string; payload: TokenPayload } | { ok: false; reason: Rejection }

export interface PreferenceRoutesDeps {
  topics: Pick<TopicStore, 'list' | 'subscriptions' | 'setSubscription'>
  suppressions: Pick<SuppressionStore, 'suppress'>
  log: { append(events: readonly InkEvent[]): Promise<void> }
  clock: Clock
  lookupEmail?: ((workspaceId: string, recipient: string) => Promise<string | undefined>) | undefined
  /** Verifies the path's token as an unsubscribe token (no expiry). */
  verify: (req: FastifyRequest<TokenRoute>) => Verified
  /** Subscribing to a doubleOptIn topic, and the /confirm/ routes; without it subscribes are direct. */
  doubleOptIn?: DoubleOptIn | undefined
  /** Verifies the path's token as a confirm token (it expires). */
  verifyConfirm: (req: FastifyRequest<TokenRoute>) => Verified
  sendPage: (reply: FastifyReply, p: PageResponse) => FastifyReply
}

/** The form's string fields; anything else (a JSON body's numbers, arrays) is ignored, never trusted. */
const formFields = (body: unknown): Record<string, string> =>
  body !== null && typeof body === 'object' && !Array.isArray(body)
    ? Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {}

export function preferenceRoutes(app: FastifyInstance, deps: PreferenceRoutesDeps): void {
  const { topics, clock, verify, sendPage } = deps

  const rowsOf = async (ws: string, userId: string): Promise<PreferenceRow[]> => {
    const states = new Map((await topics.subscriptions(ws, userId)).map((s) => [s.topicId, s.state]))
    return (await topics.list(ws)).map((t) => ({
      id: t.id,
      name: t.name,
      description: t.description,
      doubleOptIn: t.doubleOptIn,
      state: states.get(t.id) ?? defaultState(t),
    }))
  }

  app.get<TokenRoute>('/prefs/*', async (req, reply) => {
    const v = verify(req)
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    return sendPage(reply, preferencesPage(await rowsOf(v.payload.workspaceId, v.payload.recipient)))
  })

  app.post<TokenRoute>('/prefs/*', { bodyLimit: 16_384 }, async (req, reply) => {
    const v = verify(req)
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    const { workspaceId: ws, recipient: userId, campaignId } = v.payload
    const fields = formFields(req.body)
    const all = fields[ALL_FIELD] === '1'
    const before = await rowsOf(ws, userId)
    // Only topics the form showed change: one created since the page was opened keeps its state.
    const shown = new Set((fields[TOPICS_FIELD] ?? '').split(','))
    const at = clock.now()
    const events: InkEvent[] = []
    for (const row of before) {
      if (!all && !shown.has(row.id)) continue
      const wanted: SubscriptionState =
        !all && fields[`${TOPIC_FIELD_PREFIX}${row.id}`] !== undefined ? 'subscribed' : 'unsubscribed'
      if (wanted === row.state) continue
      // A ticked pending topic stays pending (no second email on every save).
      if (wanted === 'subscribed' && row.state === 'pending') continue
      if (wanted === 'subscribed' && row.doubleOptIn && deps.doubleOptIn) {
        const topic = {
          workspaceId: ws,
          id: row.id,
          name: row.name,
          description: row.description,
          doubleOptIn: true,
          createdAt: 0,
          updatedAt: 0,
        }
        const r = await deps.doubleOptIn.subscribe({
          workspaceId: ws,
          userId,
          topic,
          source: PREFERENCE_SOURCE,
          ip: req.ip,
        })
        if (r.event) events.push(r.event)
        continue
      }
      const change = { topicId: row.id, state: wanted, source: PREFERENCE_SOURCE, at }
      if (await topics.setSubscription(ws, userId, change))
        events.push(consentEvent({ workspaceId: ws, userId, ...change, campaignId, ip: req.ip }))
    }
    if (all) {
      // "All" includes mail without a topic: the address is suppressed, as the one-click link does.
      const email = v.payload.email ?? (await deps.lookupEmail?.(ws, userId))
      if (email !== undefined)
        await deps.suppressions.suppress(ws, email, { reason: 'unsubscribed', source: PREFERENCE_SOURCE })
      else req.log.error({ workspaceId: ws, userId }, 'unsubscribe from all without a known address')
    }
    if (events.length > 0) {
      try {
        await deps.log.append(traced(events, requestSpan(req)))
      } catch (err) {
        req.log.error({ err, workspaceId: ws }, 'preferences saved, their consent events not')
      }
    }
    return sendPage(reply, preferencesSavedPage(await rowsOf(ws, userId), all))
  })

  const doubleOptIn = deps.doubleOptIn
  if (!doubleOptIn) return

  app.get<TokenRoute>('/confirm/*', async (req, reply) => {
    const v = deps.verifyConfirm(req)
    return sendPage(reply, v.ok ? confirmPage() : rejectionPage(v.reason))
  })

  app.post<TokenRoute>('/confirm/*', { bodyLimit: 4096 }, async (req, reply) => {
    const v = deps.verifyConfirm(req)
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    const { workspaceId: ws, recipient: userId, campaignId: topicId } = v.payload
    const r = await doubleOptIn.confirm(ws, userId, topicId, req.ip)
    if (!r.ok) return sendPage(reply, confirmStalePage())
    if (r.event) {
      try {
        await deps.log.append(traced([r.event], requestSpan(req)))
      } catch (err) {
        req.log.error({ err, workspaceId: ws }, 'subscription confirmed, its consent event not')
      }
    }
    return sendPage(reply, confirmedPage())
  })
}
