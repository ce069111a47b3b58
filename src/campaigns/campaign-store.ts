/** The campaign part of the Store seam: campaign definitions and their lifecycle state. */
import type { JsonObject } from '../core/types.ts'

/**
 * draft → running → done | failed | paused | cancelled; paused and failed run again on start;
 * cancelled is never run again (campaign-rules.ts has the transitions).
 */
export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'done', 'failed', 'cancelled'] as const
export type CampaignState = (typeof CAMPAIGN_STATES)[number]
/** The CHECK of the state column in both backends' schema. */
export const STATE_CHECK = `CHECK (state IN (${CAMPAIGN_STATES.map((s) => `'${s}'`).join(', ')}))`

/** Who gets the campaign. `segment` is resolved by an AudienceResolver that supports it. */
export type Audience = { userIds: string[] } | { segment: string }

export interface CampaignDefinition {
  id: string
  name: string
  templateId: string
  /** Pinned to the latest version when the campaign first starts, unless set in the draft. */
  templateVersion: number | null
  /** Sender; null means the server's INKSTREAM_FROM. */
  from: string | null
  audience: Audience
  vars: JsonObject
  ratePerSecond: number | null
  /**
   * Consecutive temporary transport failures after which the campaign pauses itself; null means
   * the server's INKSTREAM_CAMPAIGN_PAUSE_AFTER_FAILURES.
   */
  pauseAfterFailures: number | null
  /**
   * Send at a local time per recipient: each one when their own clock (the `timezone` trait, an
   * IANA name; else `defaultTimezone`) shows `localTime` (`YYYY-MM-DDTHH:MM`); at once for those
   * whose time has passed. Null: everyone as fast as the rate allows.
   */
  sendAt: CampaignSendAt | null
  /** The subscription topic (topics/): recipients who left it are skipped, its unsubscribe link leaves it only. */
  topic: string | null
  state: CampaignState
  /** Why the last run failed (state `failed`). */
  error: string | null
  /** Why the campaign is paused or cancelled (by request, or after repeated transport failures). */
  reason: string | null
  createdAt: number
  updatedAt: number
  startedAt: number | null
  finishedAt: number | null
}

export interface CampaignSendAt {
  localTime: string
  defaultTimezone: string
}

export type CampaignDraft = Pick<
  CampaignDefinition,
  'name' | 'templateId' | 'templateVersion' | 'from' | 'audience' | 'vars' | 'ratePerSecond'
> &
  Partial<Pick<CampaignDefinition, 'pauseAfterFailures' | 'sendAt' | 'topic'>>

export interface CampaignStore {
  get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined>
  list(workspaceId: string): Promise<CampaignDefinition[]>
  /** Creates or replaces a draft; answers undefined (nothing written) when the campaign is not a draft. */
  putDraft(
    workspaceId: string,
    id: string,
    draft: CampaignDraft,
  ): Promise<{ campaign: CampaignDefinition; created: boolean } | undefined>
  /** The lifecycle moves (campaign-rules.ts `campaignMarks` over the backend's conditional UPDATEs). */
  readonly marks: CampaignMarks
  /** Every campaign left `running` (by a crash, or by a shutdown mid-send), all workspaces. */
  running(): Promise<{ workspaceId: string; id: string }[]>
  close(): Promise<void>
}

/** A campaign's lifecycle moves; each answers false (nothing written) when the move is not allowed. */
export interface CampaignMarks {
  /** Running, with the template version pinned; keeps the first startedAt. False for a cancelled campaign. */
  running(workspaceId: string, id: string, templateVersion: number): Promise<boolean>
  /** A run's end: done or failed, unless it was paused or cancelled meanwhile (then false). */
  finished(workspaceId: string, id: string, state: 'done' | 'failed', error?: string): Promise<boolean>
  /** running → paused with its reason; false when it was not running. */
  paused(workspaceId: string, id: string, reason: string): Promise<boolean>
  /** draft, running, paused or failed → cancelled with its reason; false otherwise. */
  cancelled(workspaceId: string, id: string, reason: string): Promise<boolean>
}
