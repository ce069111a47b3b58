/** The embedded TopicStore: two tables in the shared SQLite file. It does not own the database. */
import type { Clock } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import {
  type Topic,
  type TopicDraft,
  type TopicStore,
  type TopicSubscription,
  topicNotFound,
} from './topic-store.ts'

const MIGRATIONS = [
  `CREATE TABLE topics (
     workspace_id TEXT NOT NULL,
     topic_id TEXT NOT NULL,
     name TEXT NOT NULL,
     description TEXT NOT NULL,
     double_opt_in INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, topic_id)
   ) WITHOUT ROWID;
   CREATE TABLE topic_subscriptions (
     workspace_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     topic_id TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('subscribed', 'unsubscribed')),
     source TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, user_id, topic_id)
   ) WITHOUT ROWID;`,
  // Double opt-in: 'pending' until the person confirms. SQLite cannot alter a CHECK: rebuild the table.
  `CREATE TABLE topic_subscriptions_v2 (
     workspace_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     topic_id TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('subscribed', 'unsubscribed', 'pending')),
     source TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, user_id, topic_id)
   ) WITHOUT ROWID;
   INSERT INTO topic_subscriptions_v2 SELECT workspace_id, user_id, topic_id, state, source, at FROM topic_subscriptions;
   DROP TABLE topic_subscriptions;
   ALTER TABLE topic_subscriptions_v2 RENAME TO topic_subscriptions;`,
]

type TopicRow = {
  workspace_id: string
  topic_id: string
  name: string
  description: string
  double_opt_in: number
  created_at: number
  updated_at: number
}

const topicOf = (r: TopicRow): Topic => ({
  workspaceId: r.workspace_id,
  id: r.topic_id,
  name: r.name,
  description: r.description,
  doubleOptIn: r.double_opt_in === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

/** Creates the tables (the processor's batch store writes subscription states too). */
export function migrateSqliteTopics(db: SqliteDatabase): void {
  migrate(db, 'sqlite-topic-store', MIGRATIONS)
}

export class SqliteTopicStore implements TopicStore {
  readonly #s
  readonly #clock: Clock

  constructor(db: SqliteDatabase, opts: { clock?: Clock } = {}) {
    migrateSqliteTopics(db)
    this.#clock = opts.clock ?? systemClock
    this.#s = {
      list: db.prepare('SELECT * FROM topics WHERE workspace_id = ? ORDER BY topic_id'),
      get: db.prepare('SELECT * FROM topics WHERE workspace_id = ? AND topic_id = ?'),
      put: db.prepare(
        `INSERT INTO topics (workspace_id, topic_id, name, description, double_opt_in, created_at, updated_at)
         VALUES (@ws, @id, @name, @description, @doubleOptIn, @now, @now)
         ON CONFLICT (workspace_id, topic_id) DO UPDATE SET name = excluded.name,
           description = excluded.description, double_opt_in = excluded.double_opt_in, updated_at = excluded.updated_at
         RETURNING *`,
      ),
      remove: db.prepare('DELETE FROM topics WHERE workspace_id = ? AND topic_id = ?'),
      removeStates: db.prepare('DELETE FROM topic_subscriptions WHERE workspace_id = ? AND topic_id = ?'),
      subscriptions: db.prepare(
        `SELECT s.topic_id AS topicId, s.state, s.source, s.at FROM topic_subscriptions s
         WHERE s.workspace_id = ? AND s.user_id = ? ORDER BY s.topic_id`,
      ),
      // Only for a topic the workspace has; a change older than the stored one is ignored.
      set: db.prepare(
        `INSERT INTO topic_subscriptions (workspace_id, user_id, topic_id, state, source, at)
         SELECT workspace_id, @userId, topic_id, @state, @source, @at FROM topics
         WHERE workspace_id = @ws AND topic_id = @topicId
         ON CONFLICT (workspace_id, user_id, topic_id) DO UPDATE SET state = excluded.state,
           source = excluded.source, at = excluded.at
         WHERE topic_subscriptions.at <= excluded.at AND topic_subscriptions.state <> excluded.state`,
      ),
      unsubscribed: db
        .prepare(
          // Left or pending; or never chosen on a double opt-in topic (active only once confirmed).
          `SELECT COALESCE(
             (SELECT state <> 'subscribed' FROM topic_subscriptions
               WHERE workspace_id = @ws AND user_id = @user AND topic_id = @topic),
             (SELECT double_opt_in = 1 FROM topics WHERE workspace_id = @ws AND topic_id = @topic),
             0)`,
        )
        .pluck(),
    }
    const remove = this.#s.remove
    const removeStates = this.#s.removeStates
    this.#removeTx = db.transaction((ws: string, id: string) => {
      removeStates.run(ws, id)
      return remove.run(ws, id).changes === 1
    })
  }

  readonly #removeTx: (ws: string, id: string) => boolean

  async list(workspaceId: string): Promise<Topic[]> {
    return (this.#s.list.all(workspaceId) as TopicRow[]).map(topicOf)
  }

  async get(workspaceId: string, id: string): Promise<Topic | undefined> {
    const row = this.#s.get.get(workspaceId, id) as TopicRow | undefined
    return row && topicOf(row)
  }

  async put(workspaceId: string, id: string, d: TopicDraft): Promise<{ topic: Topic; created: boolean }> {
    const before = this.#s.get.get(workspaceId, id)
    const row = this.#s.put.get({
      ws: workspaceId,
      id,
      name: d.name,
      description: d.description,
      doubleOptIn: d.doubleOptIn ? 1 : 0,
      now: this.#clock.now(),
    }) as TopicRow
    return { topic: topicOf(row), created: before === undefined }
  }

  async remove(workspaceId: string, id: string): Promise<boolean> {
    return this.#removeTx(workspaceId, id)
  }

  async subscriptions(workspaceId: string, userId: string): Promise<TopicSubscription[]> {
    return this.#s.subscriptions.all(workspaceId, userId) as TopicSubscription[]
  }

  async setSubscription(workspaceId: string, userId: string, c: TopicSubscription): Promise<boolean> {
    const { changes } = this.#s.set.run({ ws: workspaceId, userId, ...c })
    if (changes === 0 && this.#s.get.get(workspaceId, c.topicId) === undefined) throw topicNotFound(c.topicId)
    return changes === 1
  }

  async isUnsubscribed(workspaceId: string, userId: string, topicId: string): Promise<boolean> {
    return this.#s.unsubscribed.get({ ws: workspaceId, user: userId, topic: topicId }) === 1
  }

  async close(): Promise<void> {}
}
