/**
 * `{% connected_content URL :save name :cache_max_age 30 :retry :timeout 200 :auth cred %}` —
 * Braze's syntax, so Braze templates port over. Values interpolated into the URL with `{{ }}` are
 * percent-encoded (a trait cannot add query parameters). Credentials are named, never written in
 * the template. The call is bounded by its timeout and by the render's deadline; when it fails,
 * the saved variable stays empty and placeholders that read it fall back with the call's reason.
 */
import {
  type Context,
  type Emitter,
  type Liquid,
  type Parser,
  Tag,
  type TagToken,
  type TopLevelToken,
  toValueSync,
  Value,
} from 'liquidjs'
import type {
  ConnectedContent,
  ConnectedContentOutcome,
  ConnectedContentRequest,
} from '../connected-content/connected-content.ts'
import { escapeHtml } from '../escape-html.ts'
import {
  type FallbackReason,
  type Fetched,
  NeedsAsyncRender,
  type RenderState,
  renderState,
} from '../render-state.ts'

/** Used when a template gives no `:timeout`; template lint warns about it. */
export const DEFAULT_SOURCE_TIMEOUT_MS = 300

export interface ConnectedContentArgs {
  /** The URL as written, with `{{ }}` expressions. */
  url: string
  save?: string
  cacheMaxAge?: number
  timeoutMs?: number
  retry: boolean
  method: 'GET' | 'POST'
  body?: string
  credential?: string
  headers?: Record<string, string>
}

const OPTION = /\s+:(\w+)/g

/** Splits the tag's markup into the URL and its `:options`. Throws with a message naming a bad option. */
export function parseConnectedContentArgs(markup: string): ConnectedContentArgs {
  const first = markup.search(/\s+:\w+/)
  const url = (first < 0 ? markup : markup.slice(0, first)).trim()
  if (!url) throw new Error('connected_content needs a URL')
  const args: ConnectedContentArgs = { url, retry: false, method: 'GET' }
  const rest = first < 0 ? '' : markup.slice(first)
  const names = [...rest.matchAll(OPTION)]
  names.forEach((m, i) => {
    const start = m.index + m[0].length
    const end = i + 1 < names.length ? names[i + 1]!.index : rest.length
    const value = rest.slice(start, end).trim()
    const need = () => {
      if (!value) throw new Error(`connected_content :${m[1]} needs a value`)
      return value
    }
    const num = () => {
      const n = Number(need())
      if (!Number.isFinite(n) || n < 0)
        throw new Error(`connected_content :${m[1]} must be a number, got "${value}"`)
      return n
    }
    switch (m[1]) {
      case 'save':
        if (!/^[A-Za-z_]\w*$/.test(need()))
          throw new Error(`connected_content :save needs a variable name, got "${value}"`)
        args.save = value
        break
      case 'cache_max_age':
        args.cacheMaxAge = num()
        break
      case 'timeout':
        args.timeoutMs = num()
        break
      case 'retry':
        args.retry = true
        break
      case 'method': {
        const method = need().toUpperCase()
        if (method !== 'GET' && method !== 'POST')
          throw new Error('connected_content :method must be get or post')
        args.method = method
        break
      }
      case 'body':
        args.body = need()
        break
      case 'auth':
      case 'basic_auth':
        args.credential = need()
        break
      case 'headers': {
        let parsed: unknown
        try {
          parsed = JSON.parse(need())
        } catch {
          throw new Error('connected_content :headers must be a JSON object')
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new Error('connected_content :headers must be a JSON object')
        }
        args.headers = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]))
        break
      }
      case 'content_type':
        args.headers = { ...args.headers, 'content-type': need() }
        break
      default:
        throw new Error(`connected_content does not know the option :${m[1]}`)
    }
  })
  return args
}

const reasonOf = (o: ConnectedContentOutcome): FallbackReason =>
  o.outcome === 'timeout' ? 'timeout' : 'error'

export type ConnectedContentTag = InstanceType<ReturnType<typeof connectedContentTag>>

export function connectedContentTag(cc: ConnectedContent) {
  return class ConnectedContentTag extends Tag {
    readonly args: ConnectedContentArgs
    /** The URL split into literal text and expressions. */
    readonly parts: (string | Value)[] = []
    /** The root variable of each expression in the URL (`user_id` in `{{ user_id | downcase }}`). */
    readonly roots: string[] = []

    constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid, _parser: Parser) {
      super(token, remain, liquid)
      this.args = parseConnectedContentArgs(token.args)
      const re = /\{\{(.*?)\}\}/g
      let last = 0
      for (const m of this.args.url.matchAll(re)) {
        this.parts.push(this.args.url.slice(last, m.index), new Value(m[1]!, liquid))
        const root = /^\s*([A-Za-z_][\w-]*)/.exec(m[1]!)?.[1]
        if (root !== undefined) this.roots.push(root)
        last = m.index + m[0].length
      }
      this.parts.push(this.args.url.slice(last))
    }

    /** The URL with its `{{ }}` values percent-encoded, evaluated synchronously. */
    url(ctx: Context): string {
      let url = ''
      for (const p of this.parts) {
        if (typeof p === 'string') url += p
        else url += encodeURIComponent(String(toValueSync(p.value(ctx, true)) ?? ''))
      }
      return url
    }

    /** The name faults and reports use: the `:save` name, else the URL's host. */
    sourceName(url: string): string {
      if (this.args.save !== undefined) return this.args.save
      try {
        return new URL(url).host
      } catch {
        return url
      }
    }

    /** Starts the call for this tag and URL, bounded by its timeout and the render's deadline. */
    start(url: string, state: RenderState | undefined): Promise<Fetched> {
      const started = performance.now()
      return this.#call(url, this.sourceName(url), this.#timeoutMs(state), state).then((outcome) => ({
        outcome,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      }))
    }

    /**
     * The call's outcome when a fresh cached response answers it synchronously (see
     * ConnectedContent.cachedSync); undefined when the call has to be started. A call a preview
     * delays or fails on purpose always goes the asynchronous way.
     */
    startSync(url: string, state: RenderState | undefined): Fetched | undefined {
      if (cc.cachedSync === undefined) return undefined
      const name = this.sourceName(url)
      const faults = state?.faults
      if ((faults?.delaySources?.[name] ?? 0) > 0 || faults?.failSources?.includes(name)) return undefined
      const started = performance.now()
      const outcome = cc.cachedSync(this.#request(url, this.#timeoutMs(state), state))
      if (outcome === undefined) return undefined
      return { outcome, durationMs: Math.round((performance.now() - started) * 10) / 10 }
    }

    /** The call's timeout: its own, capped by what is left of the render's deadline. */
    #timeoutMs(state: RenderState | undefined): number {
      const remaining = state ? state.deadline - Date.now() : DEFAULT_SOURCE_TIMEOUT_MS
      return Math.max(0, Math.min(this.args.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS, remaining))
    }

    #request(url: string, timeoutMs: number, state: RenderState | undefined): ConnectedContentRequest {
      return {
        workspaceId: state?.workspaceId ?? '',
        url,
        method: this.args.method,
        timeoutMs,
        retry: this.args.retry,
        ...(this.args.headers ? { headers: this.args.headers } : {}),
        ...(this.args.body !== undefined ? { body: this.args.body } : {}),
        ...(this.args.credential !== undefined ? { credential: this.args.credential } : {}),
        ...(this.args.cacheMaxAge !== undefined ? { cacheMaxAgeSeconds: this.args.cacheMaxAge } : {}),
      }
    }

    *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
      const state = renderState(ctx)
      const url = this.url(ctx)
      // Calls are normally started before the render (in parallel, see prefetchSources); a call
      // whose URL only exists mid-render (a variable assigned by the template) is made here, which
      // a synchronous render cannot do.
      let fetched = state?.prefetched.get(url)
      if (fetched === undefined || fetched instanceof Promise) {
        if (ctx.sync) throw new NeedsAsyncRender(`connected content ${url} was not prefetched`)
        const waitFrom = performance.now()
        fetched = (yield fetched ?? this.start(url, state)) as Fetched
        // Waiting for a source is not Liquid's work: the render-time limit does not count it.
        if (state) state.waitedMs += performance.now() - waitFrom
      }
      const { outcome, durationMs } = fetched
      state?.sources.push({
        name: this.sourceName(url),
        url,
        outcome: outcome.outcome,
        fromCache: outcome.outcome === 'success' && outcome.fromCache,
        ...('ageMs' in outcome ? { ageMs: outcome.ageMs } : {}),
        durationMs,
        ...('message' in outcome ? { message: outcome.message } : {}),
      })
      if (outcome.outcome === 'success' || outcome.outcome === 'stale') {
        if (this.args.save !== undefined) ctx.bottom()[this.args.save] = outcome.data
        else {
          const text = stringify(outcome.data)
          // liquidjs's escape filter needs a filter context (`this.context`), which a tag does not
          // have: calling it here threw, so every unsaved call failed its render. Same escaping.
          emitter.write(this.liquid.options.outputEscape ? escapeHtml(text) : text)
        }
        return
      }
      if (this.args.save !== undefined) state?.unavailable.set(this.args.save, reasonOf(outcome))
    }

    async #call(
      url: string,
      name: string,
      timeoutMs: number,
      state: RenderState | undefined,
    ): Promise<ConnectedContentOutcome> {
      const faults = state?.faults
      const start = Date.now()
      const delay = faults?.delaySources?.[name]
      if (delay !== undefined && delay > 0) {
        const waited = await sleep(Math.min(delay, timeoutMs))
        if (!waited || delay >= timeoutMs) {
          return {
            outcome: 'timeout',
            message: `injected delay of ${delay} ms exceeded the ${timeoutMs} ms budget`,
            durationMs: Date.now() - start,
          } as const
        }
      }
      if (faults?.failSources?.includes(name)) {
        return { outcome: 'error', message: 'injected failure', durationMs: Date.now() - start } as const
      }
      return cc.fetch(this.#request(url, Math.max(0, timeoutMs - (Date.now() - start)), state))
    }

    /** For static analysis (lint): the `:save` variable is local to the template. */
    *localScope() {
      if (this.args.save === undefined) return
      const token = this.token
      yield { content: this.args.save, getPosition: () => token.getPosition(), file: token.file } as never
    }

    *arguments() {
      for (const p of this.parts) if (typeof p !== 'string') yield p
    }
  }
}

const stringify = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))

const sleep = (ms: number): Promise<boolean> => new Promise((resolve) => setTimeout(() => resolve(true), ms))
