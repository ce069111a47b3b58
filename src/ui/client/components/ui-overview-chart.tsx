/**
 * One overview card: a title, the latest value with its unit, a uPlot line chart, anomaly episodes
 * as shaded bands (drawn under the lines, from start to end or to now while open), and a text
 * summary for screen readers (a canvas is not readable). What was drawn is also written on the chart
 * element as data attributes (points, last and max value per series, the bands), which the browser
 * tests read instead of pixels.
 */
import 'uplot/dist/uPlot.min.css'
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

export interface ChartSeries {
  label: string
  /** One value per x (null: no data). */
  values: (number | null)[]
  color: string
}

export interface Band {
  id: string
  /** Epoch ms; end null while the episode lasts. */
  start: number
  end: number | null
}

export interface ChartProps {
  id: string
  title: string
  unit: string
  /** Epoch ms, ascending. */
  x: number[]
  series: ChartSeries[]
  /** The x range shown, epoch ms. */
  range: [number, number]
  bands: Band[]
  format: (v: number | null) => string
  /** Fixed y range (ratios); else from 0 to the data's maximum. */
  yMax?: number
  /** More text for the summary (e.g. the count over the window). */
  note?: string
  children?: preact.ComponentChildren
}

const lastOf = (values: (number | null)[]): number | null => {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]
    if (v !== null && v !== undefined) return v
  }
  return null
}
const maxOf = (values: (number | null)[]): number | null =>
  values.reduce<number | null>((m, v) => (v === null ? m : m === null ? v : Math.max(m, v)), null)

/** Whether series `si` has few enough measured points to draw each as a dot. */
const sparse = (u: uPlot, si: number): boolean =>
  ((u.data[si] ?? []) as (number | null | undefined)[]).filter((v) => v !== null && v !== undefined).length <=
  60

const BAND_FILL = 'rgba(164, 14, 38, 0.16)'

export function Chart(props: ChartProps) {
  const el = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const bands = useRef<Band[]>(props.bands)
  bands.current = props.bands
  const range = useRef(props.range)
  range.current = props.range

  const labels = props.series.map((s) => s.label).join('\u0000')
  // The plot is rebuilt only when its series change (labels); data updates go through setData below.
  useEffect(() => {
    const root = el.current
    if (!root) return
    const opts: uPlot.Options = {
      width: Math.max(root.clientWidth, 200),
      height: 170,
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [range.current[0] / 1000, range.current[1] / 1000] },
        y: {
          range: (_u, _min, max) => [0, props.yMax ?? (max > 0 ? max * 1.15 : 1)],
        },
      },
      axes: [
        { stroke: '#1b1f24', grid: { stroke: '#e1e4e8' } },
        {
          stroke: '#1b1f24',
          grid: { stroke: '#e1e4e8' },
          size: 56,
          values: (_u, ticks) => ticks.map((t) => props.format(t)),
        },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          // Quantiles and ratios are null where there was nothing to measure: join the measured
          // points, and draw them as dots while they are few (a lone point has no line to show it).
          spanGaps: true,
          points: { show: sparse, size: 5, fill: s.color },
        })),
      ],
      hooks: {
        drawClear: [
          (u) => {
            const { ctx, bbox } = u
            ctx.save()
            ctx.fillStyle = BAND_FILL
            const [min, max] = [range.current[0], range.current[1]]
            for (const b of bands.current) {
              const start = Math.max(b.start, min)
              const end = Math.min(b.end ?? max, max)
              if (end <= start) continue
              const x0 = u.valToPos(start / 1000, 'x', true)
              const x1 = u.valToPos(end / 1000, 'x', true)
              ctx.fillRect(x0, bbox.top, Math.max(x1 - x0, 2), bbox.height)
            }
            ctx.restore()
          },
        ],
        draw: [
          (u) => {
            // What was drawn, for tests: from the plot's own data, not from the props.
            const ys = u.data.slice(1) as (number | null)[][]
            root.dataset.drawnPoints = String(u.data[0]?.length ?? 0)
            root.dataset.drawnLast = JSON.stringify(ys.map(lastOf))
            root.dataset.drawnMax = JSON.stringify(ys.map(maxOf))
          },
        ],
      },
    }
    const u = new uPlot(opts, [[], ...props.series.map(() => [])], root)
    plot.current = u
    const resize = new ResizeObserver(() =>
      u.setSize({ width: Math.max(root.clientWidth, 200), height: 170 }),
    )
    resize.observe(root)
    return () => {
      resize.disconnect()
      u.destroy()
      plot.current = null
    }
  }, [labels])

  useEffect(() => {
    plot.current?.setData([props.x.map((t) => t / 1000), ...props.series.map((s) => s.values)])
  })

  const latest = props.series.map((s) => `${s.label} ${props.format(lastOf(s.values))}`).join(', ')
  const visible = props.bands.filter((b) => (b.end ?? props.range[1]) > props.range[0])
  const summary = [
    `${props.title}, latest: ${latest} ${props.unit}.`,
    props.note ?? '',
    visible.length > 0 ? `${visible.length} anomaly episode${visible.length > 1 ? 's' : ''} marked.` : '',
  ]
    .filter(Boolean)
    .join(' ')
  const first = props.series[0]
  return (
    <article class="ov-card" aria-labelledby={`ov-${props.id}-title`} data-chart={props.id}>
      <header class="ov-card-head">
        <h2 id={`ov-${props.id}-title`}>{props.title}</h2>
        <p class="ov-value">
          <span class="ov-latest" data-latest={first ? String(lastOf(first.values)) : ''}>
            {first ? props.format(lastOf(first.values)) : '—'}
          </span>{' '}
          <span class="ov-unit">{props.unit}</span>
        </p>
      </header>
      <div
        class="ov-chart"
        role="img"
        aria-label={summary}
        ref={el}
        data-bands={JSON.stringify(visible.map((b) => b.id))}
      />
      <ul class="ov-legend">
        {props.series.map((s) => (
          <li key={s.label}>
            <span class="ov-swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}: {props.format(lastOf(s.values))}
          </li>
        ))}
      </ul>
      <p class="ov-summary muted">{props.note}</p>
      {props.children}
    </article>
  )
}
