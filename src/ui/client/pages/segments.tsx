/**
 * Segments & triggers (issue 13): every segment with its definition and member count (GET
 * /v1/segments/:id/count, read from the membership rows), every trigger with what starts it, its
 * template, delay and engagement (GET /v1/triggers/:id/stats).
 */
import '../styles/ui-campaigns.css'
import { duration } from '../components/ui-campaigns-parts.tsx'
import type { Segment, SegmentCount, StatsAnswer, Trigger } from '../components/ui-campaigns-types.ts'
import type { PageProps } from '../pages.ts'
import { href } from '../router.ts'
import { ErrorBox, Loading, num, Page, useGet, when } from '../ui.tsx'

/** Counts move with the profiles; faster while the membership of a new version is being computed. */
const COUNT_REFRESH_MS = 30_000
const BACKFILL_REFRESH_MS = 2000
const STATS_REFRESH_MS = 10_000

const seg = (id: string) => encodeURIComponent(id)

function MemberCount(props: { segment: Segment }) {
  const { id, backfilled } = props.segment
  const refresh = backfilled ? COUNT_REFRESH_MS : BACKFILL_REFRESH_MS
  const { data, error } = useGet<SegmentCount>(`/v1/segments/${seg(id)}/count`, refresh)
  if (error) return <ErrorBox error={error} />
  if (!data) return <span class="muted">…</span>
  return (
    <span data-count={id}>
      {data.capped ? `more than ${num(data.count)}` : num(data.count)}
      {!data.backfilled && <span class="muted"> (still being computed)</span>}
    </span>
  )
}

function SegmentsTable() {
  const { data, error } = useGet<{ segments: Segment[] }>('/v1/segments', COUNT_REFRESH_MS)
  if (error) return <ErrorBox error={error} />
  if (!data) return <Loading />
  if (data.segments.length === 0)
    return <p class="muted">No segments yet. Create one with PUT /v1/segments/:id.</p>
  return (
    <table class="uic-table" aria-labelledby="segments-title">
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">Name</th>
          <th scope="col">Definition</th>
          <th scope="col">Version</th>
          <th scope="col" class="uic-num">
            Members
          </th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {data.segments.map((s) => (
          <tr key={s.id} data-segment={s.id}>
            <td>
              <code>{s.id}</code>
            </td>
            <td>{s.name}</td>
            <td>
              <pre class="uic-json">{JSON.stringify(s.condition, null, 2)}</pre>
            </td>
            <td class="uic-num">{s.version}</td>
            <td class="uic-num">
              <MemberCount segment={s} />
            </td>
            <td>{when(s.updatedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function TriggerStats(props: { id: string }) {
  const { data, error } = useGet<StatsAnswer>(`/v1/triggers/${seg(props.id)}/stats`, STATS_REFRESH_MS)
  if (error) return <ErrorBox error={error} />
  if (!data) return <span class="muted">…</span>
  const t = data.totals
  return (
    <span data-trigger-stats={props.id}>
      {num(t.sent)} sent · {num(t.uniqueOpens)} opened · {num(t.uniqueClicks)} clicked
    </span>
  )
}

function startsWith(t: Trigger): string {
  const unless = t.unless ? `, unless “${t.unless.event}” follows within ${duration(t.unless.withinMs)}` : ''
  const segment = t.segment ? `; members of ${t.segment} only` : ''
  return `“${t.event}”${unless}${segment}`
}

function TriggersTable() {
  const { data, error } = useGet<{ triggers: Trigger[] }>('/v1/triggers')
  if (error) return <ErrorBox error={error} />
  if (!data) return <Loading />
  if (data.triggers.length === 0)
    return <p class="muted">No triggers yet. Create one with PUT /v1/triggers/:id.</p>
  return (
    <table class="uic-table" aria-labelledby="triggers-title">
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">Event and condition</th>
          <th scope="col">Template</th>
          <th scope="col">Delay</th>
          <th scope="col">Frequency cap</th>
          <th scope="col">Engagement</th>
        </tr>
      </thead>
      <tbody>
        {data.triggers.map((t) => (
          <tr key={t.id} data-trigger={t.id}>
            <td>
              <code>{t.id}</code>
            </td>
            <td>{startsWith(t)}</td>
            <td>
              <a href={href('templates', t.templateId)}>{t.templateId}</a>
            </td>
            <td>{t.delayMs === 0 ? 'none' : duration(t.delayMs)}</td>
            <td>{t.frequencyCap ? `${t.frequencyCap.max} per ${duration(t.frequencyCap.perMs)}` : 'none'}</td>
            <td>
              <TriggerStats id={t.id} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export default function SegmentsPage(_props: PageProps) {
  return (
    <Page title="Segments & triggers">
      <section class="uic-section" aria-labelledby="segments-title">
        <h2 id="segments-title">Segments</h2>
        <SegmentsTable />
      </section>
      <section class="uic-section" aria-labelledby="triggers-title">
        <h2 id="triggers-title">Triggers</h2>
        <p class="muted">Every stored trigger is active: delete it to stop it.</p>
        <TriggersTable />
      </section>
    </Page>
  )
}
