/**
 * The "new campaign" form: a name, a template (GET /v1/templates) and a segment (GET
 * /v1/segments), optionally a sender and a send rate; saved as a draft with PUT /v1/campaigns/:id,
 * then the page goes to the campaign's view. The subject is the template's.
 */
import { useState } from 'preact/hooks'
import { put } from '../api.ts'
import { href, navigate } from '../router.ts'
import { ErrorBox, Loading, useGet } from '../ui.tsx'
import type { Campaign, Segment, TemplateSummary } from './ui-campaigns-types.ts'

/** The id the server accepts (src/http/schemas.ts `slug`): lowercase letters, digits, "_" and "-". */
export const ID_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,63}'

/** A campaign id made from its name: "Spring sale 2026!" → "spring-sale-2026". */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '')
}

/** The variables box: empty → none; else a JSON object (a mistake is shown, nothing is sent). */
function parseVars(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new Error(`Campaign variables: not JSON (${err instanceof Error ? err.message : String(err)})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('Campaign variables: a JSON object, e.g. {"greeting": "Hello"}')
  return parsed as Record<string, unknown>
}

const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value

export function NewCampaignForm(props: { existing: readonly string[] }) {
  const templates = useGet<{ templates: TemplateSummary[] }>('/v1/templates')
  const segments = useGet<{ segments: Segment[] }>('/v1/segments')
  const [name, setName] = useState('')
  const [id, setId] = useState('')
  const [idEdited, setIdEdited] = useState(false)
  const [templateId, setTemplateId] = useState('')
  const [segment, setSegment] = useState('')
  const [from, setFrom] = useState('')
  const [rate, setRate] = useState('')
  const [vars, setVars] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()

  const campaignId = idEdited ? id : slugOf(name)
  const taken = props.existing.includes(campaignId)

  const submit = async (e: Event) => {
    e.preventDefault()
    if (taken) return
    setBusy(true)
    setError(undefined)
    try {
      const parsedVars = parseVars(vars)
      const body = {
        name: name.trim(),
        templateId,
        audience: { segment },
        ...(from.trim() === '' ? {} : { from: from.trim() }),
        ...(rate.trim() === '' ? {} : { ratePerSecond: Number(rate) }),
        ...(parsedVars === undefined ? {} : { vars: parsedVars }),
      }
      const saved = await put<Campaign>(`/v1/campaigns/${encodeURIComponent(campaignId)}`, body)
      navigate(href('campaigns', saved.id))
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  if (templates.error || segments.error) return <ErrorBox error={templates.error ?? segments.error} />
  if (!templates.data || !segments.data) return <Loading />
  return (
    <form class="uic-form" onSubmit={submit} aria-labelledby="new-campaign-title">
      <h2 id="new-campaign-title">New campaign</h2>
      <div class="uic-fields">
        <div>
          <label for="uic-name">Name</label>
          <input id="uic-name" required maxLength={200} value={name} onInput={(e) => setName(value(e))} />
        </div>
        <div>
          <label for="uic-id">ID</label>
          <input
            id="uic-id"
            required
            pattern={ID_PATTERN}
            maxLength={64}
            aria-describedby="uic-id-help"
            value={campaignId}
            onInput={(e) => {
              setIdEdited(true)
              setId(value(e))
            }}
          />
          <p id="uic-id-help" class={taken ? 'error' : 'muted'}>
            {taken
              ? 'A campaign with this ID exists; choose another.'
              : 'Lowercase letters, digits, “_” and “-”; made from the name unless you change it.'}
          </p>
        </div>
        <div>
          <label for="uic-template">Template</label>
          <select id="uic-template" required value={templateId} onChange={(e) => setTemplateId(value(e))}>
            <option value="">Choose a template</option>
            {templates.data.templates.map((t) => (
              <option key={t.templateId} value={t.templateId}>
                {t.name === t.templateId ? t.templateId : `${t.name} (${t.templateId})`}, v{t.latestVersion}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="uic-segment">Segment</label>
          <select id="uic-segment" required value={segment} onChange={(e) => setSegment(value(e))}>
            <option value="">Choose a segment</option>
            {segments.data.segments.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name === s.id ? s.id : `${s.name} (${s.id})`}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="uic-from">From (optional)</label>
          <input
            id="uic-from"
            placeholder="the server's INKSTREAM_FROM"
            maxLength={998}
            value={from}
            onInput={(e) => setFrom(value(e))}
          />
        </div>
        <div>
          <label for="uic-rate">Messages per second (optional)</label>
          <input
            id="uic-rate"
            type="number"
            min="0.01"
            max="100000"
            step="any"
            placeholder="no limit"
            value={rate}
            onInput={(e) => setRate(value(e))}
          />
        </div>
      </div>
      <label for="uic-vars">Campaign variables (optional JSON object)</label>
      <textarea
        id="uic-vars"
        aria-describedby="uic-vars-help"
        rows={3}
        spellcheck={false}
        placeholder='{"greeting": "Hello"}'
        value={vars}
        onInput={(e) => setVars((e.target as HTMLTextAreaElement).value)}
      />
      <p id="uic-vars-help" class="muted">
        The template reads each one as {'{{ campaign.<name> }}'}. The subject and content are the template's
        latest version when the campaign starts.
      </p>
      <button type="submit" disabled={busy || taken}>
        Create campaign
      </button>
      <ErrorBox error={error} />
    </form>
  )
}
