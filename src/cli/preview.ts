/**
 * `inkstream preview <template> --user <id> [--delay source=ms] [--fail source] [--drop trait]
 *  [--profile-delay ms] [--deadline ms] [--version n] [--profile '{"first_name":"Ann"}'] [--html|--json]`
 * Renders like POST /v1/templates/:id/preview, in this process, against the same data folder.
 */
import { parseArgs } from 'node:util'
import { createApp } from '../app.ts'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'
import type { RenderResult } from '../render/render-email.ts'

function pairs(values: string[] | undefined, flag: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(v)
    if (!m) throw new InkError('INK_ERR_BAD_REQUEST', `${flag} takes source=milliseconds, got "${v}"`)
    out[m[1]!] = Number(m[2])
  }
  return out
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0)
    throw new InkError('INK_ERR_BAD_REQUEST', `${flag} takes a whole number, got "${v}"`)
  return n
}

export function formatReport(result: RenderResult): string {
  const r = result.report
  const lines = [
    `template ${r.templateId} v${r.version}: ${result.ok ? 'rendered' : result.skip ? `SKIPPED (${result.skip.type}: ${result.skip.reason})` : `FAILED (${result.error.message})`} in ${r.durationMs} ms (deadline ${r.deadlineMs} ms); profile: ${r.profile.outcome}`,
  ]
  for (const s of r.sources) {
    lines.push(
      `  source ${s.name}: ${s.outcome}${s.fromCache ? ' (cached)' : ''} in ${s.durationMs} ms${s.message ? ` — ${s.message}` : ''}`,
    )
  }
  const seen = new Set<string>()
  for (const f of r.fallbacks) {
    const key = `${f.placeholder}\n${f.reason}`
    if (seen.has(key)) continue
    seen.add(key)
    lines.push(
      `  fallback ${f.placeholder}: ${f.reason} → ${f.value === null ? '(nothing)' : JSON.stringify(f.value)} [${f.source}]`,
    )
  }
  if (r.fallbacks.length === 0) lines.push('  no fallbacks')
  return lines.join('\n')
}

export async function preview(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      user: { type: 'string' },
      profile: { type: 'string' },
      delay: { type: 'string', multiple: true },
      fail: { type: 'string', multiple: true },
      drop: { type: 'string', multiple: true },
      'profile-delay': { type: 'string' },
      deadline: { type: 'string' },
      version: { type: 'string' },
      html: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  })
  const templateId = positionals[0]
  if (!templateId)
    throw new InkError('INK_ERR_BAD_REQUEST', 'usage: inkstream preview <template> [--user <id>] …')
  let profile: Record<string, unknown> | undefined
  if (values.profile !== undefined) {
    try {
      profile = JSON.parse(values.profile)
    } catch {
      throw new InkError('INK_ERR_BAD_REQUEST', '--profile takes a JSON object')
    }
  }
  const app = await createApp({ ...config, logLevel: 'warn' }, { env: process.env, processor: false })
  try {
    const result = await app.renderer.render(app.workspace.id, {
      templateId,
      version: num(values.version, '--version'),
      userId: values.user,
      profile,
      deadlineMs: num(values.deadline, '--deadline'),
      faults: {
        delaySources: pairs(values.delay, '--delay'),
        failSources: values.fail,
        dropTraits: values.drop,
        profileDelayMs: num(values['profile-delay'], '--profile-delay'),
      },
    })
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    else {
      if (result.ok) {
        process.stdout.write(`Subject:   ${result.subject}\nPreheader: ${result.preheader}\n\n`)
        process.stdout.write(`${values.html ? result.html : result.text}\n\n`)
      }
      process.stdout.write(`${formatReport(result)}\n`)
    }
    return result.ok ? 0 : 1
  } finally {
    await app.close()
  }
}
