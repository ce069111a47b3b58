/**
 * What the tracking routes answer to people and images: the pixel, the unsubscribe pages and the
 * pages for links that cannot be followed. These URLs are opened in browsers from emails, so their
 * failures are small HTML pages (with the stable error code in a header), not JSON.
 */
import type { ErrorCode } from '../core/errors.ts'
import type { VerifyFailure } from './tokens.ts'

/** A 1×1 transparent GIF (GIF89a, 43 bytes). */
export const TRANSPARENT_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
)

/** Headers for every tracking response: never cached, never indexed, never leaking the token onward. */
export const NO_STORE_HEADERS = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
} as const

/** Pages may submit only to themselves and may not be framed (the confirmation must not be clickjacked). */
export const PAGE_HEADERS = {
  ...NO_STORE_HEADERS,
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
} as const

/**
 * Stable codes (src/core/errors.ts) for refused tracking URLs. These URLs open in browsers, so the
 * answer is an HTML page with the code in the `x-ink-error-code` header, not the JSON error body.
 */
export type TrackingErrorCode = Extract<
  ErrorCode,
  'INK_ERR_TOKEN_INVALID' | 'INK_ERR_TOKEN_EXPIRED' | 'INK_ERR_RECIPIENT_UNKNOWN'
>

export interface PageResponse {
  status: number
  code?: TrackingErrorCode
  html: string
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}</style></head>
<body><h1>${title}</h1>${body}</body></html>
`
}

/** Why a token was refused, or that it was a token for another route. */
export type Rejection = VerifyFailure | 'wrong-kind'

/** 410 for an authentic link that has expired, 400 for anything that is not one of our links. */
export function rejectionPage(reason: Rejection): PageResponse {
  if (reason === 'expired')
    return {
      status: 410,
      code: 'INK_ERR_TOKEN_EXPIRED',
      html: page('This link has expired', '<p>Links in our emails work for a limited time.</p>'),
    }
  return {
    status: 400,
    code: 'INK_ERR_TOKEN_INVALID',
    html: page(
      'This link is not valid',
      '<p>It may have been cut short or changed. Try the link in the email again.</p>',
    ),
  }
}

export const recipientUnknownPage = (): PageResponse => ({
  status: 404,
  code: 'INK_ERR_RECIPIENT_UNKNOWN',
  html: page(
    'We could not unsubscribe you',
    '<p>We no longer know the address this email was sent to. Reply to the email to unsubscribe.</p>',
  ),
})

/**
 * The GET answer for an unsubscribe URL: a confirmation, because mail scanners and link previews
 * fetch GETs. The form posts the RFC 8058 body to the page's own URL (no `action`). With topics, it
 * also links the preference center (`prefsHref`, relative: `../prefs/<token>`).
 */
export const confirmUnsubscribePage = (prefsHref?: string): PageResponse => ({
  status: 200,
  html: page(
    'Unsubscribe?',
    `<p>You will no longer receive these emails.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>${
      prefsHref === undefined
        ? ''
        : `\n<p>Or <a href="${prefsHref.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;')}">choose which emails you get</a>.</p>`
    }`,
  ),
})

export const UNSUBSCRIBED_TEXT = 'You are unsubscribed and will not receive these emails any more.\n'

export const unsubscribedPage = (): PageResponse => ({
  status: 200,
  html: page('You are unsubscribed', '<p>You will not receive these emails any more.</p>'),
})
