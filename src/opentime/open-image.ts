/**
 * The image answer of an open (`.png`, `.gif`): what decides the bytes is hashed into the ETag and
 * the block-cache key before anything is drawn, so a 304 or a cache hit costs no drawing; a drawing
 * goes through the gate (draw-gate.ts) and is raced against the deadline; late or failed, the
 * block's fallback text as an image (or a transparent one of the declared size) answers instead.
 */
import type { Clock } from '../core/types.ts'
import type { BlockRender } from '../render/render-block.ts'
import { BlockCache } from './block-cache.ts'
import type { BlockImageFetch } from './block-image-fetch.ts'
import type { DrawGate } from './draw-gate.ts'
import { cacheControl, NO_STORE, notModified, strongEtag } from './edge-cache.ts'
import { fallbackCount, type Served, withTimeout } from './open-helpers.ts'
import type { OpenImages } from './rasterize.ts'

/** A slot for drawing granted with less time than this left is not worth taking: answer the fallback. */
const DRAW_RESERVE_MS = 10
/**
 * Longest an open waits for a drawing slot. Drawing is ~9 ms of CPU (bench open-png), so a queue
 * longer than a few drawings only turns overload into latency: past this, the open answers its
 * fallback now, and the real image is drawn when a slot is free for a later open.
 */
const MAX_DRAW_WAIT_MS = 40
/** A countdown's frames start at the second it is fetched: its image is cached one second. */
const COUNTDOWN_TTL_S = 1

export interface OpenImageDeps {
  blockCache: BlockCache
  images: OpenImages
  gate: DrawGate
  clock: Clock
  /** `openTime.cacheTtlSeconds`. */
  ttlSeconds: () => number
  imageFetch?: Pick<BlockImageFetch, 'forDeadline'> | undefined
  onError?: ((err: unknown, what: string) => void) | undefined
}

export interface ImageRequest {
  workspaceId: string
  r: BlockRender
  /** Absolute (Date.now()) time by which the answer must be ready. */
  deadline: number
  ifNoneMatch: string | undefined
}

export class OpenImageAnswers {
  readonly #inflight = new Map<string, Promise<Buffer>>()

  constructor(private readonly deps: OpenImageDeps) {}

  /**
   * PNG of an image block, GIF of a countdown (its fallback text as a GIF when it fell back). The
   * ETag and the block-cache key hash what decides the bytes, so a 304 or a hit costs no drawing.
   */
  async answer(a: ImageRequest): Promise<Served> {
    const { r } = a
    const { def } = r
    const ws = a.workspaceId
    const size = { width: def.width, height: def.height }
    const dims = [String(def.width), String(def.height)]
    const ttl = this.deps.ttlSeconds()
    const images = this.deps.images
    let fallbacks = fallbackCount(r)
    const taken = r.report.fallbacks
    const headers: Record<string, string> = {
      'x-ink-profile': r.report.profile.outcome,
      'x-ink-fallbacks': String(fallbacks),
    }
    let parts: string[]
    let make: () => Promise<Buffer>
    let edge = cacheControl({ ttlSeconds: ttl, scope: def.cache })
    let ttlMs: number | undefined
    const untilMs = r.untilMs
    if (def.kind === 'countdown' && untilMs !== undefined) {
      // Frames start at the second of the request: a countdown is cached one second, not revalidated stale.
      const nowMs = Math.floor(this.deps.clock.now() / 1000) * 1000
      parts = ['gif', String(untilMs), String(nowMs), ...dims]
      make = () => images.renderCountdownGif({ untilMs, nowMs, ...size })
      edge = cacheControl({ ttlSeconds: Math.min(ttl, COUNTDOWN_TTL_S), scope: def.cache, revalidate: false })
      ttlMs = COUNTDOWN_TTL_S * 1000
    } else if (def.kind === 'countdown') {
      parts = ['fallback-gif', r.text, ...dims]
      make = () => images.fallbackGif(r.text, size)
    } else {
      parts = ['png', r.markup, ...dims]
      make = () => images.renderBlockPng(r.markup, size, this.deps.imageFetch?.forDeadline(ws, a.deadline))
    }
    const type = def.kind === 'countdown' ? 'image/gif' : 'image/png'
    const layer = def.kind === 'countdown' ? 'gif' : 'png'
    const etag = strongEtag(...parts)
    if (notModified(a.ifNoneMatch, etag))
      return {
        fallbacks,
        taken,
        response: { status: 304, headers: { ...headers, etag, 'cache-control': edge } },
      }
    const key = BlockCache.key(ws, layer, ...parts)
    const ok = (body: Buffer): Served => ({
      fallbacks,
      taken,
      response: {
        status: 200,
        headers: { ...headers, etag, 'cache-control': edge, 'content-type': type },
        body,
      },
    })
    const cached = await this.deps.blockCache.get(layer, key)
    if (cached !== undefined) return ok(cached)
    const bytes = await this.#draw(key, make, a.deadline, ttlMs)
    if (bytes !== undefined) return ok(bytes)
    // Late or failed: the fallback image, never cached at the edge (the next open gets the real one).
    fallbacks += 1
    headers['x-ink-fallbacks'] = String(fallbacks)
    const fallback = await this.#fallbackImage(ws, r.text, size, a.deadline)
    return {
      fallbacks,
      // The drawing missed the open's deadline (or failed): the block as a whole fell back.
      taken: [
        ...taken,
        { placeholder: `${def.kind === 'countdown' ? 'countdown' : 'live'} ${def.name}`, reason: 'timeout' },
      ],
      response: {
        status: 200,
        headers: {
          ...headers,
          etag: strongEtag(fallback),
          'cache-control': NO_STORE,
          'content-type': 'image/png',
        },
        body: fallback,
      },
    }
  }

  /**
   * The fallback text as a PNG, from the block cache or drawn within what is left of the deadline;
   * when even that is late, a transparent PNG of the declared size (the drawing still finishes into
   * the cache for the next open).
   */
  async #fallbackImage(
    ws: string,
    text: string,
    size: { width: number; height: number },
    deadline: number,
  ): Promise<Buffer> {
    const key = BlockCache.key(ws, 'fallback', text, size.width, size.height)
    const cached = await this.deps.blockCache.get('fallback', key)
    if (cached !== undefined) return cached
    const png = await this.#draw(key, () => this.deps.images.fallbackPng(text, size), deadline)
    return png ?? this.deps.images.blankPng(size.width, size.height)
  }

  /**
   * Draws through the gate (draw-gate.ts) and races the drawing against the deadline; undefined when
   * no slot freed up in time, the drawing failed, or it is late — it then finishes into the block
   * cache for the next open. Concurrent requests for one key share one drawing.
   */
  async #draw(
    key: string,
    make: () => Promise<Buffer>,
    deadline: number,
    ttlMs?: number,
  ): Promise<Buffer | undefined> {
    let job = this.#inflight.get(key)
    if (job === undefined) {
      const wait = Math.min(deadline - Date.now() - DRAW_RESERVE_MS, MAX_DRAW_WAIT_MS)
      const release = await this.deps.gate.acquire(wait)
      if (release === undefined) return undefined
      // Granted too late to finish: leave the slot to the next open (this one answers its fallback).
      if (deadline - Date.now() < DRAW_RESERVE_MS) {
        release()
        return undefined
      }
      job = this.#inflight.get(key)
      if (job !== undefined) release()
      else {
        const started = make().then((bytes) => {
          void this.deps.blockCache.set(key, bytes, ttlMs)
          return bytes
        })
        job = started
        this.#inflight.set(key, started)
        started.then(
          () => {
            this.#inflight.delete(key)
            release()
          },
          (err) => {
            this.#inflight.delete(key)
            release()
            this.deps.onError?.(err, 'open-time image')
          },
        )
      }
    }
    const bytes = await withTimeout(job, deadline - Date.now()).catch(() => undefined)
    return bytes === 'timeout' ? undefined : bytes
  }
}
