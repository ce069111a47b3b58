/**
 * The overview page (issue 13): live charts of ingest, pipeline lag, render latency, connected
 * content by source, fallbacks, sends and engagement, from /ui/api/live (2 s samples where this
 * process runs every role, else per-minute rollups merged over instances), with the anomaly
 * episodes of /v1/anomalies shaded on the chart of their series.
 */
import '../styles/ui-overview.css'
import { useEffect } from 'preact/hooks'
import { type AlertView, chartOfSeries } from '../components/ui-overview-alerts.ts'
import { type Band, Chart, type ChartSeries } from '../components/ui-overview-chart.tsx'
import { type OverviewPoint, useLive } from '../components/ui-overview-live.ts'
import type { PageProps } from '../pages.ts'
import { href } from '../router.ts'
import { ErrorBox, num, Page, useGet } from '../ui.tsx'

const COLORS = ['#0b5cad', '#a40e26', '#116329', '#8250df', '#9a6700', '#1b7c83']

const rate = (v: number | null) => (v === null ? '—' : num(v, v < 10 ? 2 : 1))
const ms = (v: number | null) => (v === null ? '—' : num(v, v < 10 ? 2 : 0))
const percent = (v: number | null) => (v === null ? '—' : num(v, 1))
const sumOf = (points: OverviewPoint[], f: (p: OverviewPoint) => number) =>
  points.reduce((s, p) => s + f(p), 0)
const perSecond = (f: (p: OverviewPoint) => number) => (p: OverviewPoint) => f(p) / p.seconds
const toMs = (v: number | null) => (v === null ? null : v * 1000)
const ratio = (n: number, d: number) => (d > 0 ? (n / d) * 100 : null)

export default function OverviewPage(props: PageProps) {
  const live = useLive()
  const alerts = useGet<{ anomalies: AlertView[] }>('/v1/anomalies?limit=200', 15_000)
  const focus = props.route.query.get('series') ?? undefined
  const focusChart = focus === undefined ? undefined : chartOfSeries(focus)

  useEffect(() => {
    if (focusChart)
      document.querySelector(`[data-chart="${focusChart}"]`)?.scrollIntoView({ block: 'center' })
  }, [focusChart])

  const { points } = live
  const x = points.map((p) => p.t)
  const end = points.at(-1)?.t ?? Date.now()
  // A little room on the right: the newest point (often alone after a gap) is not cut by the edge.
  const range: [number, number] = [end - live.windowMs, end + live.windowMs / 60]
  const bandsFor = (chart: string): Band[] =>
    (alerts.data?.anomalies ?? [])
      .filter((a) => chartOfSeries(a.series) === chart)
      .map((a) => ({
        id: a.id,
        start: Date.parse(a.startedAt),
        end: a.endedAt === null ? null : Date.parse(a.endedAt),
      }))
  const line = (label: string, f: (p: OverviewPoint) => number | null, i: number): ChartSeries => ({
    label,
    values: points.map(f),
    color: COLORS[i % COLORS.length] ?? '#0b5cad',
  })
  const sources = [...new Set(points.flatMap((p) => Object.keys(p.cc)))].sort()
  const windowText =
    live.windowMs >= 3_600_000
      ? 'in the last hour'
      : `in the last ${Math.round(live.windowMs / 60_000)} minutes`
  const totals = {
    ingest: sumOf(points, (p) => p.ingest),
    renders: sumOf(points, (p) => p.renders),
    fallbacks: sumOf(points, (p) => p.fallbacks),
    sends: sumOf(points, (p) => p.sends),
    failures: sumOf(points, (p) => p.sendFailures),
    opens: sumOf(points, (p) => p.opens),
    clicks: sumOf(points, (p) => p.clicks),
  }
  const common = { x, range }
  const marked = (chart: string) => ({ bands: bandsFor(chart) })

  return (
    <Layout
      source={live.source}
      connected={live.connected}
      error={alerts.error}
      focus={focusChart}
      charts={[
        <Chart
          {...common}
          {...marked('ingest')}
          key="ingest"
          id="ingest"
          title="Ingest rate"
          unit="events/s"
          format={rate}
          series={[
            line(
              'accepted',
              perSecond((p) => p.ingest),
              0,
            ),
          ]}
          note={`${num(totals.ingest)} events accepted ${windowText}.`}
        >
          <span hidden data-window-total={totals.ingest} />
        </Chart>,
        <Chart
          {...common}
          {...marked('lag')}
          key="lag"
          id="lag"
          title="Pipeline lag"
          unit="ms"
          format={ms}
          series={[line('p50', (p) => toMs(p.lagP50), 0), line('p99', (p) => toMs(p.lagP99), 1)]}
          note="From an event's receipt to its profile change committed."
        />,
        <Chart
          {...common}
          {...marked('render')}
          key="render"
          id="render"
          title="Render latency"
          unit="ms"
          format={ms}
          series={[line('p50', (p) => toMs(p.renderP50), 0), line('p95', (p) => toMs(p.renderP95), 1)]}
          note={`${num(totals.renders)} renders ${windowText}.`}
        >
          <span hidden data-window-total={totals.renders} />
        </Chart>,
        <Chart
          {...common}
          {...marked('cc')}
          key={`cc:${sources.join(',')}`}
          id="cc"
          title="Connected-content success"
          unit="%"
          format={percent}
          yMax={100}
          series={
            sources.length === 0
              ? [line('all sources', () => null, 0)]
              : sources.map((s, i) =>
                  line(s, (p) => (p.cc[s] ? ratio(p.cc[s].success, p.cc[s].calls) : null), i),
                )
          }
          note={
            sources.length === 0
              ? `No connected-content calls ${windowText}.`
              : `Share of calls answered in time, by source (${sources.length}).`
          }
        />,
        <Chart
          {...common}
          {...marked('fallbacks')}
          key="fallbacks"
          id="fallbacks"
          title="Fallback rate"
          unit="% of renders"
          format={percent}
          series={[line('fallbacks', (p) => ratio(p.fallbacks, p.renders), 0)]}
          note={`${num(totals.fallbacks)} fallbacks in ${num(totals.renders)} renders ${windowText}.`}
        >
          <span hidden data-window-total={totals.fallbacks} />
        </Chart>,
        <Chart
          {...common}
          {...marked('sends')}
          key="sends"
          id="sends"
          title="Sends"
          unit="messages/s"
          format={rate}
          series={[
            line(
              'sent',
              perSecond((p) => p.sends),
              0,
            ),
            line(
              'failed',
              perSecond((p) => p.sendFailures),
              1,
            ),
          ]}
          note={`${num(totals.sends)} messages, ${num(totals.failures)} failed, ${windowText}.`}
        >
          <span hidden data-window-total={totals.sends} />
        </Chart>,
        <Chart
          {...common}
          {...marked('engagement')}
          key="engagement"
          id="engagement"
          title="Engagement"
          unit="per second"
          format={rate}
          series={[
            line(
              'opens',
              perSecond((p) => p.opens),
              0,
            ),
            line(
              'clicks',
              perSecond((p) => p.clicks),
              2,
            ),
          ]}
          note={`${num(totals.opens)} opens and ${num(totals.clicks)} clicks ${windowText} (machine opens left out).`}
        >
          <span hidden data-window-total={totals.opens + totals.clicks} />
        </Chart>,
      ]}
    />
  )
}

function Layout(props: {
  source: 'process' | 'rollups' | undefined
  connected: boolean
  error: unknown
  focus: string | undefined
  charts: preact.JSX.Element[]
}) {
  return (
    <Page title="Overview">
      <p class="ov-status muted" aria-live="polite">
        {props.source === undefined
          ? 'Connecting…'
          : props.source === 'process'
            ? `Live: updated every 2 s${props.connected ? '' : ' (reconnecting…)'}.`
            : 'This process does not run every role, so its own numbers are partial: the charts show the per-minute rollups of every instance, refreshed every 15 s.'}{' '}
        Shaded bands are anomaly episodes; <a href={href('alerts')}>see all alerts</a>.
      </p>
      <ErrorBox error={props.error} />
      <div class="ov-grid">
        {props.charts.map((c) => (
          <div key={c.key} class={`ov-cell${props.focus === c.props.id ? ' ov-focus' : ''}`}>
            {c}
          </div>
        ))}
      </div>
    </Page>
  )
}
