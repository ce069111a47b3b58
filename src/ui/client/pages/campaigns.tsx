/**
 * Campaigns (issue 13): `#/campaigns` lists them (with a form to create one from a template and a
 * segment); `#/campaigns/<id>` is one campaign with its controls, live progress and stats.
 */
import '../styles/ui-campaigns.css'
import { CampaignList } from '../components/ui-campaigns-list.tsx'
import { CampaignView } from '../components/ui-campaigns-view.tsx'
import type { PageProps } from '../pages.ts'
import { Page } from '../ui.tsx'

export default function CampaignsPage(props: PageProps) {
  const id = props.route.params[0]
  return <Page title="Campaigns">{id ? <CampaignView key={id} id={id} /> : <CampaignList />}</Page>
}
