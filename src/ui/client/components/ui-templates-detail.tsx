/**
 * One template: its fields and body editor, lint of the draft as it is typed (inline in the body,
 * listed for every part), save (PUT: a new version), the live preview and the versions.
 */
import { useEffect, useState } from 'preact/hooks'
import { post, put } from '../api.ts'
import { href, navigate } from '../router.ts'
import { ErrorBox, Loading, Page, useGet } from '../ui.tsx'
import { BodyEditor } from './ui-templates-editor.tsx'
import { PreviewPane } from './ui-templates-preview.tsx'
import {
  bodyOf,
  type Draft,
  draftOf,
  incomplete,
  type LintProblem,
  type Saved,
  type TemplateVersion,
} from './ui-templates-types.ts'
import { Versions } from './ui-templates-versions.tsx'

/** Wait after the last keystroke before linting (and then previewing) the draft. */
const LINT_DEBOUNCE_MS = 400

const starter = (id: string): Draft => ({
  name: id,
  subject: 'Hello {{ first_name | default: "there" }}',
  preheader: '',
  format: 'html',
  body: '<p>Hello {{ first_name | default: "there" }}</p>\n',
  text: '',
})

export function TemplateEditor(props: { id: string; isNew: boolean }) {
  const path = `/v1/templates/${encodeURIComponent(props.id)}`
  const loaded = useGet<TemplateVersion>(props.isNew ? undefined : path)
  const [base, setBase] = useState<{ draft: Draft; version: number }>()
  const [draft, setDraft] = useState<Draft>()
  useEffect(() => {
    if (props.isNew) {
      setBase({ draft: starter(props.id), version: 0 })
      setDraft(starter(props.id))
    } else if (loaded.data) {
      setBase({ draft: draftOf(loaded.data), version: loaded.data.version })
      setDraft(draftOf(loaded.data))
    }
  }, [props.isNew, props.id, loaded.data])

  if (loaded.error)
    return (
      <Page title="Template" actions={<a href={href('templates')}>All templates</a>}>
        <ErrorBox error={loaded.error} />
      </Page>
    )
  if (!draft || !base)
    return (
      <Page title="Template">
        <Loading />
      </Page>
    )
  return (
    <Editing
      id={props.id}
      draft={draft}
      setDraft={setDraft}
      base={base}
      onSaved={(version) => {
        setBase({ draft, version })
        // Saved once, the template exists: its address no longer says "new" (a reload loads it).
        if (props.isNew) navigate(href('templates', props.id))
      }}
    />
  )
}

function Editing(props: {
  id: string
  draft: Draft
  setDraft: (d: Draft) => void
  base: { draft: Draft; version: number }
  onSaved: (version: number) => void
}) {
  const { id, draft, setDraft, base } = props
  const [checked, setChecked] = useState<{ key: string; problems: LintProblem[]; error?: unknown }>()
  const [saving, setSaving] = useState<{ busy: boolean; message?: string; error?: unknown }>({ busy: false })
  const [refreshKey, setRefreshKey] = useState(0)
  const body = bodyOf(draft)
  const key = JSON.stringify(body)
  const missing = incomplete(draft)

  useEffect(() => {
    if (missing) return
    let live = true
    const timer = setTimeout(() => {
      post<{ problems: LintProblem[] }>('/v1/lint', body).then(
        (r) => live && setChecked({ key, problems: r.problems }),
        (error) => live && setChecked({ key, problems: [], error }),
      )
    }, LINT_DEBOUNCE_MS)
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [key])

  const current = checked?.key === key ? checked : undefined
  const problems = current?.problems ?? checked?.problems ?? []
  const errors = (current?.problems ?? []).filter((p) => p.level === 'error').length
  const blocked =
    missing ??
    (current === undefined
      ? undefined
      : current.error !== undefined
        ? 'The draft could not be checked.'
        : errors > 0
          ? `Fix the ${errors} error(s) to see the preview.`
          : undefined)
  const dirty = JSON.stringify(bodyOf(base.draft)) !== key || base.version === 0

  const save = async () => {
    setSaving({ busy: true })
    try {
      const r = await put<Saved>(`/v1/templates/${encodeURIComponent(id)}`, body)
      setSaving({
        busy: false,
        message: r.created
          ? `Saved version ${r.version}.`
          : `No change: version ${r.version} has this content.`,
      })
      props.onSaved(r.version)
      setRefreshKey((k) => k + 1)
    } catch (error) {
      setSaving({ busy: false, error })
    }
  }
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch })
  const text = (e: Event) => (e.target as HTMLInputElement).value

  return (
    <Page title={`Template ${draft.name || id}`} actions={<a href={href('templates')}>All templates</a>}>
      <p class="muted">
        <code>{id}</code>
        {base.version > 0 ? ` · editing from version ${base.version}` : ' · not saved yet'}
        {dirty && base.version > 0 ? ' · unsaved changes' : ''}
      </p>
      <div class="tpl-grid">
        <section class="tpl-edit" aria-labelledby="editor-title">
          <h2 id="editor-title">Editor</h2>
          <div class="tpl-fields">
            <div>
              <label for="tpl-name">Name</label>
              <input id="tpl-name" value={draft.name} onInput={(e) => set({ name: text(e) })} />
            </div>
            <div>
              <label for="tpl-format">Format</label>
              <select
                id="tpl-format"
                value={draft.format}
                onChange={(e) => set({ format: text(e) === 'mjml' ? 'mjml' : 'html' })}
              >
                <option value="html">HTML</option>
                <option value="mjml">MJML</option>
              </select>
            </div>
          </div>
          <label for="tpl-subject">Subject</label>
          <input
            id="tpl-subject"
            class="wide"
            value={draft.subject}
            onInput={(e) => set({ subject: text(e) })}
          />
          <label for="tpl-preheader">Preheader</label>
          <input
            id="tpl-preheader"
            class="wide"
            value={draft.preheader}
            onInput={(e) => set({ preheader: text(e) })}
          />
          <p class="tpl-label" id="tpl-body-label">
            Body (Liquid in {draft.format === 'mjml' ? 'MJML' : 'HTML'})
          </p>
          <BodyEditor
            label="Template body"
            value={draft.body}
            onChange={(b) => set({ body: b })}
            problems={problems}
          />
          <label for="tpl-text">Text part (empty: derived from the HTML)</label>
          <textarea
            id="tpl-text"
            class="wide"
            rows={4}
            spellcheck={false}
            value={draft.text}
            onInput={(e) => set({ text: text(e) })}
          />
          <Problems problems={problems} error={checked?.error} />
          <div class="tpl-save">
            <button
              type="button"
              class="primary"
              disabled={saving.busy || missing !== undefined || errors > 0 || !dirty}
              onClick={save}
            >
              Save as a new version
            </button>
            {saving.message && (
              <span role="status" class="tpl-saved">
                {saving.message}
              </span>
            )}
          </div>
          <ErrorBox error={saving.error} />
        </section>
        <PreviewPane
          templateId={id}
          draft={blocked === undefined && current ? body : undefined}
          blocked={blocked}
        />
      </div>
      <Versions id={id} refreshKey={refreshKey} onLoad={(v) => setDraft(draftOf(v))} />
    </Page>
  )
}

function Problems(props: { problems: LintProblem[]; error: unknown }) {
  return (
    <div class="tpl-problems" aria-live="polite">
      <ErrorBox error={props.error} />
      {props.problems.length === 0 ? (
        <p class="muted">Lint: no problems.</p>
      ) : (
        <ul>
          {props.problems.map((p, i) => (
            <li key={i} class={`tpl-${p.level}`}>
              {`${p.level} · ${p.part}${p.line === null ? '' : ` line ${p.line}`} · ${p.code}: ${p.message}`}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
