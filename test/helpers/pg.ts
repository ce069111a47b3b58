/**
 * PostgreSQL for the PG store tests: one probe per test file, and a fresh schema per database a
 * test opens, so test files can run one after another or in parallel without seeing each other.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { openPg, type PgPool } from '../../src/db/pg.ts'
import { missingService } from './services.ts'

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let probe: Promise<true | string> | undefined

/** False when PostgreSQL answers; else the skip reason (throws under INKSTREAM_REQUIRE_SERVICES=1). */
export async function pgSkip(): Promise<string | false> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true as const
    } catch (err) {
      return `${PG_URL}: ${err instanceof Error ? err.message : String(err)}`
    } finally {
      await client.end().catch(() => {})
    }
  })()
  const result = await probe
  return missingService('PostgreSQL', result === true, result === true ? '' : result)
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export interface PgSchema {
  name: string
  /** A new pool whose search_path is this schema (another process, as far as the stores know). */
  connect(max?: number): PgPool
  /** Ends every pool opened by connect() and drops the schema. */
  drop(): Promise<void>
}

/** Creates `ink_test_<random>`; drop() removes it with everything in it. */
export async function freshSchema(): Promise<PgSchema> {
  const name = `ink_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE SCHEMA ${name}`)
  const pools: PgPool[] = []
  return {
    name,
    connect(max = 4) {
      const pool = openPg(PG_URL, { max, options: `-c search_path=${name}` })
      pools.push(pool)
      return pool
    },
    async drop() {
      await Promise.all(pools.splice(0).map((p) => p.end()))
      await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
    },
  }
}

/** A database of its own (for tests that start server processes): its URL, and drop() to remove it. */
export async function freshDatabase(prefix = 'ink_e2e'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return { url: url.href, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {}) }
}
