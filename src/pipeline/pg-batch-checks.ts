/**
 * What PgBatchStore checks before a commit of one of several processors: that the rows the batch
 * read are still as it read them (BatchChanges.expectedProfiles / expectedIdentities).
 */
import { type PgClient, pgText, toInt } from '../db/pg.ts'
import { type BatchChanges, ProfileConflictError } from './batch-store.ts'

/**
 * Refuses the commit (ProfileConflictError) if another processor changed what the batch read
 * (ProfileChanges.expectedProfiles / expectedIdentities), for what the commit statement cannot check
 * itself: profiles merged away (deleted) and identities bound to another profile are locked first
 * (FOR UPDATE, in key order), so what is compared stays so until COMMIT; identities the batch saw
 * unbound are inserted here with DO NOTHING, so a concurrent insert of the same one is seen too.
 * Upserted profiles are checked by WRITE_PROFILES (an update only over the version read), which
 * costs no extra pass over the rows: the common case, a batch of profiles no one else touches.
 */
export async function checkExpected(client: PgClient, c: BatchChanges): Promise<void> {
  const profiles = new Map<string, { workspaceId: string; profileId: string; version: number }>()
  // Upserts are checked by the commit statement itself; merged-away profiles here.
  const deleted = new Set(c.deletes.map((d) => `${d.workspaceId}\n${d.profileId}`))
  for (const p of c.expectedProfiles ?? [])
    if (deleted.has(`${p.workspaceId}\n${p.profileId}`)) profiles.set(`${p.workspaceId}\n${p.profileId}`, p)
  const identities = c.expectedIdentities ?? []
  if (profiles.size > 0) {
    const wanted = [...profiles.values()]
    const { rows } = await client.query<{ workspace_id: string; profile_id: string; version: string }>({
      name: 'ink-profiles-check',
      text: `SELECT p.workspace_id, p.profile_id, p.version FROM profiles p
        JOIN unnest($1::text[], $2::text[]) AS e(workspace_id, profile_id) USING (workspace_id, profile_id)
        ORDER BY p.workspace_id, p.profile_id FOR UPDATE OF p`,
      values: [wanted.map((w) => w.workspaceId), wanted.map((w) => w.profileId)],
    })
    const stored = new Map(rows.map((r) => [`${r.workspace_id}\n${r.profile_id}`, toInt(r.version)]))
    for (const [key, w] of profiles)
      if (stored.get(key) !== w.version) throw new ProfileConflictError(`profile ${w.profileId}`)
  }
  const bound = identities.filter((i) => i.profileId !== null).map((i) => ({ ...i, value: pgText(i.value) }))
  if (bound.length > 0) {
    const { rows } = await client.query<{
      workspace_id: string
      kind: string
      value: string
      profile_id: string
    }>({
      name: 'ink-identities-check',
      text: `SELECT i.workspace_id, i.kind, i.value, i.profile_id FROM identities i
        JOIN unnest($1::text[], $2::text[], $3::text[]) AS e(workspace_id, kind, value) USING (workspace_id, kind, value)
        ORDER BY i.workspace_id, i.kind, i.value FOR UPDATE OF i`,
      values: [bound.map((i) => i.workspaceId), bound.map((i) => i.kind), bound.map((i) => i.value)],
    })
    const stored = new Map(rows.map((r) => [`${r.workspace_id}\n${r.kind}\n${r.value}`, r.profile_id]))
    for (const i of bound)
      if (stored.get(`${i.workspaceId}\n${i.kind}\n${i.value}`) !== i.profileId)
        throw new ProfileConflictError(`the profile of ${i.kind} "${i.value}"`)
  }
  const unbound = identities
    .filter((i) => i.profileId === null)
    .map((i) => ({ ...i, value: pgText(i.value) }))
  if (unbound.length > 0) {
    // Claimed with a placeholder that the commit's identity upsert replaces in this transaction.
    const { rowCount } = await client.query({
      name: 'ink-identities-claim',
      text: `INSERT INTO identities (workspace_id, kind, value, profile_id)
        SELECT e.*, '' FROM unnest($1::text[], $2::text[], $3::text[]) AS e ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING`,
      values: [unbound.map((i) => i.workspaceId), unbound.map((i) => i.kind), unbound.map((i) => i.value)],
    })
    if ((rowCount ?? 0) !== unbound.length) throw new ProfileConflictError('a new identity')
  }
}

/** The last entry per key, in key order: a later change in a batch replaces an earlier one. */
export function lastByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>()
  for (const item of items) byKey.set(key(item), item)
  return [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item)
}
