/** The SendLedger seam suite over PostgreSQL (a peer is a second pool on the same schema). */
import { PgSendLedger } from '../../src/campaigns/pg-send-ledger.ts'
import type { Clock } from '../../src/core/types.ts'
import { freshSchema, pgSkip } from '../helpers/pg.ts'
import { sendLedgerSuite } from './send-ledger-suite.ts'

sendLedgerSuite(
  'PgSendLedger',
  async (clock: Clock) => {
    const schema = await freshSchema()
    const open = async () => {
      const ledger = new PgSendLedger(schema.connect(), { clock })
      await ledger.ready()
      return ledger
    }
    return { ledger: await open(), peer: open, close: () => schema.drop() }
  },
  { skip: await pgSkip() },
)
