/**
 * Admin API for the suppression list (the addresses of a workspace that must not be mailed).
 *   GET    /v1/suppressions            entries in (email, reason) order, a page at a time
 *                                      (?reason=&after=&limit=, `after` is the previous page's `next`)
 *   GET    /v1/suppressions/:email     every entry of one address (none → 404)
 *   PUT    /v1/suppressions/:email     suppress it for a reason (201 new, 200 already: the first entry is kept)
 *   DELETE /v1/suppressions/:email     lift one reason (?reason=) or all of them (204; none → 404)
 * Addresses are normalised as the send path checks them (normalizeEmail): any spelling of an address
 * names the same entries. The store is the one every send consults (deliver.ts, the campaign audience).
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { notFound } from '../core/errors.ts'
import { adminScope } from '../http/admin-scope.ts'
import { epochMs, noContent } from '../http/schemas.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { MAX_PAGE, MAX_SOURCE } from './suppression-rules.ts'
import {
  normalizeEmail,
  STORED_REASONS,
  type StoredReason,
  SUPPRESSION_REASONS,
  type Suppression,
  type SuppressionStore,
} from './suppression-store.ts'

export interface SuppressionRoutesDeps {
  suppressions: SuppressionStore
  workspaces: WorkspaceStore
}

/** The `source` of entries added through the API when the request names none. */
export const API_SOURCE = 'api'

const reason = z.enum(SUPPRESSION_REASONS)
const address = z
  .string()
  .max(320)
  .refine((s) => normalizeEmail(s) !== undefined, 'not an email address (name@domain.example)')
const params = z.object({ email: address })

const entry = z.strictObject({
  email: z.string().meta({
    description:
      'The address as it is stored and checked: normalised; for an `erased` entry (an erasure) the hash of the address, `sha256:<hex>`, never the address.',
  }),
  reason: z.enum(STORED_REASONS),
  source: z.string().meta({
    description: 'What led to it: a campaign or trigger, `api` (the default of PUT), `manual`, …',
  }),
  createdAt: epochMs,
})

const putBody = z
  .object({
    reason,
    source: z
      .string()
      .min(1)
      .max(MAX_SOURCE)
      .regex(/^[^\p{Cc}]*$/u, 'no control characters')
      .optional()
      .meta({ description: `What led to it (default \`${API_SOURCE}\`), e.g. \`manual\`.` }),
  })
  .strict()

const listQuery = z
  .object({
    reason: z.enum(STORED_REASONS).optional(),
    after: z
      .string()
      .max(400)
      .optional()
      .meta({ description: 'The `next` of the previous page (`<email>:<reason>`), or an address.' }),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  })
  .strict()

const page = z.strictObject({
  suppressions: z.array(entry),
  next: z.string().nullable().meta({ description: 'Pass as `after` for the next page; null on the last.' }),
})

const view = (s: Suppression) => ({
  email: s.email,
  reason: s.reason,
  source: s.source,
  createdAt: s.createdAt,
})

/** A page's keyset as one query value: `<email>:<reason>`; a normalised address has no ':' after its '@'. */
const cursorOf = (s: Suppression) => `${s.email}:${s.reason}`

/** `after` as the store takes it: `<email>:<reason>` (a `next`), else the whole value is an address. */
export function parseCursor(after: string): { email: string; reason?: StoredReason } {
  const colon = after.lastIndexOf(':')
  const tail = after.slice(colon + 1)
  const known = STORED_REASONS.find((r) => r === tail)
  return colon > 0 && known !== undefined ? { email: after.slice(0, colon), reason: known } : { email: after }
}

export async function suppressionRoutes(app: FastifyInstance, deps: SuppressionRoutesDeps): Promise<void> {
  const { suppressions } = deps
  await adminScope(app, deps.workspaces, (admin) => {
    admin.get(
      '/v1/suppressions',
      {
        schema: {
          summary: 'The suppression list, in (email, reason) order, a page at a time (filter: ?reason=)',
          querystring: listQuery,
          response: { 200: page },
        },
      },
      async (req) => {
        const { limit, reason: only, after } = req.query
        const filter = only === undefined ? {} : { reason: only }
        const rows = await suppressions.list(req.workspace.id, {
          limit,
          ...filter,
          ...(after === undefined ? {} : { after: parseCursor(after) }),
        })
        const last = rows.at(-1)
        // A full page has a next one only if an entry follows it: a last page that happens to be full
        // must not send the client to an empty one.
        const more =
          rows.length === limit &&
          last !== undefined &&
          (await suppressions.list(req.workspace.id, { limit: 1, ...filter, after: last })).length > 0
        return { suppressions: rows.map(view), next: more && last ? cursorOf(last) : null }
      },
    )

    admin.get(
      '/v1/suppressions/:email',
      {
        schema: {
          summary: 'Every suppression of one address (not suppressed → 404)',
          params,
          response: { 200: z.strictObject({ email: z.string(), suppressions: z.array(entry) }) },
        },
      },
      async (req) => {
        const rows = await suppressions.get(req.workspace.id, req.params.email)
        if (rows.length === 0) throw notFound(`a suppression of "${req.params.email}"`)
        return { email: rows[0]?.email ?? req.params.email, suppressions: rows.map(view) }
      },
    )

    admin.put(
      '/v1/suppressions/:email',
      {
        schema: {
          summary:
            'Suppress an address for a reason (201; already suppressed for it → 200, first entry kept)',
          params,
          body: putBody,
          response: { 200: entry, 201: entry },
        },
      },
      async (req, reply) => {
        const { created, suppression } = await suppressions.suppress(req.workspace.id, req.params.email, {
          reason: req.body.reason,
          source: req.body.source ?? API_SOURCE,
        })
        return reply.code(created ? 201 : 200).send(view(suppression))
      },
    )

    admin.delete(
      '/v1/suppressions/:email',
      {
        schema: {
          summary: 'Lift the suppression of an address: one reason (?reason=) or all (none → 404)',
          params,
          querystring: z.object({ reason: reason.optional() }).strict(),
          response: { 204: noContent },
        },
      },
      async (req, reply) => {
        const { email } = req.params
        const { reason: one } = req.query
        const removed = await suppressions.remove(req.workspace.id, email, one)
        if (removed === 0)
          throw notFound(`a suppression of "${email}"${one === undefined ? '' : ` for "${one}"`}`)
        return reply.status(204).send(null)
      },
    )
  })
}
