/** The campaign part of the Store seam: campaign definitions and their lifecycle state. */
import type { JsonObject } from '../core/types.ts'

export const CAMPAIGN_STATES = ['draft', 'running', 'done', 'failed'] as const
export type CampaignState = (typeof CAMPAIGN_STATES)[number]

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
  state: CampaignState
  /** Why the last run failed (state `failed`). */
  error: string | null
  createdAt: number
  updatedAt: number
  startedAt: number | null
  finishedAt: number | null
}

export type CampaignDraft = Pick<
  CampaignDefinition,
  'name' | 'templateId' | 'templateVersion' | 'from' | 'audience' | 'vars' | 'ratePerSecond'
>

export interface CampaignStore {
  get(workspaceId: string, id: string): Promise<CampaignDefinition | undefined>
  list(workspaceId: string): Promise<CampaignDefinition[]>
  /** Creates or replaces a draft; answers undefined (nothing written) when the campaign is not a draft. */
  putDraft(
    workspaceId: string,
    id: string,
    draft: CampaignDraft,
  ): Promise<{ campaign: CampaignDefinition; created: boolean } | undefined>
  /** Marks it running (any state → running) and pins the template version; keeps the first startedAt. */
  markRunning(workspaceId: string, id: string, templateVersion: number): Promise<void>
  markFinished(workspaceId: string, id: string, state: 'done' | 'failed', error?: string): Promise<void>
  /** Every campaign left `running` (by a crash, or by a shutdown mid-send), all workspaces. */
  running(): Promise<{ workspaceId: string; id: string }[]>
  close(): Promise<void>
}
