/** The TemplateStore seam suite over PostgreSQL (a peer is a second pool on the same schema). */
import { PgTemplateStore } from '../../src/content/pg-template-store.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { templateStoreSuite } from './template-store-suite.ts'

templateStoreSuite(
  'PgTemplateStore',
  async (clock) => {
    const schema = await freshSchema()
    const open = async () => {
      const store = new PgTemplateStore(schema.connect(2), { clock })
      await store.ready()
      return store
    }
    return { store: await open(), peer: open, close: () => schema.drop() }
  },
  { skip: await pgSkip() },
)
