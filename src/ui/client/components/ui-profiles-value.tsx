/**
 * Profile data as text: a trait value, an event's properties. Strings are shown as they are, other
 * scalars as JSON literals, objects and arrays as indented JSON. Always through JSX text nodes, so
 * markup in a value (an XSS payload in a trait or a user agent) is shown, never parsed.
 */

/** A value as the text the page shows. */
export function valueText(v: unknown): string {
  if (typeof v === 'string') return v
  if (v === undefined) return ''
  return JSON.stringify(v, null, typeof v === 'object' && v !== null ? 2 : undefined)
}

export function Value(props: { value: unknown }) {
  const v = props.value
  if (typeof v === 'object' && v !== null) return <pre class="pf-json">{valueText(v)}</pre>
  return <span class={typeof v === 'string' ? 'pf-text' : 'pf-scalar'}>{valueText(v)}</span>
}

/** A time as a `<time>` element: locale text, ISO in `datetime`. */
export function Time(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span>—</span>
  return (
    <time dateTime={props.iso}>
      {new Date(props.iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
    </time>
  )
}
