/**
 * The tracking routes email clients call: GET /c/<token> (click → 302), GET /p/<token> (open pixel),
 * GET|POST /u/<token> (unsubscribe page, RFC 8058 one-click; a message with a subscription topic
 * leaves that topic only, one without suppresses the address). Everything they know comes from the
 * signed token; a token that does not verify records nothing.
 *
 * Routes are wildcards (`/c/*`) rather than `/c/:token` because fastify refuses path parameters over
 * 100 characters (maxParamLength) and a click token carries its URL. HEAD requests (link checkers)
 * get the same status and headers as GET but record nothing.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isInkError } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import type { EventLog } from '../log/event-log.ts'
import { countTrackingEvent } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import { requestSpan, traced } from '../observe/tracing.ts'
import { consentEvent } from '../topics/consent-events.ts'
import type { DoubleOptIn } from '../topics/double-opt-in.ts'
import { preferenceRoutes } from '../topics/preference-routes.ts'
import type { TopicStore } from '../topics/topic-store.ts'
import type { SuppressionStore } from './suppression-store.ts'
import type { TokenCodec, TokenKind, TokenPayload, VerifyOptions } from './tokens.ts'
import { trackingEvent } from './tracking-events.ts'
import {
  confirmUnsubscribePage,
  NO_STORE_HEADERS,
  PAGE_HEADERS,
  type PageResponse,
  type Rejection,
  recipientUnknownPage,
  rejectionPage,
  TRANSPARENT_GIF,
  UNSUBSCRIBED_TEXT,
  unsubscribedPage,
} from './tracking-pages.ts'

export interface TrackingRoutesDeps {
  codec: TokenCodec
  log: EventLog
  suppressions: SuppressionStore
  clock: Clock
  /** The recipient's current address, for unsubscribe tokens that do not carry one. */
  lookupEmail?: (workspaceId: string, recipient: string) => Promise<string | undefined>
  /**
   * The subscription topic of a campaign (`trigger:<id>` for a trigger), if it has one: its unsubscribe
   * link then leaves that topic only. Without it (or `topics`), every unsubscribe suppresses the address.
   */
  topicOf?: (workspaceId: string, campaignId: string) => Promise<string | undefined>
  topics?: Pick<TopicStore, 'setSubscription'> & Partial<Pick<TopicStore, 'list' | 'subscriptions'>>
  /** Double opt-in: the preference center subscribes through it, and it answers /confirm/<token>. */
  doubleOptIn?: DoubleOptIn | undefined
  /** Opens and clicks of one token inside a window this long count once (default 10 s). */
  dedupeWindowMs?: number
  /** Counts the opens, clicks and unsubscribes recorded; nothing is counted when absent. */
  metrics?: Pick<Metrics, 'emailOpens' | 'emailClicks' | 'emailUnsubscribes'>
}

/** Form bodies are tiny ("List-Unsubscribe=One-Click"); anything bigger is not a mail client. */
const FORM_BODY_LIMIT = 4096

/** The wildcard holds the token: `/c/<token>`. */
type TokenRoute = { Params: { '*': string } }
type TokenRequest = FastifyRequest<TokenRoute>

type Verified = { ok: true; token: string; payload: TokenPayload } | { ok: false; reason: Rejection }

/** Only http(s), WHATWG-serialised (ASCII, header-safe), even if a token was signed elsewhere. */
function redirectTarget(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined
  const parsed = new URL(url)
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined
}

export async function trackingRoutes(app: FastifyInstance, deps: TrackingRoutesDeps): Promise<void> {
  // Own scope, whoever registers us: the form parsers below must not reach the JSON API routes.
  await app.register(async (scope) => routes(scope, deps))
}

async function routes(app: FastifyInstance, deps: TrackingRoutesDeps): Promise<void> {
  const { codec, log, suppressions, clock, lookupEmail } = deps
  const windowMs = deps.dedupeWindowMs ?? 10_000

  // RFC 8058 §3.2: the one-click POST SHOULD be multipart/form-data and MAY be form-urlencoded. The
  // signed URL alone authorises the unsubscribe, so the body is read (bounded) but not interpreted.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  )
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_req, body, done) => done(null, String(body)),
  )

  const verify = (req: TokenRequest, kind: TokenKind, opts?: VerifyOptions): Verified => {
    const token = req.params['*']
    const result = codec.verify(token, opts)
    if (!result.ok) {
      req.log.info({ reason: result.reason, kind }, 'tracking token refused')
      return result
    }
    if (result.payload.kind !== kind) return { ok: false, reason: 'wrong-kind' }
    return { ok: true, token, payload: result.payload }
  }

  const sendPage = (reply: FastifyReply, p: PageResponse) => {
    reply.status(p.status).headers(PAGE_HEADERS).type('text/html; charset=utf-8')
    if (p.code !== undefined) reply.header('x-ink-error-code', p.code)
    return reply.send(p.html)
  }

  /** Appends the event for a verified token; tracking must never break the recipient's click or image. */
  const record = async (req: FastifyRequest, v: { token: string; payload: TokenPayload }): Promise<void> => {
    const event = trackingEvent(v.payload, {
      token: v.token,
      now: clock.now(),
      windowMs,
      userAgent: req.headers['user-agent'],
    })
    try {
      await log.append(traced([event], requestSpan(req)))
      if (deps.metrics)
        countTrackingEvent(deps.metrics, v.payload.kind, v.payload.campaignId, req.headers['user-agent'])
    } catch (err) {
      req.log.error(
        { err, event: event.event, workspaceId: event.workspaceId },
        'tracking event not recorded',
      )
    }
  }

  app.get<TokenRoute>('/c/*', async (req, reply) => {
    const v = verify(req, 'click')
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    const url = redirectTarget(v.payload.url)
    if (url === undefined) return sendPage(reply, rejectionPage('malformed'))
    if (req.method === 'GET') await record(req, v)
    return reply.headers(NO_STORE_HEADERS).redirect(url, 302)
  })

  app.get<TokenRoute>('/p/*', async (req, reply) => {
    const v = verify(req, 'open')
    // A refused token still gets the image: a broken-image icon in someone's inbox helps no one.
    if (v.ok && req.method === 'GET') await record(req, v)
    return reply.headers(NO_STORE_HEADERS).type('image/gif').send(TRANSPARENT_GIF)
  })

  // An authentic unsubscribe link is honoured however old it is: refusing someone's unsubscribe
  // because the link aged would be wrong, and only the recipient holds the token.
  const unsubscribeOpts: VerifyOptions = { ignoreExpiry: true }
  const preferenceCenter = deps.topics?.list !== undefined && deps.topics.subscriptions !== undefined

  app.get<TokenRoute>('/u/*', async (req, reply) => {
    const v = verify(req, 'unsubscribe', unsubscribeOpts)
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    // Relative, so a tracking base with a path prefix keeps it.
    const prefs = preferenceCenter ? `../prefs/${v.token}` : undefined
    return sendPage(reply, confirmUnsubscribePage(prefs))
  })

  app.post<TokenRoute>('/u/*', { bodyLimit: FORM_BODY_LIMIT }, async (req, reply) => {
    const v = verify(req, 'unsubscribe', unsubscribeOpts)
    if (!v.ok) return sendPage(reply, rejectionPage(v.reason))
    const { workspaceId, recipient, campaignId } = v.payload
    if (await leaveTopic(req, v.payload)) {
      await record(req, v)
      return unsubscribed(req, reply)
    }
    const email = v.payload.email ?? (await lookupEmail?.(workspaceId, recipient))
    if (email === undefined) {
      req.log.error({ workspaceId, recipient }, 'unsubscribe without a known address; nothing suppressed')
      return sendPage(reply, recipientUnknownPage())
    }
    // Suppress first: it is the part that must hold. If it fails the request fails (500) and may be retried;
    // if only the event fails, the unsubscribe still stands and the answer says so.
    await suppressions.suppress(workspaceId, email, { reason: 'unsubscribed', source: campaignId })
    await record(req, v)
    return unsubscribed(req, reply)
  })

  // The preference center (topics/preference-routes.ts): the same token as /u/, so every message with
  // an unsubscribe link reaches it. Only when the full topic store is wired.
  const { topics } = deps
  if (topics?.list && topics.subscriptions)
    preferenceRoutes(app, {
      topics: {
        list: topics.list.bind(topics),
        subscriptions: topics.subscriptions.bind(topics),
        setSubscription: topics.setSubscription.bind(topics),
      },
      suppressions,
      log,
      clock,
      lookupEmail,
      verify: (req) => verify(req, 'unsubscribe', unsubscribeOpts),
      verifyConfirm: (req) => verify(req, 'confirm'),
      doubleOptIn: deps.doubleOptIn,
      sendPage,
    })

  // RFC 8058: answer the POST itself, no redirect. People (our form) get a page, mail clients text.
  const unsubscribed = (req: FastifyRequest, reply: FastifyReply) => {
    if ((req.headers.accept ?? '').includes('text/html')) return sendPage(reply, unsubscribedPage())
    return reply
      .status(200)
      .headers(NO_STORE_HEADERS)
      .type('text/plain; charset=utf-8')
      .send(UNSUBSCRIBED_TEXT)
  }

  /**
   * A message with a topic: the recipient leaves that topic (and gets its other mail), recorded as a
   * `Topic Unsubscribed` event. False when the message has no topic, or its topic is gone since (then
   * the whole address is suppressed, the safe side).
   */
  const leaveTopic = async (req: FastifyRequest, p: TokenPayload): Promise<boolean> => {
    if (!deps.topicOf || !deps.topics) return false
    const topic = await deps.topicOf(p.workspaceId, p.campaignId)
    if (topic === undefined) return false
    const change = {
      topicId: topic,
      state: 'unsubscribed' as const,
      source: `unsubscribe-link:${p.campaignId}`.slice(0, 200),
      at: clock.now(),
    }
    try {
      if (!(await deps.topics.setSubscription(p.workspaceId, p.recipient, change))) return true
    } catch (err) {
      if (isInkError(err) && err.code === 'INK_ERR_NOT_FOUND') return false
      throw err
    }
    const event = consentEvent({
      workspaceId: p.workspaceId,
      userId: p.recipient,
      ...change,
      campaignId: p.campaignId,
      ip: req.ip,
    })
    try {
      await log.append(traced([event], requestSpan(req)))
    } catch (err) {
      req.log.error({ err, workspaceId: p.workspaceId }, 'topic unsubscribe recorded, its event not')
    }
    return true
  }
}
