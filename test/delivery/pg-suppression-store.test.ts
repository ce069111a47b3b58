/** The SuppressionStore seam suite over PostgreSQL: a location is a schema, reopening is a new pool. */
import { PgSuppressionStore } from '../../src/delivery/pg-suppression-store.ts'
import { freshSchema, type PgSchema, pgSkip } from '../helpers/pg.ts'
import { suppressionStoreSuite } from './suppression-store-suite.ts'

const schemas = new Map<string, PgSchema>()

suppressionStoreSuite(
  {
    name: 'PgSuppressionStore',
    async open(location, clock) {
      const schema = schemas.get(location)
      if (!schema) throw new Error(`no schema ${location}`)
      const store = new PgSuppressionStore(schema.connect(2), { clock })
      await store.ready()
      return store
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
