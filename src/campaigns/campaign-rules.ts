/**
 * The campaign lifecycle, written once for both CampaignStore backends: which state each
 * transition may start from, what it writes, and the row mapping. The SQL files only run
 * `UPDATE … WHERE state IN (from)` with these values.
 */
import type { JsonObject } from '../core/types.ts'
import type {
  Audience,
  CampaignDefinition,
  CampaignDraft,
  CampaignMarks,
  CampaignSendAt,
  CampaignState,
} from './campaign-store.ts'

/** States a transition may start from. */
export const FROM: Record<'running' | 'finished' | 'paused' | 'cancelled', readonly CampaignState[]> = {
  /** A start, or a resume; a cancelled campaign never runs again. */
  running: ['draft', 'running', 'paused', 'done', 'failed'],
  /** A run's end (done, failed): not over a pause or cancel that came meanwhile. */
  finished: ['running'],
  paused: ['running'],
  cancelled: ['draft', 'running', 'paused', 'failed'],
}

/** A transition other than start: the states it may start from, and what it writes. */
export interface CampaignMove {
  from: readonly CampaignState[]
  state: CampaignState
  error: string | null
  reason: string | null
  /** Set finished_at (done, failed, cancelled); a pause leaves it null. */
  finished: boolean
}

/**
 * CampaignStore's `marks` (running, finished, paused, cancelled) for both backends, over
 * the conditional UPDATEs a backend runs (`start`, `move`: true when the row was in `from` and changed).
 */
export function campaignMarks(
  move: (workspaceId: string, id: string, m: CampaignMove) => Promise<boolean>,
  start: (
    workspaceId: string,
    id: string,
    templateVersion: number,
    from: readonly CampaignState[],
  ) => Promise<boolean>,
): CampaignMarks {
  return {
    running: (workspaceId, id, templateVersion) => start(workspaceId, id, templateVersion, FROM.running),
    finished: (workspaceId, id, state, error) =>
      move(workspaceId, id, {
        from: FROM.finished,
        state,
        error: error ?? null,
        reason: null,
        finished: true,
      }),
    paused: (workspaceId, id, reason) =>
      move(workspaceId, id, { from: FROM.paused, state: 'paused', error: null, reason, finished: false }),
    cancelled: (workspaceId, id, reason) =>
      move(workspaceId, id, {
        from: FROM.cancelled,
        state: 'cancelled',
        error: null,
        reason,
        finished: true,
      }),
  }
}

/** A campaigns row as both backends select it (JSON as text or parsed; bigint as text or number). */
export interface CampaignRow {
  workspace_id: string
  campaign_id: string
  name: string
  template_id: string
  template_version: number | null
  sender: string | null
  audience: string | Audience
  vars: string | JsonObject
  rate_per_second: number | null
  pause_after_failures: number | null
  send_at: string | CampaignSendAt | null
  topic?: string | null
  state: CampaignState
  error: string | null
  reason: string | null
  created_at: number | string
  updated_at: number | string
  started_at: number | string | null
  finished_at: number | string | null
}

export const CAMPAIGN_COLUMNS = `workspace_id, campaign_id, name, template_id, template_version, sender, audience,
  vars, rate_per_second, pause_after_failures, send_at, state, error, reason, created_at, updated_at, started_at, finished_at,
  topic`

/**
 * What a draft writes, for both backends, in the order of DRAFT_COLUMNS: name, template_id,
 * template_version, sender, audience, vars, rate_per_second, pause_after_failures, send_at, topic.
 */
export const draftValues = (d: CampaignDraft): unknown[] => [
  d.name,
  d.templateId,
  d.templateVersion,
  d.from,
  JSON.stringify(d.audience),
  JSON.stringify(d.vars),
  d.ratePerSecond,
  d.pauseAfterFailures ?? null,
  d.sendAt ? JSON.stringify(d.sendAt) : null,
  d.topic ?? null,
]

const json = <T>(v: string | T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v)
const int = (v: number | string | null): number | null => (v === null ? null : Number(v))

export const definitionOf = (r: CampaignRow): CampaignDefinition => ({
  id: r.campaign_id,
  name: r.name,
  templateId: r.template_id,
  templateVersion: r.template_version,
  from: r.sender,
  audience: json<Audience>(r.audience),
  vars: json<JsonObject>(r.vars),
  ratePerSecond: r.rate_per_second,
  pauseAfterFailures: r.pause_after_failures,
  sendAt: r.send_at === null ? null : json<CampaignSendAt>(r.send_at),
  topic: r.topic ?? null,
  state: r.state,
  error: r.error,
  reason: r.reason,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  startedAt: int(r.started_at),
  finishedAt: int(r.finished_at),
})
