/** Small shared pieces of every page. Text is always rendered as text (JSX escapes it); never use dangerouslySetInnerHTML. */
import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError, get } from './api.ts'

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Inkstream`
  }, [props.title])
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  )
}

export function ErrorBox(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null
  const e = props.error
  const text = e instanceof ApiError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e)
  return (
    <p class="error" role="alert">
      {text}
    </p>
  )
}

export const Loading = () => (
  <p class="muted" aria-live="polite">
    Loading…
  </p>
)

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

/** GETs `path` (again when it changes, or every `refreshMs`); undefined path = nothing to load. */
export function useGet<T>(path: string | undefined, refreshMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: path !== undefined,
  })
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((t) => t + 1), [])
  useEffect(() => {
    if (path === undefined) return
    let live = true
    setState((s) => ({ ...s, loading: true }))
    get<T>(path).then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error) => live && setState((s) => ({ data: s.data, error, loading: false })),
    )
    const timer = refreshMs ? setTimeout(reload, refreshMs) : undefined
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [path, tick, refreshMs, reload])
  return { ...state, reload }
}

/** A locale time, or an em dash. */
export const when = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—'

export const num = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n)
    ? '—'
    : n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 })

export const pct = (r: number | null | undefined): string =>
  r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)} %`
