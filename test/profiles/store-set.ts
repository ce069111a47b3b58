/**
 * The stores the processor commits into together (profiles, segments, triggers), on one
 * database, for the seam suites; `peer()` opens a second set on the same database, as a second
 * process would.
 */

import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import type { BatchStore } from '../../src/pipeline/batch-store.ts'
import { PgBatchStore } from '../../src/pipeline/pg-batch-store.ts'
import { SqliteBatchStore } from '../../src/pipeline/sqlite-batch-store.ts'
import { PgProfileStore } from '../../src/profiles/pg-profile-store.ts'
import type { ProfileStore } from '../../src/profiles/profile-store.ts'
import { SqliteProfileStore } from '../../src/profiles/sqlite-profile-store.ts'
import { PgSegmentStore } from '../../src/segments/pg-segment-store.ts'
import type { SegmentIndex, SegmentStore } from '../../src/segments/segment-store.ts'
import { SqliteSegmentStore } from '../../src/segments/sqlite-segment-store.ts'
import { PgTriggerStore } from '../../src/triggers/pg-trigger-store.ts'
import { SqliteTriggerStore } from '../../src/triggers/sqlite-trigger-store.ts'
import type { TriggerStore } from '../../src/triggers/trigger-store.ts'
import { tempDir } from '../helpers/app.ts'
import { freshSchema } from '../helpers/pg.ts'

export interface StoreSet {
  /** The processor's commit seam. */
  profiles: BatchStore
  /** The read-only profile store the rest of the system reads, on the same database. */
  reads: ProfileStore
  segments: SegmentStore & SegmentIndex
  triggers: TriggerStore
}

export interface Stores extends StoreSet {
  /** Another set of stores on the same database, with its own connections. */
  peer(clock?: Clock): Promise<StoreSet>
  /** Closes every set and removes the database. */
  close(): Promise<void>
}

export type OpenStores = (clock: Clock) => Promise<Stores>

/** SQLite on a temporary file (a peer is a second connection to it). */
export const sqliteStores: OpenStores = async (clock) => {
  const dir = tempDir('inkstream-stores-')
  const dbs: ReturnType<typeof openSqlite>[] = []
  const open = (c: Clock): StoreSet => {
    const db = openSqlite(join(dir, 'store.db'), 'normal')
    dbs.push(db)
    return {
      profiles: new SqliteBatchStore(db, { clock: c }),
      reads: new SqliteProfileStore(db),
      segments: new SqliteSegmentStore(db, { clock: c }),
      triggers: new SqliteTriggerStore(db, { clock: c }),
    }
  }
  return {
    ...open(clock),
    peer: async (c = clock) => open(c),
    close: async () => {
      for (const db of dbs) db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** PostgreSQL in a fresh schema (a peer is a second pool on it). */
export const pgStores: OpenStores = async (clock) => {
  const schema = await freshSchema()
  const open = async (c: Clock): Promise<StoreSet> => {
    const pool = schema.connect()
    const set = {
      profiles: new PgBatchStore(pool, { clock: c }),
      reads: new PgProfileStore(pool),
      segments: new PgSegmentStore(pool, { clock: c }),
      triggers: new PgTriggerStore(pool, { clock: c }),
    }
    await Promise.all([set.profiles.ready(), set.reads.ready(), set.segments.ready(), set.triggers.ready()])
    return set
  }
  return {
    ...(await open(clock)),
    peer: (c = clock) => open(c),
    close: () => schema.drop(),
  }
}
