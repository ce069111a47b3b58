/**
 * Open-time freshness, the pure part: how old the data a render showed was. Each input's age is
 * taken when the render read it — the profile's traits (0 when read from the store, the cached
 * copy's age otherwise) and every connected-content response the render used (0 when this render's
 * call fetched it, the cached or stale copy's age otherwise). A render's data age is the oldest of
 * them: what the recipient saw was at most that old.
 */
import type { RenderReport } from './render-email.ts'

/** The oldest input age of a render, ms; undefined when it read no data (no traits, no response). */
export function dataAgeOf(report: Pick<RenderReport, 'profile' | 'sources'>): number | undefined {
  let age = report.profile.ageMs
  for (const s of report.sources) {
    if (s.ageMs === undefined || (s.outcome !== 'success' && s.outcome !== 'stale')) continue
    age = age === undefined ? s.ageMs : Math.max(age, s.ageMs)
  }
  return age === undefined ? undefined : Math.max(0, Math.round(age))
}
