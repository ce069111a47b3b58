/**
 * Connected content: outgoing HTTP calls made by templates (Braze's `{% connected_content %}`).
 * The fetcher never throws for an expected failure: every call returns an outcome the renderer
 * turns into data or a fallback, and the render report lists it.
 */

export interface ConnectedContentRequest {
  workspaceId: string
  url: string
  method?: 'GET' | 'POST'
  /** Extra request headers written in the template (never credentials). */
  headers?: Record<string, string>
  body?: string
  /** Name of a server-side credential whose headers are added to the request. */
  credential?: string
  /** Seconds a successful response is reused; capped by the fetcher's maxTtlSeconds. */
  cacheMaxAgeSeconds?: number
  /** Hard limit for this call, including retries. */
  timeoutMs: number
  /** One retry on a network error or 5xx, inside the same timeout. */
  retry?: boolean
  /** Aborted when the render's deadline passes. */
  signal?: AbortSignal
}

export type FailureReason = 'timeout' | 'error' | 'refused' | 'circuit-open'

export type ConnectedContentOutcome =
  | {
      outcome: 'success'
      data: unknown
      status: number
      fromCache: boolean
      /**
       * How old the response was when this call returned it: 0 when this call (or one it was
       * coalesced with) fetched it; now − the time it was cached for a cache hit.
       */
      ageMs: number
      durationMs: number
    }
  /** The call failed but a cached response (past its TTL) was served instead. */
  | {
      outcome: 'stale'
      data: unknown
      reason: FailureReason
      message: string
      ageMs: number
      durationMs: number
    }
  | { outcome: FailureReason; message: string; durationMs: number }

export interface ConnectedContent {
  fetch(req: ConnectedContentRequest): Promise<ConnectedContentOutcome>
  /**
   * The outcome `fetch` would give for a fresh cached response, when it can be had without I/O;
   * undefined otherwise (then call fetch). Lets a render whose sources are all cached stay
   * synchronous from start to end.
   */
  cachedSync?(req: ConnectedContentRequest): ConnectedContentOutcome | undefined
  close(): Promise<void>
}
