/**
 * Consent changes as events on the profile (`Topic Subscribed`, `Topic Unsubscribed`), so the
 * profile's timeline, traits and segments see them like any other event. The event id is
 * hash(workspace, user, topic, state, time): the same change recorded twice is one event.
 */
import { createHash } from 'node:crypto'
import type { InkEvent, JsonObject } from '../core/types.ts'
import type { SubscriptionState } from './topic-store.ts'

export const TOPIC_SUBSCRIBED = 'Topic Subscribed'
export const TOPIC_UNSUBSCRIBED = 'Topic Unsubscribed'

export interface ConsentChange {
  workspaceId: string
  userId: string
  topicId: string
  state: SubscriptionState
  /** `unsubscribe-link`, `api`, … */
  source: string
  /** The campaign or trigger whose link it was, when it was a link. */
  campaignId?: string | undefined
  ip?: string | undefined
  at: number
}

export function consentEvent(c: ConsentChange): InkEvent {
  const properties: JsonObject = { topic_id: c.topicId, source: c.source }
  if (c.campaignId !== undefined) properties.campaign_id = c.campaignId
  if (c.ip !== undefined) properties.ip = c.ip
  const hash = createHash('sha256')
    .update(`${c.workspaceId}\n${c.userId}\n${c.topicId}\n${c.state}\n${c.at}`)
    .digest('hex')
    .slice(0, 32)
  const at = new Date(c.at).toISOString()
  return {
    type: 'track',
    event: c.state === 'unsubscribed' ? TOPIC_UNSUBSCRIBED : TOPIC_SUBSCRIBED,
    messageId: `ink-consent-${hash}`,
    workspaceId: c.workspaceId,
    userId: c.userId,
    properties,
    timestamp: at,
    receivedAt: at,
  }
}
