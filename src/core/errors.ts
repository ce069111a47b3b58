/**
 * Every error Inkstream raises on purpose: a stable code, an HTTP status where one applies,
 * and a message a user can act on. docs/errors.md lists them with their fixes.
 */
export const ErrorCodes = {
  INK_ERR_UNAUTHORIZED: 401,
  INK_ERR_FORBIDDEN: 403,
  INK_ERR_CSRF: 403,
  INK_ERR_NOT_FOUND: 404,
  INK_ERR_PAYLOAD_TOO_LARGE: 413,
  INK_ERR_EVENT_TOO_LARGE: 400,
  INK_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  INK_ERR_UNSUPPORTED_ENCODING: 415,
  INK_ERR_INVALID_JSON: 400,
  INK_ERR_INVALID_UTF8: 400,
  INK_ERR_EMPTY_BODY: 400,
  INK_ERR_INVALID_EVENT: 400,
  INK_ERR_BATCH_REJECTED: 400,
  INK_ERR_EVENT_UNSERIALIZABLE: 400,
  INK_ERR_LOG_UNAVAILABLE: 503,
  INK_ERR_STORE_BUSY: 503,
  INK_ERR_BAD_REQUEST: 400,
  INK_ERR_NUL_CHARACTER: 400,
  INK_ERR_BODY_TOO_DEEP: 400,
  INK_ERR_TOKEN_INVALID: 400,
  INK_ERR_TOKEN_EXPIRED: 410,
  INK_ERR_RECIPIENT_UNKNOWN: 404,
  INK_ERR_TEMPLATE_INVALID: 422,
  INK_ERR_CONDITION_REFUSED: 422,
  INK_ERR_RENDER_FAILED: 422,
  INK_ERR_RENDER_LIMIT: 422,
  INK_ERR_CAMPAIGN_RUNNING: 409,
  INK_ERR_CAMPAIGN_NOT_DRAFT: 409,
  INK_ERR_CAMPAIGN_NOT_RUNNING: 409,
  INK_ERR_CAMPAIGN_FINISHED: 409,
  INK_ERR_CAMPAIGN_CANCELLED: 409,
  INK_ERR_AUDIENCE_UNSUPPORTED: 400,
  INK_ERR_INVALID_ADDRESS: 422,
  INK_ERR_RECIPIENT_SUPPRESSED: 409,
  INK_ERR_TEST_SEND_FAILED: 502,
  INK_ERR_INVALID_CONFIG: 500,
  INK_ERR_SERVER_UNREACHABLE: 503,
  INK_ERR_WORKER_LOST: 503,
  INK_ERR_WORKER_TIMEOUT: 503,
  INK_ERR_INTERNAL: 500,
  INK_ERR_WEBHOOK_UNAUTHORIZED: 401,
  INK_ERR_WEBHOOK_REPLAYED: 401,
  INK_ERR_WEBHOOK_NOT_CONFIGURED: 404,
  INK_ERR_WEBHOOK_MALFORMED: 400,
  INK_ERR_WEBHOOK_UNVERIFIABLE: 503,
} as const

export type ErrorCode = keyof typeof ErrorCodes

export class InkError extends Error {
  readonly statusCode: number
  /** Extra, machine-readable detail sent to the client (e.g. which events were rejected). */
  readonly details: unknown

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions & { details?: unknown },
  ) {
    super(message, options)
    this.name = 'InkError'
    this.statusCode = ErrorCodes[code]
    this.details = options?.details
  }
}

export const isInkError = (err: unknown): err is InkError => err instanceof InkError

export const unauthorized = (message: string) => new InkError('INK_ERR_UNAUTHORIZED', message)

export const notFound = (what: string) => new InkError('INK_ERR_NOT_FOUND', `${what} was not found`)

export const payloadTooLarge = (limit: number, what: string) =>
  new InkError(
    'INK_ERR_PAYLOAD_TOO_LARGE',
    `${what} is larger than the limit of ${limit} bytes (${Math.round(limit / 1024)} KB); split it into smaller requests`,
  )

export const invalidConfig = (problems: string[]) =>
  new InkError('INK_ERR_INVALID_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: problems,
  })

export const logUnavailable = (cause: unknown) =>
  new InkError('INK_ERR_LOG_UNAVAILABLE', 'the event log could not commit the events; retry later', { cause })

/** An event the log cannot store; raised per request, before it joins a group commit. */
export const eventUnserializable = (index: number, messageId: unknown, why: string, cause?: unknown) =>
  new InkError(
    'INK_ERR_EVENT_UNSERIALIZABLE',
    `event ${index}${typeof messageId === 'string' ? ` (messageId ${messageId})` : ''} cannot be written to the event log: ${why}; nothing in this request was stored`,
    { cause },
  )

/** An ESP webhook call that does not prove it comes from the provider (signature, secret, credentials). */
export const webhookUnauthorized = (provider: string, why: string) =>
  new InkError(
    'INK_ERR_WEBHOOK_UNAUTHORIZED',
    `${provider} webhook refused: ${why}; nothing was recorded. Check the webhook URL's secret and the provider's credentials in the server's configuration`,
  )

/** An ESP webhook call signed too long ago (or in the future): a replay; nothing recorded. */
export const webhookReplayed = (provider: string, ageSeconds: number, windowSeconds: number) =>
  new InkError(
    'INK_ERR_WEBHOOK_REPLAYED',
    `${provider} webhook refused: signed ${Math.round(ageSeconds)} s from now, outside the ${windowSeconds} s window (a replay, or a clock off); nothing was recorded`,
  )

/** A provider's webhook whose verification this server has no setting for. */
export const webhookNotConfigured = (provider: string, setting: string) =>
  new InkError(
    'INK_ERR_WEBHOOK_NOT_CONFIGURED',
    `the ${provider} webhook is not enabled on this server: set ${setting} (see the README's Deliverability section)`,
  )

/** A webhook body that is not the provider's documented shape. */
export const webhookMalformed = (provider: string, why: string) =>
  new InkError(
    'INK_ERR_WEBHOOK_MALFORMED',
    `${provider} webhook payload is malformed: ${why}; nothing was recorded`,
  )

/** A webhook whose proof could not be checked for now (SNS signing certificate unreachable): retry. */
export const webhookUnverifiable = (provider: string, why: string, cause?: unknown) =>
  new InkError(
    'INK_ERR_WEBHOOK_UNVERIFIABLE',
    `${provider} webhook not verified yet: ${why}; nothing was recorded, the provider retries`,
    { cause },
  )
