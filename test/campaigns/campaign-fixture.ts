/** Builds a CampaignRunner from an app, an SMTP port and a ledger file; shared by the tests and the child. */

import type { App } from '../../src/app.ts'
import { CampaignRunner, type CampaignRunnerDeps } from '../../src/campaigns/campaign-runner.ts'
import { SqliteSendLedger } from '../../src/campaigns/sqlite-send-ledger.ts'
import type { Failpoints } from '../../src/core/failpoints.ts'
import { systemClock } from '../../src/core/types.ts'
import { openSqlite } from '../../src/db/sqlite.ts'
import { SmtpTransport } from '../../src/delivery/smtp-transport.ts'
import type { Transport } from '../../src/delivery/transport.ts'

export const TEMPLATE = {
  subject: '{{ campaign.greeting }}, {{ user_id }}',
  html: '<html><body><p>{{ campaign.greeting }}, {{ user_id }}!</p><a href="https://shop.example.com/sale">Sale</a></body></html>',
}

export const PUBLIC_URL = 'https://t.example.com'

/** Saves the campaign template through the HTTP API (identical content makes no new version). */
export async function putTemplate(app: App, id: string): Promise<void> {
  const res = await app.server.inject({
    method: 'PUT',
    url: `/v1/templates/${id}`,
    headers: { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify(TEMPLATE),
  })
  if (res.statusCode !== 200 && res.statusCode !== 201)
    throw new Error(`PUT template: ${res.statusCode} ${res.body}`)
}

export interface CampaignPieces {
  runner: CampaignRunner
  ledger: SqliteSendLedger
  transport: Transport
  close(): Promise<void>
}

export function buildCampaignPieces(opts: {
  app: App
  smtpPort: number
  ledgerFile: string
  wrapTransport?: (t: Transport) => Transport
  deps?: Partial<CampaignRunnerDeps>
  /** Fault points of the ledger (crash tests). */
  failpoints?: Failpoints
}): CampaignPieces {
  const db = openSqlite(opts.ledgerFile)
  const ledger = new SqliteSendLedger(db, opts.failpoints ? { failpoints: opts.failpoints } : {})
  const smtp = new SmtpTransport({
    host: '127.0.0.1',
    port: opts.smtpPort,
    secure: false,
    maxConnections: 1,
    messageIdDomain: 'mail.example.com',
  })
  const transport = opts.wrapTransport ? opts.wrapTransport(smtp) : smtp
  const runner = new CampaignRunner({
    ledger,
    renderer: opts.app.renderer,
    transport,
    suppressions: opts.app.suppressions,
    codec: opts.app.codec,
    publicUrl: () => opts.app.publicUrl,
    clock: systemClock,
    logger: { warn: () => {} },
    retryDelayMs: 20,
    ...opts.deps,
  })
  return {
    runner,
    ledger,
    transport,
    close: async () => {
      await smtp.close()
      await ledger.close()
      db.close()
    },
  }
}

export const audience = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ userId: `${prefix}-${i}`, email: `${prefix}-${i}@example.com` }))
