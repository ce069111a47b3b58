/**
 * The ESP webhook routes: `POST /v1/webhooks/{ses,sendgrid,postmark}/<workspace>/<secret>`.
 *
 * Each call is checked in order: a workspace secret is configured at all (else 404
 * INK_ERR_WEBHOOK_NOT_CONFIGURED), the URL's workspace and secret (constant-time; else 401
 * INK_ERR_WEBHOOK_UNAUTHORIZED), the provider's own proof (SNS signature and certificate host,
 * SendGrid ECDSA signature and replay window, Postmark basic auth), then the payload (400
 * INK_ERR_WEBHOOK_MALFORMED). Only then is its feedback handed to the sink, and the answer (200)
 * comes once the events are in the log: a provider that gets no 200 retries, and a retried
 * notification is the same event (feedbackEventId), so the processor counts it once.
 *
 * The bodies are read raw (a Buffer): SendGrid signs the exact bytes, and SNS posts JSON as
 * text/plain. The secret sits in the path, which request logs write as the route pattern only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isInkError, webhookMalformed, webhookNotConfigured, webhookUnauthorized } from '../../core/errors.ts'
import type { Clock } from '../../core/types.ts'
import { sameKey, type WorkspaceStore } from '../../workspaces/workspace-store.ts'
import type { Feedback, FeedbackSink } from '../feedback.ts'
import { type EspWebhookSettings, knownSecret } from './esp-config.ts'
import { postmarkFeedback } from './postmark.ts'
import { sendgridFeedback, verifySendgrid } from './sendgrid.ts'
import { sesFeedback } from './ses.ts'
import { parseSnsMessage, type SnsVerifier } from './sns.ts'

export interface EspRoutesDeps {
  settings: EspWebhookSettings
  sink: FeedbackSink
  workspaces: Pick<WorkspaceStore, 'byId'>
  sns: SnsVerifier
  clock: Clock
  /** SendGrid signatures older (or newer) than this are replays; default 600 s. */
  replayWindowSeconds?: number
}

type Route = { Params: { workspaceId: string; secret: string }; Body: Buffer }

/** SNS messages are at most 256 KB; SendGrid batches events (up to thousands); Postmark may add a bounce dump. */
const LIMITS = { ses: 512 * 1024, sendgrid: 5 * 1024 * 1024, postmark: 2 * 1024 * 1024 }

export async function espWebhookRoutes(app: FastifyInstance, deps: EspRoutesDeps): Promise<void> {
  // Own scope: the raw-body parser must not reach the JSON API routes.
  await app.register(async (scope) => routes(scope, deps))
}

async function routes(app: FastifyInstance, deps: EspRoutesDeps): Promise<void> {
  const { settings, sink, workspaces, sns, clock } = deps
  const windowSeconds = deps.replayWindowSeconds ?? 600
  // A refused call is worth a line: a provider misconfigured (wrong key, secret, credentials) shows
  // up here and in the provider's own delivery log. Messages name no secret; 5xx are logged by the
  // error handler.
  app.addHook('onError', async (req, _reply, err) => {
    if (isInkError(err) && err.statusCode < 500)
      req.log.warn({ code: err.code, route: req.routeOptions.url }, err.message)
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: LIMITS.sendgrid }, (_req, body, done) =>
    done(null, body),
  )

  /**
   * The URL's workspace and secret, checked in onRequest: before the body is read, so a caller
   * without the secret cannot make us buffer (up to 5 MB), parse or fetch anything.
   */
  const checkUrl = (provider: string) => async (req: FastifyRequest<Route>) => {
    if (settings.secrets.size === 0) throw webhookNotConfigured(provider, 'INKSTREAM_ESP_WEBHOOK_SECRETS')
    const { workspaceId, secret } = req.params
    // Both checks run whatever the first answers: the time taken says nothing about which failed.
    const known = knownSecret(settings, workspaceId, secret)
    const exists = workspaces.byId(workspaceId) !== undefined
    if (!known || !exists)
      throw webhookUnauthorized(provider, 'the URL names no workspace with that webhook secret')
  }

  const bodyOf = (provider: string, req: FastifyRequest<Route>): Buffer => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0)
      throw webhookMalformed(provider, 'the body is empty')
    return req.body
  }

  const recordAll = async (req: FastifyRequest<Route>, workspaceId: string, feedback: Feedback[]) => {
    const results = feedback.length === 0 ? [] : await sink.record(workspaceId, feedback)
    const recorded = results.filter((r) => r === 'recorded').length
    req.log.info(
      { workspaceId, feedback: feedback.length, recorded, unmatched: results.length - recorded },
      'ESP webhook recorded',
    )
    return { success: true, received: feedback.length, recorded, unmatched: results.length - recorded }
  }

  const ses = { bodyLimit: LIMITS.ses, onRequest: checkUrl('SES (SNS)') }
  app.post<Route>('/v1/webhooks/ses/:workspaceId/:secret', ses, async (req) => {
    const { workspaceId } = req.params
    const message = parseSnsMessage(bodyOf('SES (SNS)', req).toString('utf8'))
    if (settings.snsTopicArns !== undefined && !settings.snsTopicArns.has(message.TopicArn))
      throw webhookUnauthorized('SES (SNS)', 'the topic is not in INKSTREAM_SNS_TOPIC_ARNS')
    await sns.verify(message)
    if (message.Type === 'SubscriptionConfirmation') {
      await sns.confirm(message)
      req.log.info({ workspaceId, topicArn: message.TopicArn }, 'SNS subscription confirmed')
      return { success: true, confirmed: true }
    }
    if (message.Type === 'UnsubscribeConfirmation') {
      // Not re-subscribed on our own: an operator who unsubscribed meant it.
      req.log.warn({ workspaceId, topicArn: message.TopicArn }, 'SNS subscription ended by the topic')
      return { success: true }
    }
    return recordAll(req, workspaceId, sesFeedback(message.Message, message.MessageId, clock.now()))
  })

  app.post<Route>(
    '/v1/webhooks/sendgrid/:workspaceId/:secret',
    { bodyLimit: LIMITS.sendgrid, onRequest: checkUrl('SendGrid') },
    async (req) => {
      const { workspaceId } = req.params
      const key = settings.sendgridKey
      if (key === undefined) throw webhookNotConfigured('SendGrid', 'INKSTREAM_SENDGRID_WEBHOOK_KEY')
      const body = bodyOf('SendGrid', req)
      verifySendgrid(key, req.headers, body, clock.now(), windowSeconds)
      return recordAll(req, workspaceId, sendgridFeedback(body, clock.now()))
    },
  )

  app.post<Route>(
    '/v1/webhooks/postmark/:workspaceId/:secret',
    { bodyLimit: LIMITS.postmark, onRequest: checkUrl('Postmark') },
    async (req) => {
      const { workspaceId } = req.params
      const auth = settings.postmarkAuth
      if (auth === undefined) throw webhookNotConfigured('Postmark', 'INKSTREAM_POSTMARK_WEBHOOK_AUTH')
      const given = basicCredentials(req.headers.authorization)
      // Both compared, always: a wrong user and a wrong password take the same time.
      const userOk = sameKey(auth.user, given?.user ?? '')
      const passwordOk = sameKey(auth.password, given?.password ?? '')
      if (!userOk || !passwordOk)
        throw webhookUnauthorized('Postmark', 'the basic-auth credentials are wrong')
      return recordAll(req, workspaceId, postmarkFeedback(bodyOf('Postmark', req), clock.now()))
    },
  )
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!m?.[1]) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}
