/**
 * The alerts page (issue 13): the anomaly episodes of /v1/anomalies, open ones first then past
 * ones, each newest first, with the expected range, the observed value, the peak score and a link to
 * the series' chart on the overview.
 */
import '../styles/ui-overview.css'
import { type AlertView, overviewHref } from '../components/ui-overview-alerts.ts'
import type { PageProps } from '../pages.ts'
import { ErrorBox, Loading, num, Page, useGet, when } from '../ui.tsx'

const value = (v: number) => num(v, Math.abs(v) < 10 ? 4 : 2)

function AlertTable(props: { caption: string; id: string; state: 'active' | 'ended' }) {
  const { data, error } = useGet<{ anomalies: AlertView[] }>(
    `/v1/anomalies?state=${props.state}&limit=200`,
    15_000,
  )
  return (
    <section aria-labelledby={props.id}>
      <h2 id={props.id}>{props.caption}</h2>
      <ErrorBox error={error} />
      {data === undefined ? (
        error ? null : (
          <Loading />
        )
      ) : data.anomalies.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table class="al-table" data-state={props.state}>
          <thead>
            <tr>
              <th scope="col">Series</th>
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              <th scope="col">Expected range</th>
              <th scope="col">Observed</th>
              <th scope="col">Peak score</th>
            </tr>
          </thead>
          <tbody>
            {data.anomalies.map((a) => (
              <tr key={a.id} data-alert={a.id}>
                <td>
                  <a href={overviewHref(a.series)}>{a.series}</a>
                </td>
                <td>
                  <time dateTime={a.startedAt}>{when(a.startedAt)}</time>
                </td>
                <td>
                  {a.endedAt === null ? (
                    <span class="al-active">ongoing</span>
                  ) : (
                    <time dateTime={a.endedAt}>{when(a.endedAt)}</time>
                  )}
                </td>
                <td class="al-num" data-field="expected">
                  {value(a.expected.lower)} – {value(a.expected.upper)}
                </td>
                <td class="al-num" data-field="observed">
                  {value(a.observed)}
                </td>
                <td class="al-num" data-field="peak">
                  {num(a.peakScore, 1)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

export default function AlertsPage(_props: PageProps) {
  return (
    <Page title="Alerts">
      <p class="muted">
        Anomaly episodes of the per-minute series, found by the anomaly watcher. A series' link opens its
        chart on the overview.
      </p>
      <AlertTable caption="Open" id="alerts-open" state="active" />
      <AlertTable caption="Past" id="alerts-past" state="ended" />
    </Page>
  )
}
