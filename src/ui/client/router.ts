/**
 * Hash routes: `#/<page>/<rest…>?<query>`. A page is a component in pages.ts; it gets the rest of
 * the path as `params` and the query. Links are plain `<a href="#/templates/welcome">`.
 */
import { useEffect, useState } from 'preact/hooks'

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
  const [route, setRoute] = useState(() => parseHash(location.hash))
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash))
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

/** `#/page/a/b?x=1`, each part encoded. */
export function href(page: string, ...params: (string | number)[]): string {
  return `#/${[page, ...params].map((p) => encodeURIComponent(String(p))).join('/')}`
}

export function navigate(to: string): void {
  location.hash = to.startsWith('#') ? to.slice(1) : to
}
