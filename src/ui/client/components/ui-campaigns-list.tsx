/** The campaigns list: name, template, audience, state, progress and creation time of each. */
import { useEffect, useState } from 'preact/hooks'
import { href } from '../router.ts'
import { ErrorBox, Loading, useGet, when } from '../ui.tsx'
import { NewCampaignForm } from './ui-campaigns-form.tsx'
import { ProgressBar } from './ui-campaigns-parts.tsx'
import { audienceText, type Campaign } from './ui-campaigns-types.ts'

/** Faster while one of them is sending. */
const RUNNING_REFRESH_MS = 1000
const IDLE_REFRESH_MS = 10_000

export function StateBadge(props: { state: Campaign['state'] }) {
  return (
    <span class={`uic-state uic-state-${props.state}`} data-state>
      {props.state}
    </span>
  )
}

export function CampaignList() {
  const [fast, setFast] = useState(false)
  const { data, error } = useGet<{ campaigns: Campaign[] }>(
    '/v1/campaigns?progress=true',
    fast ? RUNNING_REFRESH_MS : IDLE_REFRESH_MS,
  )
  useEffect(() => {
    setFast(data?.campaigns.some((c) => c.state === 'running') ?? false)
  }, [data])
  const [showForm, setShowForm] = useState(false)
  if (error && !data) return <ErrorBox error={error} />
  if (!data) return <Loading />
  const campaigns = [...data.campaigns].sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
  return (
    <>
      <div class="uic-toolbar">
        <button
          type="button"
          class="primary"
          aria-expanded={showForm}
          aria-controls="uic-new"
          onClick={() => setShowForm(!showForm)}
        >
          New campaign
        </button>
      </div>
      {showForm && (
        <div id="uic-new">
          <NewCampaignForm existing={data.campaigns.map((c) => c.id)} />
        </div>
      )}
      <ErrorBox error={error} />
      {campaigns.length === 0 ? (
        <p class="muted">No campaigns yet.</p>
      ) : (
        <table class="uic-table" aria-label="Campaigns">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Template</th>
              <th scope="col">Audience</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {campaigns.map((c) => (
              <tr key={c.id} data-campaign={c.id}>
                <td>
                  <a href={href('campaigns', c.id)}>{c.name}</a>
                  <div class="muted uic-small">
                    <code>{c.id}</code>
                  </div>
                </td>
                <td>
                  <a href={href('templates', c.templateId)}>{c.templateId}</a>
                  {c.templateVersion !== null && ` v${c.templateVersion}`}
                </td>
                <td>{audienceText(c.audience)}</td>
                <td>
                  <StateBadge state={c.state} />
                </td>
                <td>
                  <ProgressBar campaign={c} label={`Progress of ${c.name}`} />
                </td>
                <td>{when(new Date(c.createdAt).toISOString())}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
