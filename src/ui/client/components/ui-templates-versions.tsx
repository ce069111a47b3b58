/**
 * A template's versions and a unified diff between two of them (the `diff` package), shown as text:
 * each line is a text node in its own span, never HTML.
 */
import { structuredPatch } from 'diff'
import { useEffect, useState } from 'preact/hooks'
import { get } from '../api.ts'
import { ErrorBox, useGet, when } from '../ui.tsx'
import type { TemplateVersion, VersionRow } from './ui-templates-types.ts'

/** One text for a version, so a diff shows every field that changed. */
export function versionText(v: TemplateVersion): string {
  return [
    `name: ${v.name}`,
    `subject: ${v.subject}`,
    `preheader: ${v.preheader}`,
    `format: ${v.format}`,
    '--- body',
    v.body,
    '--- text',
    v.text ?? '(derived from the HTML)',
    '',
  ].join('\n')
}

export interface DiffLine {
  kind: 'add' | 'del' | 'same' | 'hunk'
  text: string
}

/** The unified diff of two texts, three lines of context around each change. */
export function unifiedDiff(a: string, b: string): DiffLine[] {
  const patch = structuredPatch('a', 'b', a, b, undefined, undefined, { context: 3 })
  const out: DiffLine[] = []
  for (const h of patch.hunks) {
    out.push({ kind: 'hunk', text: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@` })
    for (const line of h.lines) {
      if (line.startsWith('\\')) continue // "\ No newline at end of file"
      const kind = line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : 'same'
      out.push({ kind, text: line })
    }
  }
  return out
}

export function Versions(props: {
  id: string
  refreshKey: number
  /** Puts a stored version's content in the editor (saving it then makes it the latest again). */
  onLoad: (v: TemplateVersion) => void
}) {
  const path = `/v1/templates/${encodeURIComponent(props.id)}/versions`
  const list = useGet<{ versions: VersionRow[] }>(path)
  const { reload } = list
  useEffect(() => {
    if (props.refreshKey > 0) reload()
  }, [props.refreshKey])
  const versions = list.data?.versions ?? []
  const latest = versions.at(-1)?.version
  const [from, setFrom] = useState<number>()
  const [to, setTo] = useState<number>()
  // New versions move the default comparison to the two newest.
  useEffect(() => {
    if (latest === undefined) return
    setTo(latest)
    setFrom(Math.max(1, latest - 1))
  }, [latest])

  return (
    <section class="tpl-versions" aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      <ErrorBox error={list.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Saved</th>
            <th scope="col">Content hash</th>
          </tr>
        </thead>
        <tbody>
          {[...versions].reverse().map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>{when(new Date(v.createdAt).toISOString())}</td>
              <td>
                <code>{v.hash.slice(0, 12)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {versions.length > 1 && from !== undefined && to !== undefined && (
        <>
          <div class="tpl-diff-pick">
            <div>
              <label for="diff-from">From version</label>
              <VersionSelect id="diff-from" versions={versions} value={from} onChange={setFrom} />
            </div>
            <div>
              <label for="diff-to">To version</label>
              <VersionSelect id="diff-to" versions={versions} value={to} onChange={setTo} />
            </div>
          </div>
          <Diff id={props.id} from={from} to={to} onLoad={props.onLoad} />
        </>
      )}
    </section>
  )
}

function VersionSelect(props: {
  id: string
  versions: VersionRow[]
  value: number
  onChange: (v: number) => void
}) {
  return (
    <select
      id={props.id}
      value={String(props.value)}
      onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value))}
    >
      {props.versions.map((v) => (
        <option key={v.version} value={String(v.version)}>
          {`v${v.version}`}
        </option>
      ))}
    </select>
  )
}

function Diff(props: { id: string; from: number; to: number; onLoad: (v: TemplateVersion) => void }) {
  const [state, setState] = useState<
    { key: string; lines: DiffLine[]; old: TemplateVersion } | { key: string; error: unknown }
  >()
  const key = `${props.id}\n${props.from}\n${props.to}`
  useEffect(() => {
    let live = true
    const one = (n: number) =>
      get<TemplateVersion>(`/v1/templates/${encodeURIComponent(props.id)}?version=${n}`)
    Promise.all([one(props.from), one(props.to)]).then(
      ([a, b]) => live && setState({ key, lines: unifiedDiff(versionText(a), versionText(b)), old: a }),
      (error) => live && setState({ key, error }),
    )
    return () => {
      live = false
    }
  }, [key, props.id, props.from, props.to])
  if (!state || state.key !== key) return <p class="muted">Comparing…</p>
  if ('error' in state) return <ErrorBox error={state.error} />
  const old = state.old
  const load = (
    <button type="button" onClick={() => props.onLoad(old)}>
      {`Load v${props.from} into the editor`}
    </button>
  )
  if (state.lines.length === 0)
    return (
      <>
        <p class="muted">{`v${props.from} and v${props.to} have the same content.`}</p>
        {load}
      </>
    )
  return (
    <figure class="tpl-diff-figure">
      {load}
      <figcaption>{`Changes from v${props.from} to v${props.to}`}</figcaption>
      <pre class="tpl-diff">
        {state.lines.map((l, i) => (
          <span key={i} class={`diff-${l.kind}`}>
            {l.text}
          </span>
        ))}
      </pre>
    </figure>
  )
}
