/** A campaign's send ledger, a page at a time (GET /v1/campaigns/:id/recipients), by state. */
import { useState } from 'preact/hooks'
import { query } from '../api.ts'
import { ErrorBox, Loading, useGet, when } from '../ui.tsx'

const STATES = ['sent', 'failed', 'unknown', 'suppressed', 'skipped', 'deferred', 'sending'] as const
const PAGE = 50

interface Row {
  recipient: string
  email: string
  state: string
  reason: string | null
  detail: string | null
  attempts: number
  updatedAt: number
}

export function Recipients(props: { id: string; refreshMs: number | undefined }) {
  const [state, setState] = useState('')
  // The keysets of the pages before this one: "Previous" pops one.
  const [afters, setAfters] = useState<string[]>([])
  const after = afters.at(-1)
  const path = `/v1/campaigns/${encodeURIComponent(props.id)}/recipients${query({ state, after, limit: PAGE })}`
  const { data, error } = useGet<{ recipients: Row[]; next: string | null }>(path, props.refreshMs)
  return (
    <>
      <label for="uic-recipient-state">Show recipients</label>
      <select
        id="uic-recipient-state"
        value={state}
        onChange={(e) => {
          setState((e.target as HTMLSelectElement).value)
          setAfters([])
        }}
      >
        <option value="">in every state</option>
        {STATES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      {error !== undefined && <ErrorBox error={error} />}
      {!data ? (
        <Loading />
      ) : data.recipients.length === 0 ? (
        <p class="muted">No recipients{state ? ` in state ${state}` : ''} yet.</p>
      ) : (
        <table class="uic-table uic-recipients" aria-label="Recipients">
          <thead>
            <tr>
              <th scope="col">Recipient</th>
              <th scope="col">Address</th>
              <th scope="col">State</th>
              <th scope="col">Why</th>
              <th scope="col" class="uic-num">
                Attempts
              </th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {data.recipients.map((r) => (
              <tr key={r.recipient} data-recipient={r.recipient}>
                <td>{r.recipient}</td>
                <td>{r.email}</td>
                <td>{r.state}</td>
                <td>{[r.reason, r.detail].filter((x) => x).join(': ')}</td>
                <td class="uic-num">{r.attempts}</td>
                <td>{when(new Date(r.updatedAt).toISOString())}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="uic-actions">
        <button type="button" disabled={afters.length === 0} onClick={() => setAfters(afters.slice(0, -1))}>
          Previous
        </button>
        <button
          type="button"
          disabled={!data?.next}
          onClick={() => data?.next && setAfters([...afters, data.next])}
        >
          Next
        </button>
      </div>
    </>
  )
}
