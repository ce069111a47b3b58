/** The segments table's row mapping, shared by the SQLite and PostgreSQL stores (same columns). */
import type { SegmentDef } from './segment-store.ts'

export interface SegmentRow {
  workspace_id: string
  segment_id: string
  name: string
  /** The condition as the text that was sent (a changed text is a new version). */
  condition: string
  version: number
  members_version: number | null
  backfill_cursor: string | null
  /** INTEGER in SQLite; bigint (a string) in PostgreSQL. */
  updated_at: number | string
}

export const segmentFromRow = (r: Omit<SegmentRow, 'backfill_cursor'>): SegmentDef => ({
  workspaceId: r.workspace_id,
  segmentId: r.segment_id,
  name: r.name,
  condition: JSON.parse(r.condition),
  version: r.version,
  membersVersion: r.members_version,
  updatedAt: Number(r.updated_at),
})
