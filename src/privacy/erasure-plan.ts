/**
 * What an erasure (GDPR Art. 17) does to the store, written once for both backends as a generator of
 * statements: the SQLite store runs it synchronously inside one IMMEDIATE transaction, the
 * PostgreSQL store awaits each statement inside one transaction. Placeholders are `?` (PostgreSQL's
 * driver numbers them). Decisions (docs/arch-erase-export.md):
 * - the profile, its identities, recent events, segment memberships and trigger jobs (every state)
 *   are deleted; so are the person's per-message analytics rows and engagement marker; aggregate
 *   counters stay (they hold no personal data);
 * - send-ledger rows are kept (a campaign's progress and counts stay right) but anonymised: the
 *   recipient becomes `erased:<hash>`, the address its hash, the SMTP detail (it may quote the
 *   address) is cleared. Re-sending is prevented by the suppression hash, not by the ledger;
 * - campaigns whose `{ userIds }` audience lists the person lose those ids;
 * - open-webhook deliveries whose open event names the person are deleted (pending: never sent);
 * - every address known for the person (the `email` trait, the addresses the ledger and segment
 *   rows hold) loses its plain suppression entries and gets one `erased` entry keyed by its hash;
 * - a tombstone per identity (a hash, never the id) lets processors drop the person's later events;
 * - the audit entry is the last statement, so an erasure is never committed without it (its
 *   `logEvents` is null and its `log` is `pending` until the route deals with the log's copies:
 *   completeAudit; a crash in between is finished by erasure-resume.ts).
 */
import { createHash } from 'node:crypto'
import { hashedAddress, normalizeEmail } from '../delivery/suppression-store.ts'
import { type LogErasure, SQL } from './privacy-store.ts'

/** One statement: `all` answers rows, `run` the number of rows changed. */
export type Step =
  | { kind: 'all'; sql: string; params: unknown[] }
  | { kind: 'run'; sql: string; params: unknown[] }

export type StepResult = Record<string, unknown>[] | number

/** What an erasure removed from the store, by table (the SQLite log's count is added by the route). */
export interface ErasureCounts {
  profiles: number
  identities: number
  recentEvents: number
  segmentMemberships: number
  triggerJobs: number
  analyticsMessages: number
  analyticsEngaged: number
  /** Send-ledger rows kept with their recipient and address replaced by hashes. */
  ledgerRowsAnonymised: number
  /** Campaigns whose `{ userIds }` audience listed the person: the ids are taken out. */
  campaignAudiences: number
  /** Open-webhook deliveries whose event names the person (pending ones are not sent any more). */
  webhookDeliveries: number
  /** Plain-address suppression entries replaced by the hashed `erased` entry. */
  suppressionsReplaced: number
  /** Hashed `erased` entries written (one per address known for the person). */
  erasedAddresses: number
  tombstones: number
}

/** ErasureCounts' keys, in the order an erasure counts them (the DELETE route's response schema). */
export const ERASURE_COUNT_KEYS = [
  'profiles',
  'identities',
  'recentEvents',
  'segmentMemberships',
  'triggerJobs',
  'analyticsMessages',
  'analyticsEngaged',
  'ledgerRowsAnonymised',
  'campaignAudiences',
  'webhookDeliveries',
  'suppressionsReplaced',
  'erasedAddresses',
  'tombstones',
] as const satisfies readonly (keyof ErasureCounts)[]
/** Every key of ErasureCounts is listed (a new count left out would fail the route's strict response schema). */
const listsEveryCount: [Exclude<keyof ErasureCounts, (typeof ERASURE_COUNT_KEYS)[number]>] extends [never]
  ? true
  : never = true
void listsEveryCount

export interface Erasure {
  profileId: string
  /** Every userId and anonymousId the profile had: the log's events and the cache's keys to remove. */
  ids: string[]
  counts: ErasureCounts
  /** The erasure's audit entry, written with it. */
  auditId: number
}

/** The hash a tombstone holds for an identity: the id never stays in the store. */
export const identityHash = (workspaceId: string, id: string): string =>
  createHash('sha256').update(`${workspaceId}\n${id}`).digest('hex')

/** An erased ledger recipient: stable per (workspace, id), so a row's key stays unique. */
const erasedRecipient = (workspaceId: string, id: string) =>
  `erased:${identityHash(workspaceId, id).slice(0, 32)}`

const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ')

const all = (sql: string, params: unknown[]): Step => ({ kind: 'all', sql, params })
const run = (sql: string, params: unknown[]): Step => ({ kind: 'run', sql, params })

/** The source of every `erased` suppression entry. */
export const ERASURE_SOURCE = 'erasure'

export function* erasePlan(
  workspaceId: string,
  profileId: string,
  now: number,
  actor: string,
): Generator<Step, Erasure | undefined, StepResult> {
  const ws = workspaceId
  const rows = (r: StepResult) => (typeof r === 'number' ? [] : r)
  const count = (r: StepResult) => (typeof r === 'number' ? r : r.length)
  const [profile] = rows(
    yield all('SELECT user_id, state FROM profiles WHERE workspace_id = ? AND profile_id = ?', [
      ws,
      profileId,
    ]),
  )
  if (profile === undefined) return undefined
  const idRows = rows(
    yield all('SELECT value FROM identities WHERE workspace_id = ? AND profile_id = ?', [ws, profileId]),
  )
  const ids = [
    ...new Set([
      ...idRows.map((r) => String(r.value)),
      ...(profile.user_id ? [String(profile.user_id)] : []),
    ]),
  ]

  // Every address known for the person: the trait, what the ledger mailed to, what segments copied.
  const raw = new Set<string>()
  const state = typeof profile.state === 'string' ? JSON.parse(profile.state) : profile.state
  const trait = (state as { traits?: Record<string, unknown> } | null)?.traits?.email
  if (typeof trait === 'string') raw.add(trait)
  const members = rows(
    yield all('SELECT email FROM segment_members WHERE workspace_id = ? AND profile_id = ?', [ws, profileId]),
  )
  for (const m of members) if (typeof m.email === 'string') raw.add(m.email)
  let ledger: Record<string, unknown>[] = []
  if (ids.length > 0) {
    ledger = rows(
      yield all(
        `SELECT campaign_id, recipient, email FROM send_ledger WHERE workspace_id = ? AND recipient IN (${marks(ids.length)})`,
        [ws, ...ids],
      ),
    )
    for (const l of ledger) raw.add(String(l.email))
  }
  // Rows of other recipients (a profile that shared the address) are the address's too.
  if (raw.size > 0) {
    const byAddress = rows(
      yield all(
        `SELECT campaign_id, recipient, email FROM send_ledger WHERE workspace_id = ? AND email IN (${marks(raw.size)})`,
        [ws, ...raw],
      ),
    )
    const seen = new Set(ledger.map((l) => `${l.campaign_id}\n${l.recipient}`))
    for (const l of byAddress) if (!seen.has(`${l.campaign_id}\n${l.recipient}`)) ledger.push(l)
  }
  const addresses = [...new Set([...raw].map((a) => normalizeEmail(a)).filter((a) => a !== undefined))]

  const byProfile = [ws, profileId]
  const counts: ErasureCounts = {
    profiles: count(yield run('DELETE FROM profiles WHERE workspace_id = ? AND profile_id = ?', byProfile)),
    identities: count(
      yield run('DELETE FROM identities WHERE workspace_id = ? AND profile_id = ?', byProfile),
    ),
    recentEvents: count(
      yield run('DELETE FROM profile_events WHERE workspace_id = ? AND profile_id = ?', byProfile),
    ),
    segmentMemberships: count(
      yield run('DELETE FROM segment_members WHERE workspace_id = ? AND profile_id = ?', byProfile),
    ),
    triggerJobs: count(
      yield run('DELETE FROM trigger_jobs WHERE workspace_id = ? AND profile_id = ?', byProfile),
    ),
    analyticsMessages: 0,
    analyticsEngaged: 0,
    ledgerRowsAnonymised: 0,
    campaignAudiences: 0,
    webhookDeliveries: 0,
    suppressionsReplaced: 0,
    erasedAddresses: 0,
    tombstones: 0,
  }
  if (ids.length > 0) {
    const inIds = `user_id IN (${marks(ids.length)})`
    counts.analyticsMessages = count(
      yield run(`DELETE FROM analytics_messages WHERE workspace_id = ? AND ${inIds}`, [ws, ...ids]),
    )
    counts.analyticsEngaged = count(
      yield run(`DELETE FROM analytics_engaged WHERE workspace_id = ? AND ${inIds}`, [ws, ...ids]),
    )
  }
  // Open-webhook deliveries (pending or delivered) carry the open event, which names the person.
  const erasedSet = new Set(ids)
  for (const id of ids) {
    const like = `%${JSON.stringify(id).replace(/[!%_]/g, (c) => `!${c}`)}%`
    const found = rows(
      yield all(
        `SELECT id, payload FROM webhook_deliveries WHERE workspace_id = ? AND kind = 'open' AND payload LIKE ? ESCAPE '!'`,
        [ws, like],
      ),
    )
    for (const d of found) {
      const e = (JSON.parse(String(d.payload)) as { event?: Record<string, unknown> }).event ?? {}
      if (![e.userId, e.anonymousId, e.previousId].some((v) => typeof v === 'string' && erasedSet.has(v)))
        continue
      counts.webhookDeliveries += count(yield run('DELETE FROM webhook_deliveries WHERE id = ?', [d.id]))
    }
  }
  // Campaign audiences listing the person's ids (`{ userIds }`) lose them; segment audiences name none.
  if (ids.length > 0) {
    const erasedIds = new Set(ids)
    for (const c of rows(
      yield all('SELECT campaign_id, audience FROM campaigns WHERE workspace_id = ?', [ws]),
    )) {
      const audience = (typeof c.audience === 'string' ? JSON.parse(c.audience) : c.audience) as {
        userIds?: unknown
      } | null
      const listed = audience?.userIds
      if (!Array.isArray(listed) || !listed.some((id) => erasedIds.has(id))) continue
      const kept = { ...audience, userIds: listed.filter((id) => !erasedIds.has(id)) }
      counts.campaignAudiences += count(
        yield run('UPDATE campaigns SET audience = ? WHERE workspace_id = ? AND campaign_id = ?', [
          JSON.stringify(kept),
          ws,
          c.campaign_id,
        ]),
      )
    }
  }
  for (const l of ledger) {
    const email = String(l.email)
    counts.ledgerRowsAnonymised += count(
      yield run(
        `UPDATE send_ledger SET recipient = ?, email = ?, detail = NULL
         WHERE workspace_id = ? AND campaign_id = ? AND recipient = ?`,
        [
          erasedRecipient(ws, String(l.recipient)),
          hashedAddress(normalizeEmail(email) ?? email),
          ws,
          l.campaign_id,
          l.recipient,
        ],
      ),
    )
  }
  if (addresses.length > 0) {
    counts.suppressionsReplaced = count(
      yield run(
        `DELETE FROM delivery_suppressions WHERE workspace_id = ? AND email IN (${marks(addresses.length)})`,
        [ws, ...addresses],
      ),
    )
  }
  for (const a of addresses) {
    counts.erasedAddresses += count(
      yield run(
        `INSERT INTO delivery_suppressions (workspace_id, email, reason, source, created_at)
         VALUES (?, ?, 'erased', ?, ?) ON CONFLICT DO NOTHING`,
        [ws, hashedAddress(a), ERASURE_SOURCE, now],
      ),
    )
  }
  for (const id of ids)
    counts.tombstones += count(
      yield run('INSERT INTO privacy_tombstones (workspace_id, id_hash, erased_at) VALUES (?, ?, ?)', [
        ws,
        identityHash(ws, id),
        now,
      ]),
    )
  const [audit] = rows(
    yield all(SQL.audit, [
      ws,
      'erase',
      profileId,
      actor,
      now,
      JSON.stringify({ ...counts, logEvents: null, log: 'pending' satisfies LogErasure }),
    ]),
  )
  return { profileId, ids, counts, auditId: Number(audit!.id) }
}
