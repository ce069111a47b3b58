/** The SuppressionStore seam suite over SQLite, and the address normalisation every store uses. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SqliteSuppressionStore } from '../../src/delivery/sqlite-suppression-store.ts'
import { normalizeEmail } from '../../src/delivery/suppression-store.ts'
import { tempDir } from '../helpers/app.ts'
import { suppressionStoreSuite } from './suppression-store-suite.ts'

suppressionStoreSuite({
  name: 'SqliteSuppressionStore',
  async open(dir, clock) {
    const db = openSqlite(join(dir, 'store.db'))
    const store = new SqliteSuppressionStore(db, { clock })
    const close = store.close.bind(store)
    return Object.assign(store, {
      close: async () => {
        await close()
        db.close()
      },
    })
  },
  location: async () => tempDir('inkstream-suppressions-'),
  cleanup: async (dir) => rmSync(dir, { recursive: true, force: true }),
})

describe('normalizeEmail', () => {
  test('normalising is idempotent and keeps every generated address', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.constantFrom('', ' ', '\t'), (email, pad) => {
        const once = normalizeEmail(`${pad}${email}${pad}`)
        assert.ok(once !== undefined, email)
        assert.equal(normalizeEmail(once), once)
        assert.equal(normalizeEmail(email.toUpperCase()), once)
      }),
    )
  })

  test('international domains are stored in their ASCII form', () => {
    assert.equal(normalizeEmail('Jane@Bücher.Example'), 'jane@xn--bcher-kva.example')
  })
})
