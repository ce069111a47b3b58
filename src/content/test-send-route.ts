/**
 * POST /v1/templates/:id/test-send: renders a template for a chosen profile and mails it to one
 * address, for a person checking a template in a real mail client.
 *
 * The render is the preview's (the render pool's Previews: the same recipient resolution, a stored
 * user by userId or an inline profile). The message goes straight to the configured transport,
 * marked as a test (subject `[TEST] …`, header `X-Inkstream-Test: 1`), and outside the send path
 * (deliver.ts) on purpose: no send-ledger row, no outcome event in the event log (so no analytics),
 * no tracked links or unsubscribe token (they would name the profile as recipient), and a hard
 * bounce of the test address suppresses nothing. The suppression list is still consulted: a
 * suppressed `to` is refused with 409 INK_ERR_RECIPIENT_SUPPRESSED and the entries that stop it.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InkError } from '../core/errors.ts'
import { checkFrom } from '../delivery/mailbox.ts'
import { normalizeEmail, type SuppressionStore } from '../delivery/suppression-store.ts'
import type { OutgoingMessage, SendOutcome, Transport } from '../delivery/transport.ts'
import { adminScope } from '../http/admin-scope.ts'
import { errorBody, idParams } from '../http/schemas.ts'
import { requestSpan } from '../observe/tracing.ts'
import type { Previews } from '../render-pool/previews.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { previewBody, renderReport } from './template-schemas.ts'

export interface TestSendRouteDeps {
  previews: Pick<Previews, 'render'>
  transport: Pick<Transport, 'send'>
  suppressions: Pick<SuppressionStore, 'get'>
  workspaces: WorkspaceStore
  /** INKSTREAM_FROM: the sender when the request names none. */
  defaultFrom: string | undefined
}

/** What marks a test message: the subject's prefix and a header a mail filter can match. */
export const TEST_SUBJECT_PREFIX = '[TEST] '
export const TEST_HEADER = 'X-Inkstream-Test'

/** The preview's recipient fields (one definition: they cannot drift apart), plus where to send it. */
const body = previewBody
  .pick({ version: true, profile: true, event: true, campaign: true })
  .extend({
    to: z
      .string()
      .max(320)
      .refine((s) => normalizeEmail(s) !== undefined, 'not an email address (name@domain.example)'),
    userId: z.string().min(1).max(256).optional(),
    from: z.string().min(3).max(998).optional().meta({ description: 'The sender; default INKSTREAM_FROM.' }),
  })
  .strict()

const answer = z.union([
  z.strictObject({
    sent: z.literal(true),
    messageId: z.string().meta({ description: 'The Message-ID header the message went with.' }),
    accepted: z.array(z.string()).meta({ description: 'Recipients the mail server accepted.' }),
    response: z.string().meta({ description: "The mail server's reply." }),
    subject: z.string(),
    report: renderReport,
  }),
  z
    .strictObject({
      sent: z.literal(false),
      skipped: z.strictObject({ type: z.string(), reason: z.string() }),
      report: renderReport,
    })
    .meta({ description: 'The template called abort_message for this profile: nothing was sent.' }),
])

/** Our id of a test message: random, `ink-t.` so it never equals a campaign's or trigger's. */
const testMessageId = () => `ink-t.${randomBytes(16).toString('hex')}`

function failed(outcome: Exclude<SendOutcome, { outcome: 'sent' }>): InkError {
  if (outcome.outcome === 'invalid')
    return new InkError(
      'INK_ERR_BAD_REQUEST',
      `the message could not be sent: invalid ${outcome.field}: ${outcome.message}`,
      { details: { field: outcome.field } },
    )
  const code = outcome.code ?? 'no reply'
  return new InkError(
    'INK_ERR_TEST_SEND_FAILED',
    `the mail server did not take the test message (${outcome.outcome}: ${code} ${outcome.message}); check the SMTP settings and the server's log`,
    { details: { outcome: outcome.outcome, smtpCode: outcome.code } },
  )
}

export async function testSendRoute(app: FastifyInstance, deps: TestSendRouteDeps): Promise<void> {
  await adminScope(app, deps.workspaces, (admin) => {
    admin.post(
      '/v1/templates/:id/test-send',
      {
        schema: {
          summary:
            'Send a template, rendered for a userId or an inline profile, to one address as a test (no ledger, no analytics)',
          params: idParams,
          body,
          response: { 200: answer, 422: errorBody },
        },
      },
      async (req, reply) => {
        const ws = req.workspace.id
        const { to, from: fromBody, ...render } = req.body
        const from = fromBody ?? deps.defaultFrom
        if (from === undefined)
          throw new InkError(
            'INK_ERR_BAD_REQUEST',
            'from: the request has no "from", and INKSTREAM_FROM is not set',
          )
        checkFrom(from)
        const entries = await deps.suppressions.get(ws, to)
        if (entries.length > 0)
          throw new InkError(
            'INK_ERR_RECIPIENT_SUPPRESSED',
            `to: ${entries[0]?.email} is suppressed (${entries.map((e) => e.reason).join(', ')}); nothing was sent. DELETE /v1/suppressions/${entries[0]?.email} lifts it`,
            {
              details: {
                suppressions: entries.map((e) => ({
                  email: e.email,
                  reason: e.reason,
                  source: e.source,
                  createdAt: e.createdAt,
                })),
              },
            },
          )
        const result = await deps.previews.render(
          ws,
          { templateId: req.params.id, ...render },
          requestSpan(req),
        )
        if (!result.ok && result.skip)
          return { sent: false as const, skipped: result.skip, report: result.report }
        if (!result.ok)
          return reply.status(422).send({ success: false, ...result.error, report: result.report })
        const subject = `${TEST_SUBJECT_PREFIX}${result.subject}`
        const message: OutgoingMessage = {
          messageId: testMessageId(),
          from,
          to,
          subject,
          html: result.html,
          text: result.text,
          headers: { [TEST_HEADER]: '1' },
        }
        let outcome: SendOutcome
        try {
          outcome = await deps.transport.send(message)
        } catch (err) {
          throw new InkError(
            'INK_ERR_TEST_SEND_FAILED',
            `the test message could not be handed to the mail server: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          )
        }
        if (outcome.outcome !== 'sent') throw failed(outcome)
        return {
          sent: true as const,
          messageId: outcome.smtpMessageId,
          accepted: [to],
          response: outcome.response,
          subject,
          report: result.report,
        }
      },
    )
  })
}
