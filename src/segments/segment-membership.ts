/**
 * The membership commit rule, written once for both backends (the batch stores call it inside the
 * processor's commit transaction; they keep only the SQL that writes its result):
 *
 * - A batch evaluates its upserted profiles against the segment definitions it had loaded. A row
 *   is written only when its segment is still at the version it was evaluated against: a member
 *   is upserted, a non-member removed. Rows of a segment changed or deleted since are skipped:
 *   that version's backfill recomputes them.
 * - Several rows for one (workspace, segment, profile) in a batch: the last one counts.
 * - With `rescans` (a store whose backfill may run between a batch's evaluation and its commit:
 *   PostgreSQL, several processes), every upserted profile not evaluated against a segment of its
 *   workspace at that segment's current version is queued for re-evaluation by the next backfill
 *   step. The embedded store needs none: its backfill runs on the processor's thread, never
 *   between a batch's evaluation and its commit.
 * - Memberships of profiles merged away (deleted) are removed with the profile (backend SQL).
 */

export interface SegmentMembership {
  workspaceId: string
  segmentId: string
  /** The segment version the row was evaluated against. */
  version: number
  profileId: string
  userId: string | null
  email: string | null
  member: boolean
}

/** The current version of each segment of a workspace (segmentId → version), as stored now. */
export type SegmentVersions = (workspaceId: string) => ReadonlyMap<string, number>

export interface MembershipPlan {
  join: SegmentMembership[]
  leave: SegmentMembership[]
  rescan: { workspaceId: string; segmentId: string; profileId: string }[]
}

const rowKey = (ws: string, segmentId: string, profileId: string) => `${ws}\n${segmentId}\n${profileId}`

/** Applies the rule above to one batch's rows; `rows` keep their order (the last per key wins). */
export function planMemberships(
  rows: readonly SegmentMembership[],
  upserted: readonly { workspaceId: string; profileId: string }[],
  versions: SegmentVersions,
  opts: { rescans: boolean },
): MembershipPlan {
  const last = new Map<string, SegmentMembership>()
  for (const m of rows) last.set(rowKey(m.workspaceId, m.segmentId, m.profileId), m)
  const plan: MembershipPlan = { join: [], leave: [], rescan: [] }
  const current = new Set<string>()
  for (const [key, m] of last) {
    if (versions(m.workspaceId).get(m.segmentId) !== m.version) continue
    current.add(key)
    if (m.member) plan.join.push(m)
    else plan.leave.push(m)
  }
  if (opts.rescans)
    for (const p of upserted)
      for (const segmentId of versions(p.workspaceId).keys())
        if (!current.has(rowKey(p.workspaceId, segmentId, p.profileId)))
          plan.rescan.push({ workspaceId: p.workspaceId, segmentId, profileId: p.profileId })
  return plan
}
