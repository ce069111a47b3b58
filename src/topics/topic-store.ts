/**
 * Subscription topics (issue 15): a workspace's kinds of mail (newsletter, product updates, …) a
 * person can leave one at a time, and each profile's state per topic. A message that names a topic
 * is not sent to someone unsubscribed from it (delivery/deliver.ts, skip `topic_unsubscribed`); its
 * unsubscribe link leaves that topic only. A message without a topic, and the suppression list, work
 * as before. Subscriptions are keyed by the profile's userId: the id the send path and the
 * unsubscribe token carry. No row means subscribed (opt-out), as for mail without topics.
 * A topic with `doubleOptIn`: subscribing someone who is not subscribed makes the state `pending`
 * (topics/double-opt-in.ts sends the confirmation email); pending is skipped like unsubscribed.
 */
import { InkError } from '../core/errors.ts'

export interface Topic {
  workspaceId: string
  id: string
  name: string
  description: string
  doubleOptIn: boolean
  createdAt: number
  updatedAt: number
}

export type TopicDraft = Pick<Topic, 'name' | 'description' | 'doubleOptIn'>

export const SUBSCRIPTION_STATES = ['subscribed', 'unsubscribed', 'pending'] as const

/**
 * A person's state of a topic they never chose: subscribed (opt-out) for an ordinary topic; not
 * subscribed for a double opt-in one, whose subscription is active only once confirmed.
 */
export const defaultState = (topic: { doubleOptIn: boolean }): 'subscribed' | 'unsubscribed' =>
  topic.doubleOptIn ? 'unsubscribed' : 'subscribed'
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number]

export interface TopicSubscription {
  topicId: string
  state: SubscriptionState
  /** What changed it: `unsubscribe-link:<campaign>`, `api`, `complaint`, … */
  source: string
  /** Epoch ms of the change. */
  at: number
}

export interface TopicStore {
  list(workspaceId: string): Promise<Topic[]>
  get(workspaceId: string, id: string): Promise<Topic | undefined>
  /** Creates or replaces a topic; `created` tells which. */
  put(workspaceId: string, id: string, draft: TopicDraft): Promise<{ topic: Topic; created: boolean }>
  /** Removes a topic and every subscription state of it; false when there was none. */
  remove(workspaceId: string, id: string): Promise<boolean>
  /** The states a profile has (topics without one: subscribed). */
  subscriptions(workspaceId: string, userId: string): Promise<TopicSubscription[]>
  /**
   * Sets one state; a change older than the stored one (by `at`) is ignored. Answers whether the
   * stored state changed. Throws INK_ERR_NOT_FOUND for a topic the workspace does not have.
   */
  setSubscription(workspaceId: string, userId: string, change: TopicSubscription): Promise<boolean>
  /** Whether the profile left this topic or has not confirmed it yet (`pending`): the send path's check. */
  isUnsubscribed(workspaceId: string, userId: string, topicId: string): Promise<boolean>
  close(): Promise<void>
}

/** A topic id: a slug, as campaign ids are. */
export const TOPIC_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/

export const topicNotFound = (id: string) =>
  new InkError('INK_ERR_NOT_FOUND', `topic "${id}" was not found; create it with PUT /v1/topics/${id}`)
