/**
 * Hash routes: `#/<page>/<rest…>?<query>`. A page is a component in pages.ts; it gets the rest of
 * the path as `params` and the query. Links are plain `<a href="#/templates/welcome">`.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'

export interface Route {
  page: string
  params: string[]
  query: URLSearchParams
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '')
  const [path = '', q = ''] = h.split('?', 2)
  const [page = '', ...params] = path.split('/').map((s) => decodeURIComponent(s))
  return { page: page || 'overview', params, query: new URLSearchParams(q) }
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    // Effects run after the first paint: a hash changed between the render and this subscription
    // (a link clicked, or a test navigating, right after sign-in) fired its event unheard. Read it
    // once more now; an unchanged hash renders nothing again.
    on()
    return () => removeEventListener('hashchange', on)
  }, [])
  return useMemo(() => parseHash(hash), [hash])
}

/** `#/page/a/b?x=1`, each part encoded. */
export function href(page: string, ...params: (string | number)[]): string {
  return `#/${[page, ...params].map((p) => encodeURIComponent(String(p))).join('/')}`
}

export function navigate(to: string): void {
  location.hash = to.startsWith('#') ? to.slice(1) : to
}
