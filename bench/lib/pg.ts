/** A PostgreSQL database of its own for one scale-out benchmark run (DATABASE_URL or the local default). */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Creates `ink_bench_<random>`; returns its URL and drop() (which also ends its sessions). */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const database = `ink_bench_${randomBytes(5).toString('hex')}`
  await admin(`CREATE DATABASE ${database}`)
  const url = new URL(PG_URL)
  url.pathname = `/${database}`
  return { url: url.href, drop: () => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`) }
}
