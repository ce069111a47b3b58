/** The alerts page (issue 13). Being built: see docs/ui-contract.md. */
import type { PageProps } from '../pages.ts'
import { Page } from '../ui.tsx'

export default function AlertsPage(_props: PageProps) {
  return (
    <Page title="Alerts">
      <p class="muted">This page is being built.</p>
    </Page>
  )
}
