/**
 * The keys that sign tracking and unsubscribe links, kept in the store so links keep working
 * across restarts. The first start creates the first key (`firstTokenKey`). Rotation: add a newer
 * key (it signs from then on); old keys keep verifying until removed. Backends:
 * sqlite-token-keys.ts, pg-token-keys.ts; they read and insert rows, the rules are here.
 */
import { randomBytes } from 'node:crypto'

export interface TokenKeys {
  keys: Record<string, Buffer>
  currentKid: string
}

export interface TokenKeyRow {
  kid: string
  secret: Buffer
}

/** The key a store creates when it has none. */
export const firstTokenKey = (now: number) => ({
  kid: `k${now.toString(36)}`,
  secret: randomBytes(32),
  createdAt: now,
})

/** Every stored key verifies; the newest (rows in creation order) signs. */
export const tokenKeysFromRows = (rows: readonly TokenKeyRow[]): TokenKeys => ({
  keys: Object.fromEntries(rows.map((r) => [r.kid, r.secret])),
  currentKid: rows[rows.length - 1]!.kid,
})
