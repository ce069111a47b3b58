/**
 * The embedded EventLog: one table in the same SQLite file as the store, one partition.
 * Offsets are the table's AUTOINCREMENT ids, so they only grow, also after retention deletes.
 */

import type { Statement } from 'better-sqlite3'
import { logUnavailable } from '../core/errors.ts'
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import type { Clock, InkEvent, LogRecord } from '../core/types.ts'
import { systemClock } from '../core/types.ts'
import type { SqliteDatabase } from '../db/sqlite.ts'
import { migrate } from '../db/sqlite.ts'
import type { BatchHandler, ConsumeOptions, Consumer, EncodedEvent, EventLog } from './event-log.ts'
import { GroupCommit } from './group-commit.ts'
import { handBatch } from './hand-batch.ts'
import type { LogRow } from './log-writer.ts'
import { type SerializedEvent, serializeEvents } from './serialize.ts'

const MIGRATIONS = [
  `CREATE TABLE log_events (
     offset INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     payload TEXT NOT NULL
   );
   CREATE TABLE log_consumer_offsets (group_id TEXT PRIMARY KEY, position INTEGER NOT NULL);`,
]

/** Creates the log's tables if needed (for connections that only write, such as the writer thread). */
export function ensureLogSchema(db: SqliteDatabase): void {
  migrate(db, 'sqlite-event-log', MIGRATIONS)
}

/** Offsets an erasure scans per statement (a few ms of json_extract), between yields of the thread. */
export const ERASE_CHUNK = 5_000

export interface SqliteEventLogOptions {
  clock?: Clock
  /** How often an idle consumer looks for events appended by another process. */
  pollMs?: number
  /** Consumed events older than this are deleted. */
  retentionMs?: number
  /** Called after each commit of appended events (e.g. to wake a consumer in another thread). */
  onAppend?: () => void
  /** Commits appends in another thread; without it, they commit on this connection. */
  writer?: { write(rows: readonly LogRow[]): Promise<void> }
  /** An event larger than this as JSON is refused (400) by its append; default 8 MiB. */
  maxRecordBytes?: number
  /** Fault points at the append and offset commits (tests); disarmed by default. */
  failpoints?: Failpoints
  /** Offsets an erasure scans per statement; default ERASE_CHUNK (tests make it small). */
  eraseChunk?: number
}

export class SqliteEventLog implements EventLog {
  readonly #commit: GroupCommit<SerializedEvent>
  readonly #maxRecordBytes: number
  readonly #failpoints: Failpoints
  readonly #waiters = new Set<() => void>()
  readonly #consumers = new Set<Consumer>()
  readonly #retentionTimer: NodeJS.Timeout
  readonly #stmts
  readonly #clock: Clock
  readonly #pollMs: number
  readonly #eraseChunk: number
  readonly #db: SqliteDatabase
  /** eraseEventsByHash's statement and the hash function it was made with (on first use). */
  #eraseByHash: Statement | undefined
  #hashOf: ((workspaceId: string, id: string) => string) | undefined
  /** Position commits that found the database locked (and were retried at the next commit point). */
  busyPositionCommits = 0
  #closed = false

  constructor(db: SqliteDatabase, opts: SqliteEventLogOptions = {}) {
    this.#clock = opts.clock ?? systemClock
    this.#pollMs = opts.pollMs ?? 200
    this.#eraseChunk = opts.eraseChunk ?? ERASE_CHUNK
    this.#db = db
    this.#maxRecordBytes = opts.maxRecordBytes ?? 8 * 1024 * 1024
    ensureLogSchema(db)
    this.#stmts = {
      insert: db.prepare(
        'INSERT INTO log_events (workspace_id, message_id, received_at, payload) VALUES (?, ?, ?, ?)',
      ),
      read: db.prepare('SELECT offset, payload FROM log_events WHERE offset > ? ORDER BY offset LIMIT ?'),
      position: db.prepare('SELECT position FROM log_consumer_offsets WHERE group_id = ?').pluck(),
      commit: db.prepare(
        'INSERT INTO log_consumer_offsets (group_id, position) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET position = excluded.position',
      ),
      head: db.prepare('SELECT coalesce(max(offset), 0) FROM log_events').pluck(),
      first: db.prepare('SELECT min(offset) FROM log_events').pluck(),
      minPosition: db.prepare('SELECT min(position) FROM log_consumer_offsets').pluck(),
      prune: db.prepare('DELETE FROM log_events WHERE offset <= ? AND received_at < ?'),
      erase: db.prepare(
        `DELETE FROM log_events WHERE offset > @from AND offset <= @to AND workspace_id = @ws AND (
           json_extract(payload, '$.userId') IN (SELECT value FROM json_each(@ids))
           OR json_extract(payload, '$.anonymousId') IN (SELECT value FROM json_each(@ids))
           OR json_extract(payload, '$.previousId') IN (SELECT value FROM json_each(@ids)))`,
      ),
    }
    const insertAll = db.transaction((events: readonly SerializedEvent[]) => {
      for (const e of events) this.#stmts.insert.run(e.workspaceId, e.messageId, e.receivedAt, e.json)
    })
    const appended = () => {
      this.#wake()
      opts.onAppend?.()
    }
    const writer = opts.writer
    const failpoints = opts.failpoints ?? noFailpoints
    this.#failpoints = failpoints
    this.#commit = new GroupCommit(
      writer === undefined
        ? (events) => {
            const hang = failpoints.hit('log.append.before-commit')
            if (hang) return hang
            try {
              insertAll(events)
            } catch (err) {
              throw logUnavailable(err)
            }
            const hung = failpoints.hit('log.append.after-commit')
            if (hung) return hung
            appended()
            return undefined
          }
        : async (events) => {
            const rows = events.map((e): LogRow => [e.workspaceId, e.messageId, e.receivedAt, e.json])
            await failpoints.hit('log.append.before-commit')
            try {
              await writer.write(rows)
            } catch (err) {
              throw logUnavailable(err)
            }
            await failpoints.hit('log.append.after-commit')
            appended()
          },
    )
    const retentionMs = opts.retentionMs ?? 7 * 24 * 3600_000
    this.#retentionTimer = setInterval(() => this.prune(retentionMs), Math.min(retentionMs, 600_000)).unref()
  }

  append(events: readonly (InkEvent | EncodedEvent)[]): Promise<void> {
    if (this.#closed) return Promise.reject(logUnavailable(new Error('event log is closed')))
    if (events.length === 0) return Promise.resolve()
    let rows: SerializedEvent[]
    try {
      rows = serializeEvents(events, this.#maxRecordBytes)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#commit.add(rows)
  }

  /**
   * Deletes every event of the workspace naming one of `ids` as its userId, anonymousId or previousId
   * (an erasure, src/privacy/); answers how many. Offsets are AUTOINCREMENT ids read as `offset >
   * position`: a deleted row is never reused nor re-read, and no consumer skips the rows around it.
   * It scans the log (a few days of events, by the retention; ingest pays nothing for an index) in
   * ranges of `eraseChunk` offsets, yielding between them, so the thread it runs on (the HTTP one)
   * is never blocked for more than a chunk. Rows appended while it runs are scanned too, up to the
   * head it finds at its last chunk; a later event of the ids is the processors' to drop (tombstones).
   */
  async eraseEvents(workspaceId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0
    return this.#eraseInChunks(this.#stmts.erase, { ws: workspaceId, ids: JSON.stringify(ids) })
  }

  /**
   * The same, for identities known only by their hashes (an erasure's tombstones: the store never
   * keeps the ids), `hashOf(workspaceId, id)` being how they were hashed: what finishes an erasure
   * that a crash interrupted before its log copies were deleted (src/privacy/erasure-resume.ts). Each
   * event's ids are hashed as the scan reaches them, so it costs more per row than eraseEvents.
   */
  async eraseEventsByHash(
    workspaceId: string,
    idHashes: readonly string[],
    hashOf: (workspaceId: string, id: string) => string,
  ): Promise<number> {
    if (idHashes.length === 0) return 0
    if (this.#eraseByHash === undefined) {
      // A function of this connection: SQLite calls it for the rows of the workspace in the range.
      this.#db.function('inkstream_id_hash', { deterministic: true }, (ws: unknown, id: unknown) =>
        typeof ws === 'string' && typeof id === 'string' ? hashOf(ws, id) : null,
      )
      this.#hashOf = hashOf
      this.#eraseByHash = this.#db.prepare(
        `DELETE FROM log_events WHERE offset > @from AND offset <= @to AND workspace_id = @ws AND (
           inkstream_id_hash(workspace_id, json_extract(payload, '$.userId')) IN (SELECT value FROM json_each(@ids))
           OR inkstream_id_hash(workspace_id, json_extract(payload, '$.anonymousId')) IN (SELECT value FROM json_each(@ids))
           OR inkstream_id_hash(workspace_id, json_extract(payload, '$.previousId')) IN (SELECT value FROM json_each(@ids)))`,
      )
    } else if (this.#hashOf !== hashOf) throw new Error('eraseEventsByHash: one hash function per log')
    return this.#eraseInChunks(this.#eraseByHash, { ws: workspaceId, ids: JSON.stringify(idHashes) })
  }

  async #eraseInChunks(stmt: Statement, params: { ws: string; ids: string }): Promise<number> {
    let erased = 0
    let from = ((this.#stmts.first.get() as number | null) ?? 1) - 1
    while (from < (this.#stmts.head.get() as number)) {
      const to = from + this.#eraseChunk
      erased += stmt.run({ ...params, from, to }).changes
      from = to
      await new Promise((r) => setImmediate(r))
    }
    return erased
  }

  /** Deletes events every consumer group has passed and that are older than the retention. */
  prune(retentionMs: number): number {
    const min = this.#stmts.minPosition.get() as number | null
    if (min === null) return 0
    return this.#stmts.prune.run(min, this.#clock.now() - retentionMs).changes
  }

  consume(group: string, handler: BatchHandler, opts: ConsumeOptions = {}): Consumer {
    const maxBatch = opts.maxBatch ?? 1000
    const lingerMs = opts.lingerMs ?? 0
    const commitIntervalMs = opts.commitIntervalMs ?? 0
    let stopped = false
    let assigned = false
    let committed = 0
    let lastCommit = 0
    let wakeUp: (() => void) | undefined
    const loop = async () => {
      let position = (this.#stmts.position.get(group) as number | undefined) ?? 0
      while (!stopped) {
        const readAt = performance.now()
        const rows = this.#stmts.read.all(position, maxBatch) as { offset: number; payload: string }[]
        if (rows.length === 0) {
          if (position > committed && this.#storePosition(group, position)) {
            committed = position
            lastCommit = Date.now()
          }
          await this.#waitForAppend((w) => {
            wakeUp = w
          })
          continue
        }
        const records: LogRecord[] = rows.map((r) => ({
          partition: 0,
          offset: r.offset,
          event: JSON.parse(r.payload),
        }))
        // One consumer owns the one partition: assigned once, before the first batch.
        const handled = await handBatch(records, handler, opts, {
          failpoints: this.#failpoints,
          reassigned: !assigned,
          assigned: () => {
            assigned = true
          },
        })
        if (!handled) continue
        position = rows[rows.length - 1]!.offset
        if (Date.now() - lastCommit >= commitIntervalMs && this.#storePosition(group, position)) {
          committed = position
          lastCommit = Date.now()
        }
        // The handler's awaits may all be on settled promises: yield so a backlog being drained
        // does not starve HTTP requests (and start-up) until the log is empty.
        const linger = rows.length < maxBatch ? lingerMs - (performance.now() - readAt) : 0
        if (linger >= 1) await new Promise((r) => setTimeout(r, linger))
        else await new Promise((r) => setImmediate(r))
      }
      if (position > committed) this.#storePosition(group, position)
    }
    const done = loop()
    const consumer: Consumer = {
      close: async () => {
        stopped = true
        wakeUp?.()
        await done
        this.#consumers.delete(consumer)
      },
    }
    this.#consumers.add(consumer)
    return consumer
  }

  /**
   * Stores a group's position; false when another connection (the writer thread, a CLI command, a
   * checkpoint) held the write lock past busy_timeout. That is no reason to stop consuming, nor to
   * crash the process (this runs outside any request): the caller keeps its position in memory and
   * stores it at its next commit point. Positions only move forward, and a batch delivered again
   * after a crash in between is deduplicated by its consumer, as after any crash before a commit.
   */
  #storePosition(group: string, position: number): boolean {
    try {
      this.#stmts.commit.run(group, position)
      return true
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err
      this.busyPositionCommits++
      return false
    }
  }

  async lag(group: string): Promise<number> {
    const head = this.#stmts.head.get() as number
    const position = (this.#stmts.position.get(group) as number | undefined) ?? 0
    return Math.max(0, head - position)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#retentionTimer)
    await this.#commit.drain()
    await Promise.all([...this.#consumers].map((c) => c.close()))
  }

  /** Wakes idle consumers now: another connection (thread or process) appended events. */
  notify(): void {
    this.#wake()
  }

  #wake(): void {
    for (const w of this.#waiters) w()
    this.#waiters.clear()
  }

  #waitForAppend(expose: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, this.#pollMs)
      this.#waiters.add(done)
      expose(done)
    })
  }
}
