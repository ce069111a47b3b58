/**
 * A campaign in its own process, so a test can SIGKILL it mid-send. Reads INK_CHILD_DATA_DIR,
 * INK_CHILD_SMTP_PORT, INK_CHILD_COUNT and INK_CHILD_RATE (and INK_CHILD_FAILPOINTS, armed in the
 * ledger; INK_CHILD_DATABASE_URL: the ledger is PgSendLedger there); prints the run summary as JSON when done.
 */
import { join } from 'node:path'
import { createApp } from '../../src/app.ts'
import { PgSendLedger } from '../../src/campaigns/pg-send-ledger.ts'
import { loadConfig } from '../../src/config.ts'
import { parseFailpoints } from '../../src/core/failpoints.ts'
import { openPg } from '../../src/db/pg.ts'
import { audience, buildCampaignPieces, PUBLIC_URL, putTemplate } from './campaign-fixture.ts'

const env = (name: string) => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const dataDir = env('INK_CHILD_DATA_DIR')
const app = await createApp(loadConfig({}, { dataDir, port: 0, logLevel: 'silent', publicUrl: PUBLIC_URL }), {
  processor: false,
})
await putTemplate(app, 'crash')
const failpoints = parseFailpoints(process.env.INK_CHILD_FAILPOINTS)
const databaseUrl = process.env.INK_CHILD_DATABASE_URL
const pool = databaseUrl === undefined ? undefined : openPg(databaseUrl, { max: 2 })
const pgLedger = pool === undefined ? undefined : new PgSendLedger(pool, { failpoints })
const pieces = buildCampaignPieces({
  app,
  smtpPort: Number(env('INK_CHILD_SMTP_PORT')),
  ledgerFile: join(dataDir, 'ledger.db'),
  failpoints,
  ...(pgLedger === undefined ? {} : { deps: { ledger: pgLedger } }),
})
const summary = await pieces.runner.run(app.workspace.id, {
  id: 'crash-campaign',
  templateId: 'crash',
  from: 'Shop <shop@example.com>',
  audience: audience('crash', Number(env('INK_CHILD_COUNT'))),
  vars: { greeting: 'Hello' },
  ratePerSecond: Number(env('INK_CHILD_RATE')),
})
await pieces.close()
await pgLedger?.close()
await pool?.end()
await app.close()
process.stdout.write(`${JSON.stringify(summary)}\n`)
