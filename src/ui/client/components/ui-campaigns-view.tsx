/**
 * One campaign: its definition, start / pause / resume / cancel, progress that follows the send
 * while it runs (GET /v1/campaigns/:id about every second, each poll after the previous answer),
 * and its engagement (GET /v1/campaigns/:id/stats).
 */
import { useEffect, useState } from 'preact/hooks'
import { get, post } from '../api.ts'
import { href } from '../router.ts'
import { ErrorBox, Loading, num, useGet, when } from '../ui.tsx'
import { StateBadge } from './ui-campaigns-list.tsx'
import { ProgressBar, ProgressBreakdown, StatsList } from './ui-campaigns-parts.tsx'
import { Recipients } from './ui-campaigns-recipients.tsx'
import { audienceText, type Campaign, type StatsAnswer } from './ui-campaigns-types.ts'

/** While running: how long after an answer the next poll starts. */
export const POLL_MS = 1000
/** Stats come from the analytics consumer, a little after the sends: polled while shown. */
const STATS_RUNNING_MS = 1000
const STATS_IDLE_MS = 3000

/** Polls after an action even when it stopped the run: a poll already on its way may answer older counts. */
const POLLS_AFTER_ACTION = 2

/** The campaign, polled while it runs; `set` takes the answer of an action. */
function useCampaign(id: string) {
  const [campaign, setCampaign] = useState<Campaign>()
  const [error, setError] = useState<unknown>()
  const [tick, setTick] = useState(0)
  const [followUps, setFollowUps] = useState(0)
  useEffect(() => {
    let live = true
    get<Campaign>(`/v1/campaigns/${encodeURIComponent(id)}`).then(
      (c) => {
        if (!live) return
        setCampaign(c)
        setError(undefined)
      },
      (e) => live && setError(e),
    )
    return () => {
      live = false
    }
  }, [id, tick])
  // Each answer (or action) while running, or just after an action, schedules the next poll.
  useEffect(() => {
    // A paused run ends after its sends in flight: polled until none is left.
    const inFlight = (campaign?.progress?.sending ?? 0) > 0
    if (campaign?.state !== 'running' && !inFlight && followUps === 0) return
    const timer = setTimeout(() => {
      setFollowUps((n) => Math.max(n - 1, 0))
      setTick((n) => n + 1)
    }, POLL_MS)
    return () => clearTimeout(timer)
  }, [campaign, followUps])
  const set = (c: Campaign) => {
    setCampaign(c)
    setFollowUps(POLLS_AFTER_ACTION)
  }
  return { campaign, error, set }
}

function Actions(props: { campaign: Campaign; onChange: (c: Campaign) => void }) {
  const { campaign: c } = props
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [confirmCancel, setConfirmCancel] = useState(false)
  const path = `/v1/campaigns/${encodeURIComponent(c.id)}`
  const act = (action: 'start' | 'pause' | 'cancel') => async () => {
    setBusy(true)
    setError(undefined)
    try {
      props.onChange(await post<Campaign>(`${path}/${action}`))
      setConfirmCancel(false)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  const canStart = c.state === 'draft'
  // A paused or failed campaign runs again with start: the ledger keeps it from sending twice.
  const canResume = c.state === 'paused' || c.state === 'failed'
  const canPause = c.state === 'running'
  const canCancel = c.state !== 'done' && c.state !== 'cancelled'
  return (
    <div class="uic-actions">
      {canStart && (
        <button type="button" class="primary" disabled={busy} onClick={act('start')}>
          Start
        </button>
      )}
      {canResume && (
        <button type="button" class="primary" disabled={busy} onClick={act('start')}>
          Resume
        </button>
      )}
      {canPause && (
        <button type="button" disabled={busy} onClick={act('pause')}>
          Pause
        </button>
      )}
      {canCancel && !confirmCancel && (
        <button type="button" disabled={busy} onClick={() => setConfirmCancel(true)}>
          Cancel campaign…
        </button>
      )}
      {canCancel && confirmCancel && (
        <>
          <span>Cancel for good? Recipients not sent to stay unsent.</span>
          <button type="button" class="uic-danger" disabled={busy} onClick={act('cancel')}>
            Yes, cancel it
          </button>
          <button type="button" disabled={busy} onClick={() => setConfirmCancel(false)}>
            Keep it
          </button>
        </>
      )}
      <ErrorBox error={error} />
    </div>
  )
}

function Stats(props: { id: string; running: boolean }) {
  const { data, error } = useGet<StatsAnswer>(
    `/v1/campaigns/${encodeURIComponent(props.id)}/stats`,
    props.running ? STATS_RUNNING_MS : STATS_IDLE_MS,
  )
  if (error && !data) return <ErrorBox error={error} />
  if (!data) return <Loading />
  return <StatsList stats={data.totals} />
}

const at = (ms: number | null) => (ms === null ? '—' : when(new Date(ms).toISOString()))

export function CampaignView(props: { id: string }) {
  const { campaign: c, error, set } = useCampaign(props.id)
  if (error && !c) return <ErrorBox error={error} />
  if (!c) return <Loading />
  return (
    <>
      <p>
        <a href={href('campaigns')}>← All campaigns</a>
      </p>
      <h2 class="uic-title">{c.name}</h2>
      <p class="uic-state-line">
        State: <StateBadge state={c.state} />
        {c.reason && <span class="muted"> — {c.reason}</span>}
        {c.error && <span class="error"> — {c.error}</span>}
      </p>
      <Actions campaign={c} onChange={set} />
      <ErrorBox error={error} />
      <section class="uic-section" aria-labelledby="progress-title">
        <h3 id="progress-title">Progress</h3>
        <ProgressBar campaign={c} label="Recipients handled" />
        <ProgressBreakdown campaign={c} />
      </section>
      <section class="uic-section" aria-labelledby="stats-title">
        <h3 id="stats-title">Engagement</h3>
        <Stats id={c.id} running={c.state === 'running'} />
      </section>
      <section class="uic-section" aria-labelledby="recipients-title">
        <h3 id="recipients-title">Recipients</h3>
        <Recipients id={c.id} refreshMs={c.state === 'running' ? STATS_IDLE_MS : undefined} />
      </section>
      <section class="uic-section" aria-labelledby="details-title">
        <h3 id="details-title">Details</h3>
        <dl class="uic-details">
          <dt>ID</dt>
          <dd>
            <code>{c.id}</code>
          </dd>
          <dt>Template</dt>
          <dd>
            <a href={href('templates', c.templateId)}>{c.templateId}</a>
            {c.templateVersion === null ? ' (latest version at start)' : ` v${c.templateVersion}`}
          </dd>
          <dt>Audience</dt>
          <dd>{audienceText(c.audience)}</dd>
          <dt>From</dt>
          <dd>{c.from ?? 'the server default (INKSTREAM_FROM)'}</dd>
          <dt>Rate</dt>
          <dd>{c.ratePerSecond === null ? 'no limit' : `${num(c.ratePerSecond, 2)} messages per second`}</dd>
          <dt>Created</dt>
          <dd>{at(c.createdAt)}</dd>
          <dt>Started</dt>
          <dd>{at(c.startedAt)}</dd>
          <dt>Finished</dt>
          <dd>{at(c.finishedAt)}</dd>
        </dl>
      </section>
    </>
  )
}
