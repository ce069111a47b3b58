/**
 * The one send path (DESIGN.md §4 delivery/): delivers one message for any origin (a campaign, a
 * trigger) and answers a typed `DeliveryOutcome`. Each origin passes only its policy: who (the
 * recipient and address), which record to claim (the campaign ledger's row, the trigger job), the
 * campaign id of links and Message-IDs, the tracking TTL, and what runs before each attempt.
 *
 * In order: the address (no usable one → skipped `no_address`) → suppression → render (with the
 * open-time token when the template has live blocks) → tracking
 * links and pixel → List-Unsubscribe headers → `claim()` → transport (the short in-call retry of
 * send-retries.ts) → outcome. A 5.1.x hard bounce suppresses the address (reason `bounced`, source
 * the request's) and is `bounced`. Every outcome is counted and, when it is a fact (isReportable), written
 * to the event log as a track event for the recipient (outcome-events.ts).
 *
 * The claim comes after the render: a slow connected-content call, a render that throws or a crash
 * while rendering leaves the origin's record unclaimed (a trigger job stays `pending`), never
 * `sending` → `unknown`. Suppression is checked before the render, so a suppressed person costs no
 * render and no connected-content call.
 *
 * deliver() does not throw: what a dependency throws is an outcome (`failed`, temporary, before the
 * first send; `unknown` once the transport may have the message).
 */

import { createHash } from 'node:crypto'
import type { Clock, InkEvent } from '../core/types.ts'
import { countDelivery } from '../observe/metric-records.ts'
import type { Metrics } from '../observe/metrics.ts'
import { inSpan, linksTo, SPANS, type Span, SpanKind, traced } from '../observe/tracing.ts'
import { skipDetail } from '../render/render-email.ts'
import type { OpenTimeSigner, Renderer, RenderRequest } from '../render/renderer.ts'
import type { TopicStore } from '../topics/topic-store.ts'
import { type BuildJob, buildMessage } from './message-build.ts'
import type { DeliveryOrigin, DeliveryOutcome } from './outcome.ts'
import { isReportable, type OutcomeMessage, outcomeEvent } from './outcome-events.ts'
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MS,
  isRecipientBounce,
  realSleep,
  type Sleep,
  sendWithRetries,
} from './send-retries.ts'
import { normalizeEmail, type SuppressionStore } from './suppression-store.ts'
import type { TokenCodec } from './tokens.ts'
import { trackingBase } from './tracking.ts'
import { TRACKING_TTL_MS } from './tracking-events.ts'
import type { OutgoingMessage, SendOutcome, Transport } from './transport.ts'

export interface DeliveryDeps {
  renderer: Pick<Renderer, 'render'>
  transport: Transport
  suppressions: Pick<SuppressionStore, 'isSuppressed' | 'suppress'>
  /** Subscription states: a request with a `topic` is skipped for someone who left it; none checked when absent. */
  topics?: Pick<TopicStore, 'isUnsubscribed'> | undefined
  codec: TokenCodec
  /** Base of tracking links, read per message: with port 0 it is known only once the server listens. */
  publicUrl: () => string
  clock: Clock
  logger: { warn(obj: unknown, msg: string): void }
  /** Counts outcomes by origin, id and kind, and times the transport; nothing is counted when absent. */
  metrics?:
    | Pick<Metrics, 'deliveryOutcomes' | 'deliveryEventErrors' | 'transportSendDuration' | 'labels'>
    | undefined
  /** The event log: outcomes become track events for the recipient; none are written when absent. */
  events?: { append(events: readonly InkEvent[]): Promise<void> } | undefined
  sleep?: Sleep | undefined
  /** Sends per message for `temporary` + `accepted: 'no'`; default 3. */
  maxAttempts?: number | undefined
  /** Delay before the first in-call retry, doubled for each next one; default 200 ms. */
  retryDelayMs?: number | undefined
  /** Suppress an address as `bounced` when the server said the mailbox does not exist; default true. */
  suppressBounces?: boolean | undefined
  /** How long open-time tokens (live blocks, view in browser) verify; default 180 days. */
  openTimeTtlMs?: number | undefined
}

export interface DeliveryRequest {
  workspaceId: string
  origin: DeliveryOrigin
  /** The campaign id of links, Message-IDs and outcome events: a campaign's id, `trigger:<id>` for a trigger. */
  campaignId: string
  /** The suppression entry's source when the message hard-bounces: `campaign:<id>`, `trigger:<id>`. */
  source: string
  /** Our id for the message (messageIdFor), the same for every attempt: the Message-ID's local part. */
  messageId: string
  /** `email` as the profile has it; one that is not an address is skipped (`no_address`). */
  recipient: { userId: string; email: string }
  from: string
  /** What to render (template, version, the profile's userId, `event`, `campaign` variables). */
  render: RenderRequest
  /** How long click, open and unsubscribe links verify; default 30 days. */
  trackingTtlMs?: number | undefined
  /**
   * Claims the origin's record (ledger row, job) once the message is built; false when another run,
   * process or attempt has it: nothing is sent and the outcome is skipped `already_handled`.
   */
  claim(): Promise<boolean>
  /** Runs before each transport attempt (a rate limit, counting attempts in the ledger). */
  beforeAttempt?: (() => Promise<void>) | undefined
  /** W3C trace context of what the message comes from (a trigger's event): the deliver span links to it. */
  traceparent?: string | undefined
  /** The subscription topic of the message (a campaign's or trigger's `topic`); none: mail to everyone not suppressed. */
  topic?: string | undefined
}

export interface Delivered {
  outcome: DeliveryOutcome
  /**
   * claim() answered true: the origin finishes its claimed record with the outcome. False: the
   * outcome came before the claim (skipped, suppressed, a failed render) and the origin records it
   * without one — except `already_handled`, where the record is someone else's.
   */
  claimed: boolean
}

/** Live blocks keep working for people who open a message months later. */
export const DEFAULT_OPEN_TIME_TTL_MS = 180 * 86_400_000

/** Our id for a message: the same for every attempt at a recipient, so a retry carries the same Message-ID. */
export function messageIdFor(workspaceId: string, campaignId: string, recipient: string): string {
  const hash = createHash('sha256').update(`${workspaceId}\n${campaignId}\n${recipient}`).digest('hex')
  return `ink-c.${hash.slice(0, 40)}`
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** Delivers one message; never throws (see the file's header). */
export function deliver(deps: DeliveryDeps, req: DeliveryRequest): Promise<Delivered> {
  // A trace per message, linked to its origin's: the trigger event (render, send and the outcome
  // event are in it: the span is passed down).
  const links = () => linksTo([req.traceparent])
  const attributes = () => ({ 'inkstream.origin': req.origin, 'inkstream.campaign.id': req.campaignId })
  return inSpan(SPANS.deliver, { root: true, links, attributes }, async (span) => {
    const rendered: Rendered = {}
    const delivered = await attempt(deps, req, rendered, span)
    span?.setAttribute('inkstream.outcome', delivered.outcome.kind)
    const message = { ...req, userId: req.recipient.userId, templateId: req.render.templateId, ...rendered }
    await reportOutcome(deps, message, delivered.outcome, span)
    return delivered
  })
}

/** What the render says about the message, for its outcome event (analytics per template version). */
type Rendered = { templateVersion?: number; fallbacks?: number }

/**
 * Counts an outcome and, when it is a fact (isReportable), appends its event. For outcomes an origin
 * decides without deliver() (a trigger's frequency cap, giving up after a maximum age). An append
 * that fails is logged and counted: it never changes the outcome.
 */
export async function reportOutcome(
  deps: Pick<DeliveryDeps, 'metrics' | 'events' | 'logger' | 'clock'>,
  message: OutcomeMessage,
  outcome: DeliveryOutcome,
  span?: Span,
): Promise<void> {
  if (deps.metrics) countDelivery(deps.metrics, message, outcome.kind)
  if (!deps.events || !isReportable(outcome)) return
  try {
    await deps.events.append(traced([outcomeEvent(message, outcome, deps.clock.now())], span))
  } catch (err) {
    deps.metrics?.deliveryEventErrors.inc({ origin: message.origin })
    deps.logger.warn(
      { err, messageId: message.messageId, kind: outcome.kind },
      'send outcome event could not be appended to the event log',
    )
  }
}

async function attempt(
  deps: DeliveryDeps,
  req: DeliveryRequest,
  rendered: Rendered,
  span?: Span,
): Promise<Delivered> {
  const before = (outcome: DeliveryOutcome): Delivered => ({ outcome, claimed: false })
  const email = normalizeEmail(req.recipient.email)
  if (email === undefined)
    return before({
      kind: 'skipped',
      reason: 'no_address',
      detail: `"${req.recipient.email}" is not an email address`,
    })
  let message: OutgoingMessage | DeliveryOutcome
  try {
    if (await deps.suppressions.isSuppressed(req.workspaceId, req.recipient.email))
      return before({ kind: 'suppressed', detail: 'the address is suppressed' })
    if (
      req.topic !== undefined &&
      (await deps.topics?.isUnsubscribed(req.workspaceId, req.recipient.userId, req.topic))
    )
      return before({
        kind: 'skipped',
        reason: 'topic_unsubscribed',
        detail: `the recipient unsubscribed from topic "${req.topic}"`,
      })
    message = await build(deps, req, rendered, span)
  } catch (err) {
    deps.logger.warn({ err, messageId: req.messageId }, 'message could not be built')
    return before({
      kind: 'failed',
      temporary: true,
      reason: 'unavailable',
      detail: `could not be built: ${errorText(err)}`,
    })
  }
  if ('kind' in message) return before(message)
  try {
    if (!(await req.claim()))
      return before({
        kind: 'skipped',
        reason: 'already_handled',
        detail: 'claimed by another run, process or attempt',
      })
  } catch (err) {
    return before({
      kind: 'failed',
      temporary: true,
      reason: 'unavailable',
      detail: `the claim failed: ${errorText(err)}`,
    })
  }
  return { outcome: await send(deps, req, message, span), claimed: true }
}

/** Renders, tracks and adds the headers; a render that decides or fails is an outcome. */
async function build(
  deps: DeliveryDeps,
  req: DeliveryRequest,
  facts: Rendered,
  span?: Span,
): Promise<OutgoingMessage | DeliveryOutcome> {
  const baseUrl = trackingBase(deps.publicUrl())
  // One open-time token per message, signed only when the rendered version has live blocks (or a
  // view_url), for exactly that template version; the block name is in the URL path.
  const live: OpenTimeSigner = {
    baseUrl,
    sign: ({ templateId, version }) =>
      deps.codec.sign(
        {
          kind: 'open-time',
          workspaceId: req.workspaceId,
          campaignId: req.campaignId,
          recipient: req.recipient.userId,
          messageId: req.messageId,
          templateId,
          version,
        },
        deps.openTimeTtlMs ?? DEFAULT_OPEN_TIME_TTL_MS,
      ),
  }
  const rendered = await deps.renderer.render(req.workspaceId, { ...req.render, live }, span)
  facts.templateVersion = rendered.report.version
  // A placeholder used in several parts (html and text) is one fallback, as the metric counts it.
  facts.fallbacks = new Set(rendered.report.fallbacks.map((f) => `${f.placeholder}\n${f.reason}`)).size
  if (!rendered.ok)
    return rendered.skip
      ? { kind: 'skipped', reason: 'abort_message', detail: skipDetail(rendered.skip) }
      : {
          kind: 'failed',
          temporary: false,
          reason: 'render_error',
          detail: `render failed: ${rendered.error.message}`,
        }
  const job: BuildJob = {
    message: {
      messageId: req.messageId,
      from: req.from,
      to: req.recipient.email,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      ...(rendered.amp === undefined ? {} : { amp: rendered.amp }),
    },
    track: {
      tracking: {
        baseUrl,
        ttlMs: req.trackingTtlMs ?? TRACKING_TTL_MS,
        workspaceId: req.workspaceId,
        campaignId: req.campaignId,
        recipient: req.recipient.userId,
        messageId: req.messageId,
      },
      unsubscribeEmail: req.recipient.email,
    },
  }
  // Tracking and the MIME bytes where the transport builds them (SmtpTransport: its worker threads).
  return deps.transport.build
    ? deps.transport.build(job, deps.codec, deps.clock.now())
    : buildMessage(job, deps.codec)
}

async function send(
  deps: DeliveryDeps,
  req: DeliveryRequest,
  message: OutgoingMessage,
  parent?: Span,
): Promise<DeliveryOutcome> {
  let sends = 0
  const sendOnce = async (m: OutgoingMessage): Promise<SendOutcome> => {
    sends++
    const started = performance.now()
    let result = 'error'
    try {
      return await inSpan(SPANS.send, { kind: SpanKind.CLIENT, parent }, async (span) => {
        const sent = await deps.transport.send(m)
        result = sent.outcome
        span?.setAttribute('inkstream.send.outcome', sent.outcome)
        return sent
      })
    } catch (err) {
      // The contract is a value; a throw says nothing about whether the server has the message.
      return { outcome: 'temporary', code: null, message: errorText(err), accepted: 'unknown' }
    } finally {
      deps.metrics?.transportSendDuration.observe({ outcome: result }, (performance.now() - started) / 1000)
    }
  }
  let result: { outcome: SendOutcome; attempts: number }
  try {
    result = await sendWithRetries(
      sendOnce,
      message,
      {
        maxAttempts: deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        retryDelayMs: deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
        sleep: deps.sleep ?? realSleep,
      },
      req.beforeAttempt,
    )
  } catch (err) {
    // beforeAttempt threw: every send before it was refused (else the loop would have ended).
    return {
      kind: 'failed',
      temporary: true,
      reason: 'unavailable',
      detail: `stopped before attempt ${sends + 1}: ${errorText(err)}`,
    }
  }
  const { outcome, attempts } = result
  switch (outcome.outcome) {
    case 'sent':
      return { kind: 'sent', detail: outcome.response, attempts }
    case 'invalid':
      return {
        kind: 'failed',
        temporary: false,
        reason: 'invalid_message',
        detail: `invalid ${outcome.field}: ${outcome.message}`,
      }
    case 'temporary':
      return outcome.accepted === 'unknown'
        ? { kind: 'unknown', detail: `the server may have the message: ${outcome.message}` }
        : {
            kind: 'failed',
            temporary: true,
            reason: 'transport_deferred',
            detail: `${outcome.code ?? 'no reply'} ${outcome.message} (after ${attempts} attempts)`,
          }
    case 'permanent': {
      const detail = `${outcome.code} ${outcome.message}`
      if (!isRecipientBounce(outcome)) return { kind: 'failed', temporary: false, reason: 'rejected', detail }
      if (deps.suppressBounces ?? true) await suppressBounced(deps, req, detail)
      return { kind: 'bounced', detail }
    }
  }
}

async function suppressBounced(deps: DeliveryDeps, req: DeliveryRequest, detail: string): Promise<void> {
  try {
    await deps.suppressions.suppress(req.workspaceId, req.recipient.email, {
      reason: 'bounced',
      source: req.source,
    })
  } catch (err) {
    // The bounce stands; the next message to the address bounces again and suppresses it then.
    deps.logger.warn(
      { err, messageId: req.messageId, detail },
      'a hard-bounced address could not be suppressed',
    )
  }
}
