/** The token-key store suite over PostgreSQL: a location is a schema; each load is a new pool. */
import { loadPgTokenKeys } from '../../src/delivery/pg-token-keys.ts'
import { freshSchema, type PgSchema, pgSkip } from '../helpers/pg.ts'
import { tokenKeysSuite } from './token-keys-suite.ts'

const schemas = new Map<string, PgSchema>()
const schemaAt = (location: string) => {
  const schema = schemas.get(location)
  if (!schema) throw new Error(`no schema ${location}`)
  return schema
}

tokenKeysSuite(
  {
    name: 'PostgreSQL',
    load: (location, now) => loadPgTokenKeys(schemaAt(location).connect(1), now),
    async addKey(location, kid, secret, createdAt) {
      await schemaAt(location)
        .connect(1)
        .query('INSERT INTO token_keys (kid, secret, created_at) VALUES ($1, $2, $3)', [
          kid,
          secret,
          createdAt,
        ])
    },
    async location() {
      const schema = await freshSchema()
      schemas.set(schema.name, schema)
      return schema.name
    },
    async cleanup(location) {
      await schemas.get(location)?.drop()
      schemas.delete(location)
    },
  },
  { skip: await pgSkip() },
)
