/**
 * The dashboard's shell: asks /ui/session who is signed in, shows the sign-in form or the
 * navigation and the current page (hash routes, router.ts; pages, pages.ts).
 */
import './styles.css'
import type { ComponentType } from 'preact'
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, del, onSignedOut, type Session, setSession } from './api.ts'
import { PAGES, type PageProps } from './pages.ts'
import { href, useRoute } from './router.ts'
import { ErrorBox, Loading } from './ui.tsx'

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      props.onSignedIn(await api<Session>('POST', '/ui/session', { adminKey: key.trim() }))
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Inkstream</h1>
        <p class="muted">Sign in with your workspace's admin key.</p>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="adminKey"
          type="password"
          autocomplete="current-password"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  )
}

function CurrentPage(props: PageProps) {
  const entry = PAGES.find((p) => p.id === props.route.page)
  const [loaded, setLoaded] = useState<{ id: string; Component: ComponentType<PageProps> }>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    if (!entry) return
    let live = true
    entry.load().then(
      (m) => live && setLoaded({ id: entry.id, Component: m.default }),
      (e) => live && setError(e),
    )
    return () => {
      live = false
    }
  }, [entry])
  if (!entry) return <p class="error">No page named “{props.route.page}”.</p>
  if (error) return <ErrorBox error={error} />
  if (!loaded || loaded.id !== entry.id) return <Loading />
  const { Component } = loaded
  return <Component route={props.route} />
}

function Shell(props: { session: Session; onSignOut: () => void }) {
  const route = useRoute()
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Inkstream</span>
        <nav aria-label="Main">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} aria-current={route.page === p.id ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="workspace" title="Workspace">
          {props.session.workspace}
        </span>
        <button type="button" class="link" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <CurrentPage route={route} />
      </main>
    </div>
  )
}

function App() {
  const [session, setS] = useState<Session | null>()
  const [error, setError] = useState<unknown>()
  const use = (s: Session | null) => {
    setSession(s ?? undefined)
    setS(s)
  }
  useEffect(() => {
    api<Session | { signedIn: false }>('GET', '/ui/session').then(
      (s) => use(s.signedIn ? s : null),
      (e) => setError(e),
    )
    return onSignedOut(() => use(null))
  }, [])
  if (error) return <ErrorBox error={error} />
  if (session === undefined) return <Loading />
  if (session === null) return <SignIn onSignedIn={use} />
  const signOut = () => {
    del('/ui/session').finally(() => use(null))
  }
  return <Shell session={session} onSignOut={signOut} />
}

const root = document.getElementById('app')
if (root) render(<App />, root)
