/**
 * JSON schemas of the campaign routes (fastify validates params, query and body with them, shapes
 * the reply, and an OpenAPI description is generated from them).
 */
import { CAMPAIGN_STATES } from './campaign-store.ts'
import { SEND_STATES } from './send-ledger.ts'

const slug = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const
const nullable = (type: 'string' | 'number' | 'integer') => ({ type: [type, 'null'] }) as const

export const campaignParams = {
  type: 'object',
  properties: { id: { ...slug, description: 'campaign id' } },
  required: ['id'],
  additionalProperties: false,
} as const

const count = { type: 'integer', minimum: 0 } as const

/** A campaign as the admin API shows it: the definition and its progress from the send ledger. */
export const campaignView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    templateId: { type: 'string' },
    templateVersion: nullable('integer'),
    from: nullable('string'),
    audience: {
      anyOf: [
        {
          type: 'object',
          properties: { userIds: { type: 'array', items: { type: 'string' } } },
          required: ['userIds'],
        },
        { type: 'object', properties: { segment: { type: 'string' } }, required: ['segment'] },
      ],
    },
    vars: { type: 'object', additionalProperties: true },
    ratePerSecond: nullable('number'),
    pauseAfterFailures: nullable('integer'),
    state: { type: 'string', enum: [...CAMPAIGN_STATES] },
    error: { ...nullable('string'), description: 'why the last run failed' },
    reason: { ...nullable('string'), description: 'why the campaign is paused or cancelled' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    startedAt: nullable('integer'),
    finishedAt: nullable('integer'),
    progress: {
      type: 'object',
      properties: {
        ...Object.fromEntries(SEND_STATES.map((s) => [s, count])),
        total: count,
        remaining: count,
        ratePerSecond: { type: 'number' },
        etaMs: { type: 'integer' },
      },
      required: [...SEND_STATES],
    },
  },
  required: ['id', 'name', 'templateId', 'audience', 'state', 'error', 'reason', 'progress'],
} as const

export const errorReply = {
  type: 'object',
  properties: {
    success: { type: 'boolean', const: false },
    code: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['success', 'code', 'message'],
  additionalProperties: true,
} as const

/** POST /v1/campaigns/:id/pause and /cancel. */
export const pauseRoute = (summary: string) =>
  ({
    summary,
    tags: ['campaigns'],
    params: campaignParams,
    body: {
      type: ['object', 'null'],
      properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
      additionalProperties: false,
    },
    response: { 200: campaignView, 404: errorReply, 409: errorReply },
  }) as const

/** GET /v1/campaigns/:id/recipients. */
export const recipientsRoute = {
  summary: "A campaign's recipients from the send ledger, by recipient id, a page at a time",
  tags: ['campaigns'],
  params: campaignParams,
  querystring: {
    type: 'object',
    properties: {
      state: { type: 'string', enum: [...SEND_STATES] },
      after: { type: 'string', maxLength: 256, description: 'the `next` of the previous page' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        recipients: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              recipient: { type: 'string' },
              email: { type: 'string' },
              state: { type: 'string', enum: [...SEND_STATES] },
              reason: nullable('string'),
              detail: nullable('string'),
              attempts: count,
              retryAt: nullable('integer'),
              updatedAt: { type: 'integer' },
            },
            required: ['recipient', 'email', 'state', 'reason', 'detail', 'attempts', 'retryAt', 'updatedAt'],
          },
        },
        next: { ...nullable('string'), description: 'pass as `after` for the next page; null on the last' },
      },
      required: ['recipients', 'next'],
    },
    404: errorReply,
  },
} as const
