/**
 * The live preview of the editor's draft: a recipient (a stored user by id, or an inline profile),
 * the fault injections of the preview API (fail or delay a source, drop traits, a slow profile
 * read), and the result: subject, the email in a sandboxed iframe (no scripts, no same origin),
 * the text part, and the report of which fallbacks fired and why.
 */
import { useEffect, useState } from 'preact/hooks'
import { get, post, query } from '../api.ts'
import { ErrorBox, num } from '../ui.tsx'
import type { PreviewResult, TemplateBody } from './ui-templates-types.ts'

/** Wait after the last change before asking for a preview (typing in the user or delay fields). */
const DEBOUNCE_MS = 300

export interface PreviewOptions {
  mode: 'user' | 'inline'
  userId: string
  profileJson: string
  failSources: string[]
  delaySources: Record<string, string>
  dropTraits: string
  profileDelayMs: string
  deadlineMs: string
}

export const NO_OPTIONS: PreviewOptions = {
  mode: 'user',
  userId: '',
  profileJson: '{\n  "first_name": "Ada"\n}',
  failSources: [],
  delaySources: {},
  dropTraits: '',
  profileDelayMs: '',
  deadlineMs: '',
}

const MS = /^\d{1,5}$/

/** The preview request for `draft` with `o`, or the reason there is none (a local input error). */
export function previewRequest(draft: TemplateBody, o: PreviewOptions): Record<string, unknown> | string {
  const body: Record<string, unknown> = { draft }
  if (o.mode === 'inline') {
    let profile: unknown
    try {
      profile = JSON.parse(o.profileJson)
    } catch (err) {
      return `The inline profile is not JSON: ${(err as Error).message}`
    }
    if (typeof profile !== 'object' || profile === null || Array.isArray(profile))
      return 'The inline profile must be a JSON object.'
    body.profile = profile
  } else if (o.userId.trim() !== '') body.userId = o.userId.trim()
  const faults: Record<string, unknown> = {}
  if (o.failSources.length > 0) faults.failSources = o.failSources
  const delays: Record<string, number> = {}
  for (const [name, ms] of Object.entries(o.delaySources)) {
    if (ms.trim() === '') continue
    if (!MS.test(ms.trim())) return `The delay of ${name} must be a whole number of milliseconds.`
    delays[name] = Number(ms)
  }
  if (Object.keys(delays).length > 0) faults.delaySources = delays
  const drop = o.dropTraits
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (drop.length > 0) faults.dropTraits = drop
  if (o.profileDelayMs.trim() !== '') {
    if (!MS.test(o.profileDelayMs.trim())) return 'The profile delay must be a whole number of milliseconds.'
    faults.profileDelayMs = Number(o.profileDelayMs)
  }
  if (Object.keys(faults).length > 0) body.faults = faults
  if (o.deadlineMs.trim() !== '') {
    const d = Number(o.deadlineMs)
    if (!MS.test(o.deadlineMs.trim()) || d < 10 || d > 10_000)
      return 'The render deadline must be between 10 and 10000 ms.'
    body.deadlineMs = d
  }
  return body
}

/** The `:save` names of the connected-content calls of a body (what faults are keyed by). */
export function sourceNames(body: string): string[] {
  const names = new Set<string>()
  for (const m of body.matchAll(/\{%-?\s*connected_content\b[^%]*?:save\s+([A-Za-z_][\w-]*)/g))
    if (m[1]) names.add(m[1])
  return [...names]
}

/**
 * The preview request with its recipient resolved: a user field holding an email is looked up
 * (GET /v1/profiles?email=, the `email` trait) and replaced by that profile's userId.
 */
export async function withRecipient(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const who = body.userId
  if (typeof who !== 'string' || !who.includes('@')) return body
  const found = await get<{ profiles: { userId: string | null }[] }>(
    `/v1/profiles${query({ email: who, limit: 1 })}`,
  )
  const profile = found.profiles[0]
  if (!profile) throw new Error(`No profile has the email ${who}.`)
  if (profile.userId === null) throw new Error(`The profile with the email ${who} has no userId to preview.`)
  return { ...body, userId: profile.userId }
}

export interface PreviewPaneProps {
  templateId: string
  /** The draft to render; undefined while it cannot be (lint errors, empty subject): `blocked` says why. */
  draft: TemplateBody | undefined
  blocked: string | undefined
}

export function PreviewPane(props: PreviewPaneProps) {
  const [o, setO] = useState<PreviewOptions>(NO_OPTIONS)
  const [result, setResult] = useState<{ value?: PreviewResult | undefined; error?: unknown; busy: boolean }>(
    {
      busy: false,
    },
  )
  const [seen, setSeen] = useState<string[]>([])
  const request = props.draft === undefined ? props.blocked : previewRequest(props.draft, o)
  const key = JSON.stringify(request)

  useEffect(() => {
    if (typeof request !== 'object') return
    let live = true
    const timer = setTimeout(() => {
      setResult((r) => ({ ...r, busy: true }))
      withRecipient(request)
        .then((body) =>
          post<PreviewResult>(`/v1/templates/${encodeURIComponent(props.templateId)}/preview`, body),
        )
        .then(
          (value) => {
            if (!live) return
            setResult({ value, busy: false })
            setSeen((s) => [...new Set([...s, ...value.report.sources.map((x) => x.name)])])
          },
          (error) => live && setResult((r) => ({ value: r.value, error, busy: false })),
        )
    }, DEBOUNCE_MS)
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [key, props.templateId])

  const set = (patch: Partial<PreviewOptions>) => setO((x) => ({ ...x, ...patch }))
  const text = (e: Event) => (e.target as HTMLInputElement).value
  const sources = [...new Set([...sourceNames(props.draft?.html ?? props.draft?.mjml ?? ''), ...seen])]

  return (
    <section class="tpl-preview" aria-labelledby="preview-title" aria-busy={result.busy}>
      <h2 id="preview-title">Preview</h2>
      <fieldset>
        <legend>Recipient</legend>
        <div class="tpl-radios">
          <label>
            <input
              type="radio"
              name="recipient"
              checked={o.mode === 'user'}
              onChange={() => set({ mode: 'user' })}
            />{' '}
            Stored user
          </label>
          <label>
            <input
              type="radio"
              name="recipient"
              checked={o.mode === 'inline'}
              onChange={() => set({ mode: 'inline' })}
            />{' '}
            Inline profile
          </label>
        </div>
        {o.mode === 'user' ? (
          <>
            <label for="preview-user">User id or email</label>
            <input
              id="preview-user"
              type="search"
              placeholder="userId, anonymousId or email"
              value={o.userId}
              onInput={(e) => set({ userId: text(e) })}
            />
          </>
        ) : (
          <>
            <label for="preview-profile">Inline profile (JSON traits)</label>
            <textarea
              id="preview-profile"
              rows={5}
              spellcheck={false}
              value={o.profileJson}
              onInput={(e) => set({ profileJson: text(e) })}
            />
          </>
        )}
      </fieldset>
      <fieldset>
        <legend>Fault injection</legend>
        {sources.length === 0 && <p class="muted">No connected-content source in this template.</p>}
        {sources.map((name) => (
          <div class="tpl-source" key={name}>
            <label class="tpl-check">
              <input
                type="checkbox"
                checked={o.failSources.includes(name)}
                onChange={(e) =>
                  set({
                    failSources: (e.target as HTMLInputElement).checked
                      ? [...o.failSources, name]
                      : o.failSources.filter((s) => s !== name),
                  })
                }
              />{' '}
              {`Fail source ${name}`}
            </label>
            <label for={`delay-${name}`}>{`Delay source ${name} (ms)`}</label>
            <input
              id={`delay-${name}`}
              inputMode="numeric"
              value={o.delaySources[name] ?? ''}
              onInput={(e) => set({ delaySources: { ...o.delaySources, [name]: text(e) } })}
            />
          </div>
        ))}
        <label for="preview-drop">Drop traits (comma-separated)</label>
        <input id="preview-drop" value={o.dropTraits} onInput={(e) => set({ dropTraits: text(e) })} />
        <label for="preview-slow-profile">Slow profile read (ms)</label>
        <input
          id="preview-slow-profile"
          inputMode="numeric"
          value={o.profileDelayMs}
          onInput={(e) => set({ profileDelayMs: text(e) })}
        />
        <label for="preview-deadline">Render deadline (ms, empty: the server's)</label>
        <input
          id="preview-deadline"
          inputMode="numeric"
          value={o.deadlineMs}
          onInput={(e) => set({ deadlineMs: text(e) })}
        />
      </fieldset>
      {typeof request === 'string' && (
        <p class="tpl-blocked" role="status">
          {request}
        </p>
      )}
      <ErrorBox error={result.error} />
      {result.value && <PreviewResultView value={result.value} />}
    </section>
  )
}

function PreviewResultView(props: { value: PreviewResult }) {
  const { value } = props
  const { report } = value
  return (
    <div class="tpl-result">
      {'skipped' in value ? (
        <p class="tpl-skipped" role="status">
          {`Skipped (${value.skipped.type}): ${value.skipped.reason}`}
        </p>
      ) : (
        <>
          <dl class="tpl-head">
            <dt>Subject</dt>
            <dd id="preview-subject">{value.subject}</dd>
            <dt>Preheader</dt>
            <dd id="preview-preheader">{value.preheader || '—'}</dd>
          </dl>
          {/* sandbox first: the document is loaded with no scripts and an opaque origin. */}
          <iframe sandbox="" srcdoc={value.html} title="Rendered email" class="tpl-frame" />
          <h3>Text part</h3>
          <pre id="preview-text" class="tpl-text">
            {value.text}
          </pre>
        </>
      )}
      <p class="muted">
        {`Profile: ${report.profile.outcome} · rendered in ${num(report.durationMs, 1)} ms of ${num(report.deadlineMs)} ms`}
      </p>
      <h3>Fallbacks</h3>
      {report.fallbacks.length === 0 ? (
        <p class="muted">No fallback fired.</p>
      ) : (
        <table class="tpl-fallbacks">
          <thead>
            <tr>
              <th scope="col">Placeholder</th>
              <th scope="col">Reason</th>
              <th scope="col">Value from</th>
              <th scope="col">Value</th>
              <th scope="col">Part</th>
            </tr>
          </thead>
          <tbody>
            {report.fallbacks.map((f, i) => (
              <tr key={i}>
                <td>
                  <code>{f.placeholder}</code>
                </td>
                <td>{f.reason}</td>
                <td>{f.source}</td>
                <td>{f.value ?? '—'}</td>
                <td>{f.part}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {report.sources.length > 0 && (
        <>
          <h3>Sources</h3>
          <table class="tpl-sources">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Outcome</th>
                <th scope="col">Time</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {report.sources.map((s, i) => (
                <tr key={i}>
                  <td>{s.name}</td>
                  <td>{s.fromCache ? `${s.outcome} (cache)` : s.outcome}</td>
                  <td>{`${num(s.durationMs, 1)} ms`}</td>
                  <td>{s.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  )
}
