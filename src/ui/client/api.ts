/**
 * The dashboard's one way to call the server: the admin API (/v1/…) and /ui/session, with the
 * session cookie (sent by the browser) and, on every state change, the CSRF token.
 */

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export interface Session {
  signedIn: true
  workspace: string
  csrfToken: string
  csrfHeader: string
  expiresAt: string
}

let session: Session | undefined
const signedOutListeners = new Set<() => void>()

export const currentSession = (): Session | undefined => session
export function setSession(s: Session | undefined): void {
  session = s
}
/** Called when a request finds the session gone (401): the shell shows the sign-in form. */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener)
  return () => signedOutListeners.delete(listener)
}

/** Calls `path` (same origin); returns the parsed JSON body (undefined for 204). Throws ApiError. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && method !== 'HEAD' && session) headers[session.csrfHeader] = session.csrfToken
  const init: RequestInit = { method, headers, credentials: 'same-origin' }
  if (body !== undefined) init.body = JSON.stringify(body)
  const res = await fetch(path, init)
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const err = (json ?? {}) as { code?: string; message?: string }
    if (res.status === 401 && !path.startsWith('/ui/session')) {
      session = undefined
      for (const l of signedOutListeners) l()
    }
    throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText)
  }
  return json as T
}

export const get = <T = unknown>(path: string) => api<T>('GET', path)
export const post = <T = unknown>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T = unknown>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {})
export const patch = <T = unknown>(path: string, body?: unknown) => api<T>('PATCH', path, body ?? {})
export const del = <T = unknown>(path: string) => api<T>('DELETE', path)

/** `a=1&b=2` from the defined entries of `q`. */
export function query(q: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}
