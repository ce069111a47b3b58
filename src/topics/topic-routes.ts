/**
 * Admin API for subscription topics and each profile's state per topic (topic-store.ts).
 *   GET    /v1/topics                 every topic of the workspace
 *   GET    /v1/topics/:id             one topic (none → 404)
 *   PUT    /v1/topics/:id             create (201) or replace (200) it
 *   DELETE /v1/topics/:id             remove it and every profile's state of it (204; none → 404)
 *   GET    /v1/profiles/:id/topics    the profile's state per topic (:id is the userId; no state: subscribed)
 *   PUT    /v1/profiles/:id/topics    change states ({topics: [{id, state}]}); each change is recorded as a
 *                                     `Topic Subscribed` / `Topic Unsubscribed` event on the profile;
 *                                     subscribing to a topic with doubleOptIn makes it `pending` and sends
 *                                     the confirmation email (double-opt-in.ts)
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'

import type { Clock, InkEvent } from '../core/types.ts'
import { adminScope } from '../http/admin-scope.ts'
import { epochMs, noContent, slug } from '../http/schemas.ts'
import type { WorkspaceStore } from '../workspaces/workspace-store.ts'
import { consentEvent } from './consent-events.ts'
import type { DoubleOptIn } from './double-opt-in.ts'
import {
  defaultState,
  SUBSCRIPTION_STATES,
  type Topic,
  type TopicStore,
  topicNotFound,
} from './topic-store.ts'

export interface TopicRoutesDeps {
  topics: TopicStore
  workspaces: WorkspaceStore
  log: { append(events: readonly InkEvent[]): Promise<void> }
  clock: Clock
  /** Subscribing to a doubleOptIn topic goes through it; without it every subscribe is direct. */
  doubleOptIn?: DoubleOptIn | undefined
}

const topicView = z.strictObject({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  doubleOptIn: z.boolean().meta({
    description:
      'Subscribing someone who is not subscribed makes the state pending until they confirm by email.',
  }),
  createdAt: epochMs,
  updatedAt: epochMs,
})

const view = (t: Topic) => ({
  id: t.id,
  name: t.name,
  description: t.description,
  doubleOptIn: t.doubleOptIn,
  createdAt: t.createdAt,
  updatedAt: t.updatedAt,
})

const putBody = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().max(2000).default(''),
    doubleOptIn: z.boolean().default(false),
  })
  .strict()

const state = z.enum(SUBSCRIPTION_STATES)
/** What a request may ask for; `pending` is only ever set by a doubleOptIn subscribe. */
const wantedState = z.enum(['subscribed', 'unsubscribed'])
const profileTopic = z.strictObject({
  id: z.string(),
  name: z.string(),
  state: state.meta({
    description: 'pending: subscribed to a doubleOptIn topic, not confirmed yet (not sent to).',
  }),
  source: z
    .string()
    .nullable()
    .meta({ description: 'What set the state; null: never changed (subscribed).' }),
  at: epochMs.nullable(),
})
const profileTopics = z.strictObject({ userId: z.string(), topics: z.array(profileTopic) })
const userParams = z.object({ id: z.string().min(1).max(512) })

export async function topicRoutes(app: FastifyInstance, deps: TopicRoutesDeps): Promise<void> {
  const { topics, log, clock } = deps

  const stateOf = async (ws: string, userId: string) => {
    const states = new Map((await topics.subscriptions(ws, userId)).map((s) => [s.topicId, s]))
    return {
      userId,
      topics: (await topics.list(ws)).map((t) => {
        const s = states.get(t.id)
        return {
          id: t.id,
          name: t.name,
          state: s?.state ?? defaultState(t),
          source: s?.source ?? null,
          at: s?.at ?? null,
        }
      }),
    }
  }

  await adminScope(app, deps.workspaces, (admin) => {
    admin.get(
      '/v1/topics',
      {
        schema: {
          summary: 'The subscription topics of the workspace',
          response: { 200: z.strictObject({ topics: z.array(topicView) }) },
        },
      },
      async (req) => ({ topics: (await topics.list(req.workspace.id)).map(view) }),
    )

    admin.get(
      '/v1/topics/:id',
      { schema: { summary: 'One topic', params: z.object({ id: slug }), response: { 200: topicView } } },
      async (req) => {
        const t = await topics.get(req.workspace.id, req.params.id)
        if (!t) throw topicNotFound(req.params.id)
        return view(t)
      },
    )

    admin.put(
      '/v1/topics/:id',
      {
        schema: {
          summary: 'Create (201) or replace (200) a topic',
          params: z.object({ id: slug }),
          body: putBody,
          response: { 200: topicView, 201: topicView },
        },
      },
      async (req, reply) => {
        const { topic, created } = await topics.put(req.workspace.id, req.params.id, req.body)
        return reply.code(created ? 201 : 200).send(view(topic))
      },
    )

    admin.delete(
      '/v1/topics/:id',
      {
        schema: {
          summary: 'Remove a topic and every profile state of it (none → 404)',
          params: z.object({ id: slug }),
          response: { 204: noContent },
        },
      },
      async (req, reply) => {
        if (!(await topics.remove(req.workspace.id, req.params.id))) throw topicNotFound(req.params.id)
        return reply.status(204).send(null)
      },
    )

    admin.get(
      '/v1/profiles/:id/topics',
      {
        schema: {
          summary: "A profile's state per topic (:id is the userId; a topic never changed is subscribed)",
          params: userParams,
          response: { 200: profileTopics },
        },
      },
      async (req) => stateOf(req.workspace.id, req.params.id),
    )

    admin.put(
      '/v1/profiles/:id/topics',
      {
        schema: {
          summary:
            "Change a profile's state of some topics; each change is recorded as an event on the profile",
          params: userParams,
          body: z
            .object({
              topics: z
                .array(z.object({ id: slug, state: wantedState }).strict())
                .min(1)
                .max(100),
            })
            .strict(),
          response: { 200: profileTopics },
        },
      },
      async (req) => {
        const ws = req.workspace.id
        const userId = req.params.id
        // Every topic named must exist before anything changes.
        const known = new Map((await topics.list(ws)).map((t) => [t.id, t]))
        const unknown = req.body.topics.find((t) => !known.has(t.id))
        if (unknown) throw topicNotFound(unknown.id)
        const at = clock.now()
        const events: InkEvent[] = []
        for (const t of req.body.topics) {
          const topic = known.get(t.id)
          if (t.state === 'subscribed' && deps.doubleOptIn && topic?.doubleOptIn) {
            const r = await deps.doubleOptIn.subscribe({
              workspaceId: ws,
              userId,
              topic,
              source: 'api',
              ip: req.ip,
            })
            if (r.event) events.push(r.event)
            continue
          }
          const change = { topicId: t.id, state: t.state, source: 'api', at }
          if (await topics.setSubscription(ws, userId, change))
            events.push(consentEvent({ workspaceId: ws, userId, ...change, ip: req.ip }))
        }
        if (events.length > 0) await log.append(events)
        return stateOf(ws, userId)
      },
    )
  })
}
