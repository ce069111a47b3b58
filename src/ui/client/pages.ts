/**
 * The dashboard's pages, in navigation order. Each page is one module under pages/ (loaded on
 * demand: the editor's CodeMirror is only fetched on the templates page).
 */
import type { ComponentType } from 'preact'
import type { Route } from './router.ts'

export interface PageProps {
  route: Route
}

export interface PageEntry {
  id: string
  label: string
  load: () => Promise<{ default: ComponentType<PageProps> }>
}

export const PAGES: PageEntry[] = [
  { id: 'overview', label: 'Overview', load: () => import('./pages/overview.tsx') },
  { id: 'templates', label: 'Templates', load: () => import('./pages/templates.tsx') },
  { id: 'profiles', label: 'Profiles', load: () => import('./pages/profiles.tsx') },
  { id: 'segments', label: 'Segments & triggers', load: () => import('./pages/segments.tsx') },
  { id: 'campaigns', label: 'Campaigns', load: () => import('./pages/campaigns.tsx') },
  { id: 'alerts', label: 'Alerts', load: () => import('./pages/alerts.tsx') },
]
