/** The TopicStore over PostgreSQL: two tables. It does not own the pool. */
import type { Clock } from '../core/types.ts'
import { migratePg, type PgPool } from '../db/pg.ts'
import { PgStore } from '../db/pg-store.ts'
import {
  type Topic,
  type TopicDraft,
  type TopicStore,
  type TopicSubscription,
  topicNotFound,
} from './topic-store.ts'

const MIGRATIONS = [
  `CREATE TABLE topics (
     workspace_id text COLLATE "C" NOT NULL,
     topic_id text COLLATE "C" NOT NULL,
     name text NOT NULL,
     description text NOT NULL,
     double_opt_in boolean NOT NULL,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (workspace_id, topic_id)
   );
   CREATE TABLE topic_subscriptions (
     workspace_id text COLLATE "C" NOT NULL,
     user_id text COLLATE "C" NOT NULL,
     topic_id text COLLATE "C" NOT NULL,
     state text NOT NULL CHECK (state IN ('subscribed', 'unsubscribed')),
     source text NOT NULL,
     at bigint NOT NULL,
     PRIMARY KEY (workspace_id, user_id, topic_id)
   );`,
  // Double opt-in: 'pending' until the person confirms.
  `ALTER TABLE topic_subscriptions DROP CONSTRAINT topic_subscriptions_state_check;
   ALTER TABLE topic_subscriptions ADD CONSTRAINT topic_subscriptions_state_check
     CHECK (state IN ('subscribed', 'unsubscribed', 'pending'));`,
]

/** Creates the tables (the processor's batch store writes subscription states too). */
export const migratePgTopics = (pool: PgPool) => migratePg(pool, 'pg-topic-store', MIGRATIONS)

type TopicRow = {
  workspace_id: string
  topic_id: string
  name: string
  description: string
  double_opt_in: boolean
  created_at: string
  updated_at: string
  inserted?: boolean
}

const topicOf = (r: TopicRow): Topic => ({
  workspaceId: r.workspace_id,
  id: r.topic_id,
  name: r.name,
  description: r.description,
  doubleOptIn: r.double_opt_in,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
})

const COLUMNS = 'workspace_id, topic_id, name, description, double_opt_in, created_at, updated_at'

export class PgTopicStore extends PgStore implements TopicStore {
  constructor(pool: PgPool, opts: { clock?: Clock } = {}) {
    super(pool, migratePgTopics, opts.clock)
  }

  async list(workspaceId: string): Promise<Topic[]> {
    const { rows } = await this.query<TopicRow>(
      `SELECT ${COLUMNS} FROM topics WHERE workspace_id = $1 ORDER BY topic_id`,
      [workspaceId],
    )
    return rows.map(topicOf)
  }

  async get(workspaceId: string, id: string): Promise<Topic | undefined> {
    const { rows } = await this.query<TopicRow>(
      `SELECT ${COLUMNS} FROM topics WHERE workspace_id = $1 AND topic_id = $2`,
      [workspaceId, id],
    )
    return rows[0] && topicOf(rows[0])
  }

  async put(workspaceId: string, id: string, d: TopicDraft): Promise<{ topic: Topic; created: boolean }> {
    const { rows } = await this.query<TopicRow>(
      `INSERT INTO topics (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (workspace_id, topic_id) DO UPDATE SET name = excluded.name,
         description = excluded.description, double_opt_in = excluded.double_opt_in, updated_at = excluded.updated_at
       RETURNING ${COLUMNS}, xmax = 0 AS inserted`,
      [workspaceId, id, d.name, d.description, d.doubleOptIn, this.clock.now()],
    )
    const row = rows[0]!
    return { topic: topicOf(row), created: row.inserted === true }
  }

  async remove(workspaceId: string, id: string): Promise<boolean> {
    return this.transaction(async (client) => {
      await client.query('DELETE FROM topic_subscriptions WHERE workspace_id = $1 AND topic_id = $2', [
        workspaceId,
        id,
      ])
      const r = await client.query('DELETE FROM topics WHERE workspace_id = $1 AND topic_id = $2', [
        workspaceId,
        id,
      ])
      return r.rowCount === 1
    })
  }

  async subscriptions(workspaceId: string, userId: string): Promise<TopicSubscription[]> {
    const { rows } = await this.query<{
      topicId: string
      state: TopicSubscription['state']
      source: string
      at: string
    }>(
      `SELECT topic_id AS "topicId", state, source, at FROM topic_subscriptions
       WHERE workspace_id = $1 AND user_id = $2 ORDER BY topic_id`,
      [workspaceId, userId],
    )
    return rows.map((r) => ({ ...r, at: Number(r.at) }))
  }

  async setSubscription(workspaceId: string, userId: string, c: TopicSubscription): Promise<boolean> {
    const { count } = await this.query(
      `INSERT INTO topic_subscriptions (workspace_id, user_id, topic_id, state, source, at)
       SELECT workspace_id, $2, topic_id, $4, $5, $6 FROM topics WHERE workspace_id = $1 AND topic_id = $3
       ON CONFLICT (workspace_id, user_id, topic_id) DO UPDATE SET state = excluded.state,
         source = excluded.source, at = excluded.at
       WHERE topic_subscriptions.at <= excluded.at AND topic_subscriptions.state <> excluded.state`,
      [workspaceId, userId, c.topicId, c.state, c.source, c.at],
    )
    if (count === 0 && (await this.get(workspaceId, c.topicId)) === undefined) throw topicNotFound(c.topicId)
    return count === 1
  }

  async isUnsubscribed(workspaceId: string, userId: string, topicId: string): Promise<boolean> {
    const { count } = await this.query(
      // Left or pending; or never chosen on a double opt-in topic (active only once confirmed).
      `SELECT 1 WHERE COALESCE(
         (SELECT state <> 'subscribed' FROM topic_subscriptions
           WHERE workspace_id = $1 AND user_id = $2 AND topic_id = $3),
         (SELECT double_opt_in FROM topics WHERE workspace_id = $1 AND topic_id = $3),
         false)`,
      [workspaceId, userId, topicId],
    )
    return count > 0
  }
}
