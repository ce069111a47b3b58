/**
 * `inkstream preview <template> --user <id> [--delay source=ms] [--fail source] [--drop trait]
 *  [--profile-delay ms] [--deadline ms] [--version n] [--profile '{"first_name":"Ann"}'] [--html|--json]
 *  [--url URL]`: POST /v1/templates/:id/preview on the running server (server-api.ts), printed for a
 * person (or the server's JSON with --json).
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'
import { type PreviewResult, previewResult } from './answers.ts'
import { type AdminKeyLookup, answerError, serverApi } from './server-api.ts'

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

export function formatReport(result: PreviewResult): string {
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

/**
 * Exit code 0 when the template rendered, and also when it skipped the recipient
 * (`{% abort_message %}`: an expected outcome, printed as SKIPPED); 1 when the render failed or the
 * server refused the request.
 */
export async function preview(config: Config, args: string[], adminKey: AdminKeyLookup): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
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
  let profile: unknown
  if (values.profile !== undefined) {
    try {
      profile = JSON.parse(values.profile)
    } catch {
      throw new InkError('INK_ERR_BAD_REQUEST', '--profile takes a JSON object')
    }
  }
  const faults = {
    delaySources: pairs(values.delay, '--delay'),
    failSources: values.fail,
    dropTraits: values.drop,
    profileDelayMs: num(values['profile-delay'], '--profile-delay'),
  }
  const { call, server } = serverApi(config, values.url, await adminKey())
  // JSON.stringify leaves out the options not given.
  const answer = await call('POST', `/v1/templates/${encodeURIComponent(templateId)}/preview`, {
    version: num(values.version, '--version'),
    userId: values.user,
    profile,
    deadlineMs: num(values.deadline, '--deadline'),
    faults,
  })
  const result = previewResult(answer, server)
  if (result === undefined) {
    process.stderr.write(`${answerError(answer)}\n`)
    return 1
  }
  if (values.json) process.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`)
  else {
    if (result.ok) {
      process.stdout.write(`Subject:   ${result.subject}\nPreheader: ${result.preheader}\n\n`)
      process.stdout.write(`${values.html ? result.html : result.text}\n\n`)
    } else if (result.skip)
      process.stdout.write(
        `Skipped:   no message for this recipient (${result.skip.type}: ${result.skip.reason})\n\n`,
      )
    process.stdout.write(`${formatReport(result)}\n`)
  }
  return result.ok || result.skip !== undefined ? 0 : 1
}
