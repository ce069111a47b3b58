/**
 * Helpers for the Prometheus tests: promtool (Debian's `prometheus` package; skipped with a reason
 * when absent, failed under INKSTREAM_REQUIRE_SERVICES=1) and a reader of the exposition format.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { missingService } from '../helpers/services.ts'

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool'

/** A skip reason when promtool is absent (throws instead under INKSTREAM_REQUIRE_SERVICES=1). */
export function promtoolMissing(): string | false {
  return missingService(
    'promtool',
    existsSync(PROMTOOL),
    `${PROMTOOL} not found (apt-get install prometheus)`,
  )
}

/** Runs promtool with `args` (and `input` on stdin); its exit status and everything it printed. */
export function promtool(
  args: string[],
  input?: string,
  cwd?: string,
): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { input, cwd, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() }
}

/**
 * The value of one sample in an exposition, `undefined` when there is none. `labels` must be all the
 * sample's labels (order does not matter): `sample(text, 'x_total', { kind: 'sent' })`.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got =
      (m[2] ?? '')
        .match(/\w+="(?:[^"\\]|\\.)*"/g)
        ?.sort()
        .join(',') ?? ''
    if (got === want) return Number(m[3])
  }
  return undefined
}

/** Every sample of a metric: its label set (as `k=v,k=v`, sorted) → value. */
export function samples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const key =
      (m[2] ?? '')
        .match(/\w+="(?:[^"\\]|\\.)*"/g)
        ?.map((p) => p.replace(/"/g, ''))
        .sort()
        .join(',') ?? ''
    out[key] = Number(m[3])
  }
  return out
}
