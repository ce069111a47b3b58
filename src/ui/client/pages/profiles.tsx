/** The profiles page (issue 13). Being built: see docs/ui-contract.md. */
import type { PageProps } from '../pages.ts'
import { Page } from '../ui.tsx'

export default function ProfilesPage(_props: PageProps) {
  return (
    <Page title="Profiles">
      <p class="muted">This page is being built.</p>
    </Page>
  )
}
