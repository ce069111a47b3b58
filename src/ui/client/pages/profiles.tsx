/**
 * The profiles page (issue 13): one search field (a userId, an anonymousId or an email: GET
 * /v1/profiles?q=), then a profile (#/profiles/<profileId>): traits, identities, recent events as a
 * timeline, segment memberships, and messages with their outcome and engagement. Every value is
 * rendered as text (components/ui-profiles-value.tsx). Its Privacy card downloads the person's export
 * (GET /v1/profiles/:id/export) and erases the profile (DELETE /v1/profiles/:id) once the profile id
 * is typed again; both are audited as the `dashboard` actor.
 */
import { Fragment } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { del, get, query } from '../api.ts'
import { Time, Value, valueText } from '../components/ui-profiles-value.tsx'
import type { PageProps } from '../pages.ts'
import { href, navigate } from '../router.ts'
import { ErrorBox, Loading, Page, useGet } from '../ui.tsx'
import '../styles/ui-profiles.css'

interface Found {
  profileId: string
  userId: string | null
  email: string | null
  matchedBy: 'userId' | 'anonymousId' | 'email'
  lastSeenAt: string | null
}

interface Profile {
  profileId: string
  userId: string | null
  identities: { userIds: string[]; anonymousIds: string[] }
  traits: Record<string, unknown>
  firstSeenAt: string | null
  lastSeenAt: string | null
}

interface ProfileEvent {
  messageId: string
  type: string
  name: string | null
  timestamp: string
  receivedAt: string
  data: Record<string, unknown>
}

interface Membership {
  id: string
  name: string
  joinedAt: string
  backfilled: boolean
}

interface Message {
  emailId: string
  origin: 'campaign' | 'trigger'
  campaignId: string | null
  triggerId: string | null
  templateId: string | null
  templateVersion: number | null
  outcome: string
  createdAt: string
  sentAt: string | null
  opens: number
  clicks: number
}

const by = (id: string, rest = '', q: Record<string, string | number> = {}) =>
  `/v1/profiles/${encodeURIComponent(id)}${rest}${query({ by: 'profileId', ...q })}`

/** A profile's page, keeping the search it was found by in the field. */
const profileLink = (profileId: string, q: string) =>
  `${href('profiles', profileId)}?${new URLSearchParams({ q })}`

function SearchForm(props: { initial: string }) {
  const [value, setValue] = useState(props.initial)
  useEffect(() => setValue(props.initial), [props.initial])
  return (
    <form
      class="pf-search"
      aria-label="Find a profile"
      onSubmit={(e) => {
        e.preventDefault()
        const q = value.trim()
        if (q) navigate(`${href('profiles')}?${new URLSearchParams({ q })}`)
      }}
    >
      <label for="pf-q">userId, anonymousId or email</label>
      <div class="pf-search-row">
        <input
          id="pf-q"
          name="q"
          type="search"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          autocomplete="off"
          spellcheck={false}
        />
        <button type="submit">Find</button>
      </div>
    </form>
  )
}

function Results(props: { q: string }) {
  const res = useGet<{ profiles: Found[] }>(`/v1/profiles${query({ q: props.q, limit: 50 })}`)
  const found = res.data?.profiles
  // One match: show it at once (replacing the search in the history, so Back does not bounce here).
  useEffect(() => {
    if (found?.length === 1 && found[0]) location.replace(profileLink(found[0].profileId, props.q))
  }, [found, props.q])
  if (res.error) return <ErrorBox error={res.error} />
  if (!found) return <Loading />
  if (found.length === 0)
    return (
      <p class="pf-none" role="status">
        No profile has the userId, anonymousId or email “{props.q}”.
      </p>
    )
  return (
    <table class="pf-results">
      <caption>Profiles matching “{props.q}”</caption>
      <thead>
        <tr>
          <th scope="col">Profile</th>
          <th scope="col">userId</th>
          <th scope="col">Email</th>
          <th scope="col">Matched by</th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {found.map((p) => (
          <tr key={p.profileId}>
            <td>
              <a href={profileLink(p.profileId, props.q)}>{p.profileId}</a>
            </td>
            <td>{p.userId ?? '—'}</td>
            <td>{p.email ?? '—'}</td>
            <td>{p.matchedBy}</td>
            <td>
              <Time iso={p.lastSeenAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Traits(props: { traits: Record<string, unknown> }) {
  const names = Object.keys(props.traits).sort()
  return (
    <section class="card pf-traits" aria-labelledby="pf-traits">
      <h2 id="pf-traits">Traits</h2>
      {names.length === 0 ? (
        <p class="muted">No traits.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Trait</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {names.map((n) => (
              <tr key={n}>
                <th scope="row">{n}</th>
                <td>
                  <Value value={props.traits[n]} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

function Identities(props: { profile: Profile }) {
  const { profile } = props
  const rows = [
    ...profile.identities.userIds.map((v) => ['userId', v] as const),
    ...profile.identities.anonymousIds.map((v) => ['anonymousId', v] as const),
  ]
  return (
    <section class="card pf-identities" aria-labelledby="pf-identities">
      <h2 id="pf-identities">Identities</h2>
      <dl class="pf-ids">
        <dt>Profile id</dt>
        <dd>{profile.profileId}</dd>
        {rows.map(([kind, v]) => (
          <Fragment key={`${kind}:${v}`}>
            <dt>{kind}</dt>
            <dd>{v}</dd>
          </Fragment>
        ))}
        <dt>First seen</dt>
        <dd>
          <Time iso={profile.firstSeenAt} />
        </dd>
        <dt>Last seen</dt>
        <dd>
          <Time iso={profile.lastSeenAt} />
        </dd>
      </dl>
    </section>
  )
}

function Timeline(props: { id: string }) {
  const res = useGet<{ events: ProfileEvent[] }>(by(props.id, '/events'))
  return (
    <section class="card pf-events" aria-labelledby="pf-events">
      <h2 id="pf-events">Recent events</h2>
      <ErrorBox error={res.error} />
      {!res.data ? (
        !res.error && <Loading />
      ) : res.data.events.length === 0 ? (
        <p class="muted">No events.</p>
      ) : (
        <ol class="pf-timeline">
          {res.data.events.map((e) => (
            <li key={e.messageId} class="pf-event">
              <div class="pf-event-head">
                <Time iso={e.timestamp} />
                <span class="pf-event-type">{e.type}</span>
                {e.name !== null && <strong class="pf-event-name">{e.name}</strong>}
              </div>
              {Object.keys(e.data).length > 0 && <pre class="pf-json pf-event-data">{valueText(e.data)}</pre>}
            </li>
          ))}
        </ol>
      )}
    </section>
  )
}

function Segments(props: { id: string }) {
  const res = useGet<{ segments: Membership[] }>(by(props.id, '/segments'))
  return (
    <section class="card pf-segments" aria-labelledby="pf-segments">
      <h2 id="pf-segments">Segments</h2>
      <ErrorBox error={res.error} />
      {!res.data ? (
        !res.error && <Loading />
      ) : res.data.segments.length === 0 ? (
        <p class="muted">Not in any segment.</p>
      ) : (
        <ul class="pf-memberships">
          {res.data.segments.map((s) => (
            <li key={s.id}>
              <a href={href('segments', s.id)}>{s.name}</a> <span class="muted">({s.id})</span>, since{' '}
              <Time iso={s.joinedAt} />
              {!s.backfilled && <span class="muted"> (definition being backfilled)</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

function Messages(props: { id: string }) {
  const res = useGet<{ messages: Message[] }>(by(props.id, '/messages', { limit: 50 }))
  return (
    <section class="card pf-messages" aria-labelledby="pf-messages">
      <h2 id="pf-messages">Messages</h2>
      <ErrorBox error={res.error} />
      {!res.data ? (
        !res.error && <Loading />
      ) : res.data.messages.length === 0 ? (
        <p class="muted">No messages sent.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Template</th>
              <th scope="col">Campaign or trigger</th>
              <th scope="col">Sent at</th>
              <th scope="col">Outcome</th>
              <th scope="col">Opens</th>
              <th scope="col">Clicks</th>
            </tr>
          </thead>
          <tbody>
            {res.data.messages.map((m) => (
              <tr key={m.emailId}>
                <td>{m.templateId === null ? '—' : `${m.templateId} v${m.templateVersion}`}</td>
                <td>{m.origin === 'trigger' ? `trigger ${m.triggerId}` : `campaign ${m.campaignId}`}</td>
                <td>
                  <Time iso={m.sentAt ?? m.createdAt} />
                </td>
                <td>
                  <span class={`pf-outcome pf-outcome-${m.outcome}`}>{m.outcome}</span>
                </td>
                <td>{m.opens}</td>
                <td>{m.clicks}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

interface Erased {
  profileId: string
  erasedAt: string
  auditId: number
  removed: Record<string, number | string | null>
}

/** The export as a file: fetched over the API with the session, then handed to the browser as a named download. */
async function downloadExport(profileId: string): Promise<void> {
  const body = await get(by(profileId, '/export'))
  const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 2)], { type: 'application/json' }))
  const a = document.createElement('a')
  a.href = url
  a.download = `inkstream-profile-${profileId}.json`
  document.body.append(a)
  a.click()
  a.remove()
  // After the click has handed the blob to the download.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

function Privacy(props: { profileId: string; onErased: (e: Erased) => void }) {
  const { profileId } = props
  const [busy, setBusy] = useState(false)
  const [confirming, setConfirming] = useState(false)
  const [typed, setTyped] = useState('')
  const [error, setError] = useState<unknown>()
  const run = async (f: () => Promise<void>) => {
    setBusy(true)
    setError(undefined)
    try {
      await f()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="card pf-privacy" aria-labelledby="pf-privacy">
      <h2 id="pf-privacy">Privacy</h2>
      <p class="muted">
        The export holds what Inkstream stores about this person (profile, identities, events, messages,
        suppressions). Erasing deletes it for good, suppresses the address and is recorded in the audit log.
      </p>
      <div class="pf-privacy-actions">
        <button type="button" disabled={busy} onClick={() => run(() => downloadExport(profileId))}>
          Download export (JSON)
        </button>
        {!confirming && (
          <button type="button" disabled={busy} onClick={() => setConfirming(true)}>
            Erase this profile…
          </button>
        )}
      </div>
      {confirming && (
        <form
          class="pf-erase"
          aria-label="Erase this profile"
          onSubmit={(e) => {
            e.preventDefault()
            if (typed !== profileId) return
            void run(async () => {
              const erased = await del<Erased>(by(profileId))
              props.onErased(erased)
            })
          }}
        >
          <label for="pf-erase-id">
            Type the profile id <code>{profileId}</code> to erase it. This cannot be undone.
          </label>
          <div class="pf-search-row">
            <input
              id="pf-erase-id"
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
              autocomplete="off"
              spellcheck={false}
            />
            <button type="submit" class="pf-danger" disabled={busy || typed !== profileId}>
              Erase permanently
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                setConfirming(false)
                setTyped('')
              }}
            >
              Keep it
            </button>
          </div>
        </form>
      )}
      <ErrorBox error={error} />
    </section>
  )
}

function ErasedNotice(props: { erased: Erased }) {
  const { erased } = props
  const counts = Object.entries(erased.removed).filter(([, v]) => typeof v === 'number' && v > 0)
  return (
    <section class="card pf-erased" role="status" aria-labelledby="pf-erased">
      <h2 id="pf-erased">Profile erased</h2>
      <p>
        Profile <code>{erased.profileId}</code> was erased at <Time iso={erased.erasedAt} /> (audit entry{' '}
        {erased.auditId}). The event log's copies: {String(erased.removed.log)}.
      </p>
      {counts.length > 0 && (
        <ul class="pf-erased-counts">
          {counts.map(([k, v]) => (
            <li key={k}>
              {k}: {v}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

function ProfileView(props: { id: string }) {
  const res = useGet<Profile>(by(props.id))
  const [erased, setErased] = useState<Erased>()
  // A profile erased here is gone: its notice replaces the page (a reload answers 404).
  if (erased) return <ErasedNotice erased={erased} />
  if (res.error) return <ErrorBox error={res.error} />
  const p = res.data
  if (!p) return <Loading />
  return (
    <div class="pf-profile">
      <h2 class="pf-title">{p.userId ?? p.identities.anonymousIds[0] ?? p.profileId}</h2>
      <div class="pf-grid">
        <Traits traits={p.traits} />
        <Identities profile={p} />
        <Segments id={p.profileId} />
      </div>
      <Timeline id={p.profileId} />
      <Messages id={p.profileId} />
      <Privacy profileId={p.profileId} onErased={setErased} />
    </div>
  )
}

export default function ProfilesPage({ route }: PageProps) {
  const id = route.params[0]
  const q = route.query.get('q') ?? ''
  return (
    <Page title="Profiles">
      <SearchForm initial={q} />
      {id !== undefined && id !== '' ? <ProfileView id={id} /> : q !== '' && <Results q={q} />}
    </Page>
  )
}
