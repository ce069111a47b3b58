/**
 * Schema fragments every admin route shares: the error body, ids, times, "no content". Routes
 * declare their own shapes from these; the same zod schemas validate requests, serialize
 * responses and generate /openapi.json (src/http/openapi.ts), so the docs cannot drift.
 */
import { z } from 'zod'

/**
 * What the one error handler sends (src/http/error-handler.ts). Open: some codes add details
 * (`path`, `issues`, `problems`, `report`).
 */
export const errorBody = z
  .looseObject({
    success: z.literal(false),
    code: z.string().meta({ description: 'A stable INK_ERR_* code; docs/errors.md lists them.' }),
    message: z.string(),
  })
  .meta({ id: 'Error', description: 'An error: a stable code, a message, and details for some codes.' })

/** Every admin route answers 4xx and 5xx with the error body; added to each route by the admin scope. */
export const errorResponses = { '4xx': errorBody, '5xx': errorBody } as const

/** 204: nothing in the body. */
export const noContent = z.null().meta({ description: 'No content.' })

/** Lowercase slugs: template ids, block names, campaign ids. */
export const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" and "-", at most 64')

/** Segment and trigger ids: the message names which kind of id it is. */
export const looseId = (what: string) =>
  z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, `a ${what} id is 1-100 letters, digits, "_", "-" or "."`)

/** `{ id }` path parameters, any string (a lookup of an unknown id is a 404, not a 400). */
export const idParams = z.object({ id: z.string() })

/** A time the API prints: ISO 8601 in UTC. */
export const isoTime = z.iso.datetime()

/** A time as milliseconds since the epoch, as stores keep it. */
export const epochMs = z.number().int()

/** A JSON object whose keys the API does not fix (traits, vars, conditions, reports). */
export const openObject = z.record(z.string(), z.unknown())

/** `?version=` of a template: a positive integer; the latest when absent. */
export const versionQuery = z.object({ version: z.coerce.number().int().min(1).optional() })
