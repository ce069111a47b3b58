/**
 * The templates page (issue 13): the list (`#/templates`) and one template (`#/templates/<id>`):
 * the editor with inline lint, the live preview of the unsaved draft, save (a new version), and
 * the versions with a diff between two of them. CodeMirror and `diff` load with this chunk only.
 */
import '../styles/ui-templates.css'
import { useState } from 'preact/hooks'
import { TemplateEditor } from '../components/ui-templates-detail.tsx'
import type { TemplateSummary } from '../components/ui-templates-types.ts'
import type { PageProps } from '../pages.ts'
import { href, navigate } from '../router.ts'
import { ErrorBox, Loading, Page, useGet, when } from '../ui.tsx'

export default function TemplatesPage(props: PageProps) {
  const id = props.route.params[0]
  if (id) return <TemplateEditor key={id} id={id} isNew={props.route.query.get('new') === '1'} />
  return <TemplateList />
}

const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/

function TemplateList() {
  const list = useGet<{ templates: TemplateSummary[] }>('/v1/templates')
  const [newId, setNewId] = useState('')
  const valid = SLUG.test(newId)
  const create = (e: Event) => {
    e.preventDefault()
    if (valid) navigate(`${href('templates', newId)}?new=1`)
  }
  const templates = list.data?.templates ?? []
  return (
    <Page title="Templates">
      <form class="tpl-new" onSubmit={create}>
        <div>
          <label for="new-template">New template id</label>
          <input
            id="new-template"
            value={newId}
            placeholder="welcome-email"
            aria-describedby="new-template-help"
            onInput={(e) => setNewId((e.target as HTMLInputElement).value)}
          />
          <p id="new-template-help" class="muted">
            Lower-case letters, digits, - and _.
          </p>
        </div>
        <button type="submit" disabled={!valid}>
          New template
        </button>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : templates.length === 0 ? (
        <p class="muted">No templates yet.</p>
      ) : (
        <table class="tpl-list">
          <caption class="muted">{`${templates.length} template(s)`}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Latest version</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <tr key={t.templateId}>
                <td>
                  <a href={href('templates', t.templateId)}>{t.name || t.templateId}</a>
                </td>
                <td>
                  <code>{t.templateId}</code>
                </td>
                <td>{`v${t.latestVersion}`}</td>
                <td>{when(new Date(t.updatedAt).toISOString())}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  )
}
