/**
 * `inkstream send <campaign-id> [--url URL] [--interval ms]`: starts (or resumes) a campaign on the
 * running server through its HTTP API, then shows a one-line progress bar on stderr until it ends.
 * The server is --url, else INKSTREAM_URL, else http://INKSTREAM_HOST:INKSTREAM_PORT.
 * Exit code 0 when the campaign is done, 1 when it failed, paused or was cancelled (or the server
 * cannot be reached); a paused campaign resumes with the same command.
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'
import { type AdminKeyLookup, answerError, serverApi } from './server-api.ts'

interface CampaignView {
  id: string
  state: 'draft' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled'
  error: string | null
  reason?: string | null
  progress: {
    sent: number
    failed: number
    suppressed: number
    skipped: number
    unknown: number
    sending: number
    total?: number
    remaining?: number
    ratePerSecond?: number
    etaMs?: number
  }
}

const STATES: readonly unknown[] = ['draft', 'running', 'paused', 'done', 'failed', 'cancelled']
const COUNTS = ['sent', 'failed', 'suppressed', 'skipped', 'unknown', 'sending'] as const
const OPTIONAL = ['total', 'remaining', 'ratePerSecond', 'etaMs'] as const
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** What is wrong with a GET /v1/campaigns/:id reply, or undefined when it is a CampaignView. */
export function campaignViewProblem(body: unknown): string | undefined {
  if (!isRecord(body)) return 'it is not a JSON object'
  if (typeof body.id !== 'string') return '"id" is not a string'
  if (!STATES.includes(body.state)) return `"state" is not one of ${STATES.join(', ')}`
  if (body.error !== null && typeof body.error !== 'string') return '"error" is neither a string nor null'
  const p = body.progress
  if (!isRecord(p)) return '"progress" is not an object'
  for (const k of COUNTS) if (typeof p[k] !== 'number') return `"progress.${k}" is not a number`
  for (const k of OPTIONAL)
    if (p[k] !== undefined && typeof p[k] !== 'number') return `"progress.${k}" is not a number`
  return undefined
}

const isCampaignView = (body: unknown): body is CampaignView => campaignViewProblem(body) === undefined

const duration = (ms: number): string => {
  const s = Math.round(ms / 1000)
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${s % 60}s`
      : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

export function progressLine(c: CampaignView, width = 24): string {
  const p = c.progress
  const handled = p.sent + p.failed + p.suppressed + p.skipped + p.unknown
  const total = p.total ?? handled
  const filled = total === 0 ? width : Math.min(width, Math.round((handled / total) * width))
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`,
    `${handled}/${total}`,
    `sent ${p.sent}`,
    `failed ${p.failed}`,
    `remaining ${p.remaining ?? Math.max(total - handled, 0)}`,
  ]
  for (const k of ['suppressed', 'skipped', 'unknown'] as const) if (p[k] > 0) parts.push(`${k} ${p[k]}`)
  if (p.ratePerSecond !== undefined) parts.push(`${p.ratePerSecond.toFixed(1)}/s`)
  if (p.etaMs !== undefined && c.state === 'running') parts.push(`ETA ${duration(p.etaMs)}`)
  return `${c.id} ${c.state} ${parts.join('  ')}`
}

/**
 * `adminKey`: INKSTREAM_ADMIN_KEY, else the one in the local data folder; undefined when neither
 * exists (said plainly, before any request).
 */
export async function send(config: Config, args: string[], adminKey: AdminKeyLookup): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { interval: { type: 'string' }, url: { type: 'string' } },
  })
  const id = positionals[0]
  if (!id) throw new InkError('INK_ERR_BAD_REQUEST', 'usage: inkstream send <campaign-id> [--url URL]')
  const api = serverApi(config, values.url, await adminKey())
  const { call } = api
  const interval = Math.max(Number(values.interval ?? 500) || 500, 50)
  const path = `/v1/campaigns/${encodeURIComponent(id)}`
  const started = await call('POST', `${path}/start`)
  if (started.status !== 202 && started.body.code !== 'INK_ERR_CAMPAIGN_RUNNING') {
    process.stderr.write(`${answerError(started)}\n`)
    return 1
  }
  const tty = process.stderr.isTTY === true
  for (;;) {
    const got = await call('GET', path)
    if (got.status !== 200) {
      process.stderr.write(`\n${answerError(got)}\n`)
      return 1
    }
    const c = got.body
    if (!isCampaignView(c))
      throw new InkError(
        'INK_ERR_SERVER_UNREACHABLE',
        `the server at ${api.server} answered GET ${path} with something that is not a campaign (${campaignViewProblem(c)}); check that --url or INKSTREAM_URL names an Inkstream server of the same version`,
      )
    const line = progressLine(c)
    const finished = c.state !== 'draft' && c.state !== 'running'
    if (tty) process.stderr.write(`\r\x1b[2K${line}`)
    else if (finished) process.stderr.write(line)
    if (finished) {
      const why = c.state === 'failed' ? (c.error ?? 'unknown error') : c.reason
      process.stderr.write(c.state === 'done' ? '\n' : `\n${c.state}: ${why ?? ''}\n`)
      return c.state === 'done' ? 0 : 1
    }
    await new Promise((r) => setTimeout(r, interval))
  }
}
