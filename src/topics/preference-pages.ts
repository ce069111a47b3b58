/**
 * The preference center's pages (issue 15): the workspace's topics as checkboxes with the person's
 * state, "unsubscribe from all", and the confirmation. Plain HTML forms, no script: they work with
 * JavaScript off and under the tracking pages' CSP (default-src 'none'). Topic names and
 * descriptions are user data: every string is escaped.
 */
import type { PageResponse } from '../delivery/tracking-pages.ts'
import type { SubscriptionState } from './topic-store.ts'

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}fieldset{border:0;padding:0;margin:0 0 1rem}
label{display:block;margin:.5rem 0}small{display:block;color:#555;margin-left:1.6rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>
`
}

export interface PreferenceRow {
  id: string
  name: string
  description: string
  state: SubscriptionState
  doubleOptIn: boolean
}

const stateNote = (s: SubscriptionState) =>
  s === 'pending' ? ' <em>(waiting for your confirmation: see the email we sent)</em>' : ''

/** Form fields: `topics` lists the ids shown; `t.<id>` is present for each ticked box; `all` leaves everything. */
export const TOPICS_FIELD = 'topics'
export const TOPIC_FIELD_PREFIX = 't.'
export const ALL_FIELD = 'all'

/** The GET answer: posts to its own URL (no `action`), so the signed link is the only credential. */
export const preferencesPage = (rows: readonly PreferenceRow[]): PageResponse => ({
  status: 200,
  html: page(
    'Your email preferences',
    `<form method="post">
<input type="hidden" name="${TOPICS_FIELD}" value="${escapeHtml(rows.map((r) => r.id).join(','))}">
<fieldset><legend>Send me:</legend>
${rows
  .map(
    (r) =>
      `<label><input type="checkbox" name="${TOPIC_FIELD_PREFIX}${escapeHtml(r.id)}" value="on"${
        r.state === 'unsubscribed' ? '' : ' checked'
      }> ${escapeHtml(r.name)}${stateNote(r.state)}${r.description ? `<small>${escapeHtml(r.description)}</small>` : ''}</label>`,
  )
  .join('\n')}
</fieldset>
<button type="submit">Save my choices</button>
<p><button type="submit" name="${ALL_FIELD}" value="1">Unsubscribe from all</button></p>
</form>`,
  ),
})

export const preferencesSavedPage = (rows: readonly PreferenceRow[], all: boolean): PageResponse => ({
  status: 200,
  html: page(
    all ? 'You are unsubscribed from all our emails' : 'Your preferences are saved',
    all
      ? '<p>You will not receive any more emails from us.</p>'
      : `<ul>${rows.map((r) => `<li>${escapeHtml(r.name)}: ${r.state === 'pending' ? 'check your inbox to confirm' : r.state}</li>`).join('')}</ul>`,
  ),
})

/** GET /confirm/<token>: a button, so a link scanner's GET confirms nothing. Posts to its own URL. */
export const confirmPage = (): PageResponse => ({
  status: 200,
  html: page(
    'Confirm your subscription',
    `<form method="post"><input type="hidden" name="confirm" value="1">
<button type="submit">Yes, subscribe me</button></form>`,
  ),
})

export const confirmedPage = (): PageResponse => ({
  status: 200,
  html: page('Your subscription is confirmed', '<p>Thank you. You will receive these emails.</p>'),
})

/** The person left the topic since (or it is gone): the old link changes nothing. */
export const confirmStalePage = (): PageResponse => ({
  status: 200,
  html: page(
    'Nothing to confirm',
    '<p>This subscription is no longer waiting for confirmation. Use the preferences link in our emails to change it.</p>',
  ),
})
