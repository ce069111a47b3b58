/**
 * The link-signing keys (see token-keys.ts) in PostgreSQL. Every process of a deployment must
 * sign with the same key, so the first key is created under an advisory lock: processes starting
 * together create exactly one.
 */
import { inTransaction, lockKey, migratePg, type PgPool } from '../db/pg.ts'
import { firstTokenKey, type TokenKeyRow, type TokenKeys, tokenKeysFromRows } from './token-keys.ts'

const MIGRATIONS = [
  `CREATE TABLE token_keys (kid text COLLATE "C" PRIMARY KEY, secret bytea NOT NULL, created_at bigint NOT NULL);`,
]

/** Loads every key; creates one if there is none. */
export async function loadPgTokenKeys(pool: PgPool, now = Date.now()): Promise<TokenKeys> {
  await migratePg(pool, 'pg-token-keys', MIGRATIONS)
  const rows = await inTransaction(
    pool,
    async (client) => {
      const read = async () =>
        (await client.query<TokenKeyRow>('SELECT kid, secret FROM token_keys ORDER BY created_at, kid')).rows
      const found = await read()
      if (found.length > 0) return found
      const k = firstTokenKey(now)
      await client.query('INSERT INTO token_keys (kid, secret, created_at) VALUES ($1, $2, $3)', [
        k.kid,
        k.secret,
        k.createdAt,
      ])
      return read()
    },
    `BEGIN; SELECT pg_advisory_xact_lock(${lockKey('inkstream.token-keys')})`,
  )
  return tokenKeysFromRows(rows)
}
