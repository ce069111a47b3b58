/** Pieces the segments and campaigns pages share: progress bar, engagement stats, durations. */
import { num, pct } from '../ui.tsx'
import { type Campaign, handled, type Stats } from './ui-campaigns-types.ts'

/** "2 h 5 min", "30 s", "0 s" for a duration in ms. */
export function duration(ms: number): string {
  if (ms <= 0) return '0 s'
  const parts: string[] = []
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ]
  let rest = ms
  for (const [size, unit] of units) {
    const n = Math.floor(rest / size)
    if (n > 0) parts.push(`${n} ${unit}`)
    rest -= n * size
  }
  return parts.length > 0 ? parts.slice(0, 2).join(' ') : `${ms} ms`
}

/** A campaign's progress: a bar and "n of m" (recipients with an outcome of the audience's size). */
export function ProgressBar(props: { campaign: Campaign; label: string }) {
  const p = props.campaign.progress
  if (!p) return <span class="muted">—</span>
  const done = handled(p)
  const total = p.total
  return (
    <span class="uic-progress">
      {total !== undefined && total > 0 && (
        <progress value={Math.min(done, total)} max={total} aria-label={props.label} />
      )}
      <span class="uic-progress-text" data-progress={props.campaign.id}>
        {total === undefined ? `${num(done)} handled` : `${num(done)} of ${num(total)}`}
      </span>
    </span>
  )
}

/** The ledger's counts by state, the ones that are not zero. */
export function ProgressBreakdown(props: { campaign: Campaign }) {
  const p = props.campaign.progress
  if (!p) return null
  const rows: [string, number][] = [
    ['sent', p.sent],
    ['skipped', p.skipped],
    ['suppressed', p.suppressed],
    ['failed', p.failed],
    ['unknown', p.unknown],
    ['deferred (to retry)', p.deferred],
    ['sending now', p.sending],
  ]
  const shown = rows.filter(([, n]) => n > 0)
  return (
    <p class="uic-breakdown">
      {shown.length === 0 ? 'Nothing handled yet.' : shown.map(([k, n]) => `${num(n)} ${k}`).join(' · ')}
      {p.ratePerSecond !== undefined && ` · ${num(p.ratePerSecond, 2)} per second`}
      {p.etaMs !== undefined && ` · about ${duration(p.etaMs)} left`}
    </p>
  )
}

/** The engagement numbers of a campaign or trigger (GET …/stats `totals`). */
export function StatsList(props: { stats: Stats }) {
  const s = props.stats
  const items: [key: string, label: string, value: string][] = [
    ['sent', 'Sent', num(s.sent)],
    ['delivered', 'Delivered', num(s.delivered)],
    ['bounced', 'Bounced', num(s.bounced)],
    ['failed', 'Failed', num(s.failed)],
    ['opens', 'Opens (unique / total)', `${num(s.uniqueOpens)} / ${num(s.opens)}`],
    ['machineOpens', 'Machine opens (not counted)', num(s.machineOpens)],
    ['clicks', 'Clicks (unique / total)', `${num(s.uniqueClicks)} / ${num(s.clicks)}`],
    ['ctr', 'Click-through rate', pct(s.clickThroughRate)],
    ['ctor', 'Click-to-open rate', pct(s.clickToOpenRate)],
    ['unsubscribes', 'Unsubscribes', num(s.unsubscribes)],
    ['conversions', 'Conversions', num(s.conversions)],
    ['revenue', 'Revenue', num(s.revenue, 2)],
    ['fallback', 'Sends with a fallback', `${pct(s.fallbackUsage)} (${num(s.fallbackSends)})`],
  ]
  return (
    <dl class="uic-stats">
      {items.map(([key, label, value]) => (
        <div key={key}>
          <dt>{label}</dt>
          <dd data-stat={key}>{value}</dd>
        </div>
      ))}
    </dl>
  )
}
