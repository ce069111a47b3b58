/**
 * ConnectedContent over node:http(s): the private-address guard, per-workspace credentials, a TTL
 * cache with stale fallback, request coalescing, a circuit breaker per host, and deadlines.
 * Every expected failure is returned as an outcome; fetch() never throws.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { performance } from 'node:perf_hooks'
import type { Clock } from '../../core/types.ts'
import { systemClock } from '../../core/types.ts'
import type { Cache, CacheEntry } from '../cache/cache.ts'
import { MemoryCache } from '../cache/memory-cache.ts'
import type { Resolver } from './address-guard.ts'
import { vetHost } from './address-guard.ts'
import type { AllowList } from './allow-list.ts'
import { compileAllowList, emptyAllowList } from './allow-list.ts'
import { CircuitBreakers } from './circuit-breaker.ts'
import { Coalescer } from './coalescer.ts'
import type {
  ConnectedContent,
  ConnectedContentOutcome,
  ConnectedContentRequest,
  FailureReason,
} from './connected-content.ts'
import { CallTimedOut, raceAbort, startDeadline } from './deadline.ts'
import { attempt } from './http-attempt.ts'
import type { HttpConnectedContentOptions } from './options.ts'
import { defaults, validateOptions } from './options.ts'
import type { PinnedAgents } from './pinned-agent.ts'
import { createPinnedAgents } from './pinned-agent.ts'
import { prepareHeaders, redactor } from './request-headers.ts'
import { requestKey } from './request-key.ts'
import type { Target } from './target.ts'
import { parseTarget } from './target.ts'

type Loaded =
  | { ok: true; status: number; data: unknown }
  | { ok: false; reason: FailureReason; message: string }

/** A call ready for the cache: its target, cache key, allow-list and credential headers. */
interface Prepared {
  target: Target
  key: string
  allowList: AllowList
  credentialHeaders: Record<string, string>
}

interface CachedResponse {
  status: number
  data: unknown
}

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

const TIMED_OUT = Symbol('timed out')
/** Distinct allow-lists kept compiled (one per workspace configuration). */
const MAX_ALLOW_LISTS = 256

export class HttpConnectedContent implements ConnectedContent {
  readonly #opts: HttpConnectedContentOptions
  readonly #clock: Clock
  readonly #cache: Cache
  readonly #ownsCache: boolean
  readonly #resolve: Resolver
  readonly #ports: ReadonlySet<number>
  readonly #breakers: CircuitBreakers
  readonly #coalescer = new Coalescer<Loaded>()
  readonly #agents: PinnedAgents = createPinnedAgents()
  readonly #allowLists = new WeakMap<readonly string[], AllowList>()
  readonly #allowListsByText = new Map<string, AllowList>()
  #closed = false

  constructor(opts: HttpConnectedContentOptions = {}) {
    validateOptions(opts)
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
    this.#ownsCache = opts.cache === undefined
    this.#cache = opts.cache ?? new MemoryCache({ clock: this.#clock })
    this.#resolve = opts.lookup ?? systemResolver
    this.#ports = new Set(opts.allowedPorts ?? defaults.allowedPorts)
    this.#breakers = new CircuitBreakers(
      {
        failureThreshold: opts.failureThreshold ?? 5,
        failureRate: opts.failureRate ?? 0.5,
        rateWindow: opts.failureRateWindow ?? 20,
        coolDownMs: opts.coolDownMs ?? 30_000,
      },
      this.#clock,
    )
  }

  async fetch(req: ConnectedContentRequest): Promise<ConnectedContentOutcome> {
    const started = performance.now()
    let outcome: ConnectedContentOutcome
    try {
      outcome = await this.#fetch(req, started)
    } catch (err) {
      // A bug, not an expected failure: still an outcome, so the render falls back instead of failing.
      const reason = err instanceof Error ? err.message : String(err)
      outcome = { outcome: 'error', message: `internal error: ${reason}`, durationMs: since(started) }
    }
    this.#report(req, outcome)
    return outcome
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#agents.destroy()
    if (this.#ownsCache) await this.#cache.close()
  }

  /**
   * A fresh cached response, answered synchronously when the cache can do it without I/O (the
   * in-process cache): the same outcome `fetch` gives for a fresh hit, and reported the same way,
   * with no timer and no promise. undefined otherwise (a miss, a stale entry, a refused call, a
   * cache that needs I/O): then `fetch` decides.
   */
  cachedSync(req: ConnectedContentRequest): ConnectedContentOutcome | undefined {
    if (this.#closed || this.#cache.peek === undefined) return undefined
    const started = performance.now()
    let prepared: Prepared | string
    try {
      prepared = this.#prepare(req)
    } catch {
      return undefined // fetch turns the same error into its outcome
    }
    if (typeof prepared === 'string') return undefined
    const hit = this.#fresh(this.#cache.peek(prepared.key), started)
    if (hit !== undefined) this.#report(req, hit, prepared.target.url.host)
    return hit
  }

  async #fetch(req: ConnectedContentRequest, started: number): Promise<ConnectedContentOutcome> {
    if (this.#closed) return { outcome: 'error', message: 'connected content is shut down', durationMs: 0 }
    const prepared = this.#prepare(req)
    if (typeof prepared === 'string')
      return { outcome: 'refused', message: prepared, durationMs: since(started) }
    const { target, key, allowList, credentialHeaders } = prepared

    // A fresh cached response (the common case in a campaign) needs no abort machinery: an
    // in-process cache answers at once, any other lookup is only raced against the call's timeout.
    const cached = this.#cache.peek ? this.#cache.peek(key) : await this.#cacheGet(key, req.timeoutMs)
    if (cached === TIMED_OUT)
      return this.#failure(
        'timeout',
        `${target.display}: the cache did not answer in time`,
        undefined,
        started,
      )
    const hit = this.#fresh(cached, started)
    if (hit !== undefined) return hit
    const redact = redactor(Object.values(credentialHeaders))
    const method = req.method ?? 'GET'
    const headers = prepareHeaders(
      req.headers ?? {},
      credentialHeaders,
      this.#opts.userAgent ?? defaults.userAgent,
    )
    const deadline = startDeadline(req.timeoutMs - since(started), req.signal, req.timeoutMs)
    try {
      const allowListed = allowList.allows(target.hostname, target.port)
      const load = (signal: AbortSignal) =>
        this.#load(key, target, allowListed, req, { method, headers }, signal)
      const loaded = await this.#coalescer.run(key, load, deadline.signal)
      if (loaded.ok) {
        return {
          outcome: 'success',
          status: loaded.status,
          data: loaded.data,
          fromCache: false,
          ageMs: 0,
          durationMs: since(started),
        }
      }
      return this.#failure(loaded.reason, redact(loaded.message), cached, started)
    } catch (err) {
      if (!deadline.signal.aborted) throw err
      const why = err instanceof CallTimedOut ? err.message : 'the render deadline passed first'
      return this.#failure('timeout', `${target.display}: ${why}`, cached, started)
    } finally {
      deadline.dispose()
    }
  }

  /** What a call needs before the cache is asked: its target and key; a string says why it is refused. */
  #prepare(req: ConnectedContentRequest): Prepared | string {
    const allowList = this.#allowList(req.workspaceId)
    const parsed = parseTarget(req.url, this.#ports, allowList)
    if (!parsed.ok) return parsed.message
    const { target } = parsed
    let credentialHeaders: Record<string, string> = {}
    if (req.credential !== undefined) {
      const found = this.#opts.credentials?.(req.workspaceId, req.credential)
      if (found === undefined)
        return `credential "${req.credential}" is not defined for this workspace; add it in the settings`
      credentialHeaders = found
    }
    const key = requestKey({
      workspaceId: req.workspaceId,
      method: req.method ?? 'GET',
      url: target.url.href,
      body: req.body,
      headers: req.headers ?? {},
      credential: req.credential,
      credentialHeaders,
    })
    return { target, key, allowList, credentialHeaders }
  }

  /** The success outcome of a cached entry still within its TTL; undefined for anything else. */
  #fresh(cached: CacheEntry | undefined, started: number): ConnectedContentOutcome | undefined {
    if (cached === undefined || !isCachedResponse(cached.value)) return undefined
    const now = this.#clock.now()
    if (now >= cached.expiresAt) return undefined
    const ageMs = Math.max(0, now - cached.storedAt)
    return { outcome: 'success', ...cached.value, fromCache: true, ageMs, durationMs: since(started) }
  }

  /** The one outgoing call behind every coalesced caller: breaker, guard, request, retry, cache. */
  async #load(
    key: string,
    target: Target,
    allowListed: boolean,
    req: ConnectedContentRequest,
    prepared: { method: 'GET' | 'POST'; headers: Record<string, string> },
    signal: AbortSignal,
  ): Promise<Loaded> {
    const breaker = this.#breakers.get(target.hostKey)
    const permit = breaker.admit()
    if (permit === undefined) {
      const wait = Math.ceil(breaker.retryInMs() / 1000)
      return {
        ok: false,
        reason: 'circuit-open',
        message: `${target.hostKey} failed repeatedly; calls to it are paused${wait > 0 ? ` for ${wait} s` : ''}`,
      }
    }
    try {
      const vetted = await raceAbort(
        vetHost(target.hostname, target.display, allowListed, this.#resolve),
        signal,
      )
      if (!vetted.ok) {
        if (vetted.refused) permit.release()
        else permit.fail()
        return { ok: false, reason: vetted.refused ? 'refused' : 'error', message: vetted.message }
      }
      const once = () =>
        attempt({
          target,
          addresses: vetted.addresses,
          method: prepared.method,
          headers: prepared.headers,
          body: req.body,
          maxBytes: this.#opts.maxBytes ?? defaults.maxBytes,
          agents: this.#agents,
          signal,
        })
      let result = await once()
      if (!result.ok && result.kind === 'retryable' && req.retry === true && !signal.aborted)
        result = await once()
      if (result.ok) {
        permit.succeed()
        await this.#cacheSet(key, { status: result.status, data: result.data }, req.cacheMaxAgeSeconds)
        return { ok: true, status: result.status, data: result.data }
      }
      if (result.kind === 'aborted') throw signal.reason
      if (result.kind === 'retryable') permit.fail()
      else if (result.kind === 'final') permit.succeed() // the host is up, even if this answer is unusable
      return { ok: false, reason: 'error', message: result.message }
    } catch (err) {
      // Aborted: our own timeout says the host hangs; a cancelled render says nothing about it.
      if (signal.reason instanceof CallTimedOut) permit.fail()
      throw err
    } finally {
      permit.release() // no-op when a result was reported
    }
  }

  #failure(
    reason: FailureReason,
    message: string,
    cached: CacheEntry | undefined,
    started: number,
  ): ConnectedContentOutcome {
    if (reason !== 'refused' && cached !== undefined && isCachedResponse(cached.value)) {
      const ageMs = Math.max(0, this.#clock.now() - cached.storedAt)
      return { outcome: 'stale', data: cached.value.data, reason, message, ageMs, durationMs: since(started) }
    }
    return { outcome: reason, message, durationMs: since(started) }
  }

  /** A cache that fails or hangs (Redis down) is a miss, never a failed call. */
  /** The cached entry, undefined on a miss or a failing cache, TIMED_OUT if the cache is slower than timeoutMs. */
  async #cacheGet(key: string, timeoutMs: number): Promise<CacheEntry | undefined | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, timeoutMs))
    })
    try {
      return await Promise.race([this.#cache.get(key).catch(() => undefined), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async #cacheSet(key: string, value: CachedResponse, maxAgeSeconds: number | undefined): Promise<void> {
    const max = this.#opts.maxTtlSeconds ?? defaults.maxTtlSeconds
    const wanted = maxAgeSeconds ?? this.#opts.defaultTtlSeconds ?? defaults.defaultTtlSeconds
    const ttlSeconds = Math.min(max, Math.max(0, Number.isFinite(wanted) ? wanted : 0))
    const staleSeconds = this.#opts.staleForSeconds ?? defaults.staleForSeconds
    try {
      await this.#cache.set(key, value, ttlSeconds * 1000, staleSeconds * 1000)
    } catch {
      // Caching is an optimisation; the fresh response is still returned.
    }
  }

  /**
   * The workspace's allow-list, compiled once per list: by the array's identity (the config's own
   * array), else by its entries, so a callback that builds a new array per call does not re-parse.
   */
  #allowList(workspaceId: string): AllowList {
    const entries = this.#opts.allowHosts?.(workspaceId)
    if (entries === undefined || entries.length === 0) return emptyAllowList
    let compiled = this.#allowLists.get(entries)
    if (compiled === undefined) {
      const text = entries.join('\n')
      compiled = this.#allowListsByText.get(text)
      if (compiled === undefined) {
        compiled = compileAllowList(entries)
        if (this.#allowListsByText.size >= MAX_ALLOW_LISTS) this.#allowListsByText.clear()
        this.#allowListsByText.set(text, compiled)
      }
      this.#allowLists.set(entries, compiled)
    }
    return compiled
  }

  /** `host`: the URL's host when the caller already parsed it. */
  #report(req: ConnectedContentRequest, outcome: ConnectedContentOutcome, host?: string): void {
    if (this.#opts.onCall === undefined) return
    if (host === undefined) {
      try {
        host = new URL(req.url).host
      } catch {
        host = ''
      }
    }
    try {
      this.#opts.onCall({
        workspaceId: req.workspaceId,
        host,
        outcome: outcome.outcome,
        durationMs: outcome.durationMs,
        cache:
          outcome.outcome === 'success'
            ? outcome.fromCache
              ? 'hit'
              : 'miss'
            : outcome.outcome === 'stale'
              ? 'stale'
              : outcome.outcome === 'refused'
                ? undefined
                : 'miss',
      })
    } catch {
      // Observability must not break a render.
    }
  }
}

const since = (started: number) => Math.round((performance.now() - started) * 10) / 10

const isCachedResponse = (value: unknown): value is CachedResponse =>
  typeof value === 'object' &&
  value !== null &&
  'status' in value &&
  typeof value.status === 'number' &&
  'data' in value
