/**
 * The bounded fetcher for remote `<img src="https://…">` in a live block (live-images never fetches on
 * its own: image-markup.ts). Same guard as connected content — http(s) only, no user info, allowed
 * ports, every resolved address public unless the host is in `connectedContent.allowHosts`, the
 * connection pinned to the vetted addresses (no DNS rebinding) — plus: a timeout (the open's deadline
 * plus a grace for the cached drawing, below), a size cap, image media types only, no redirects. Fetched images go through the
 * block cache (by URL, the block-cache TTL), so a product image shown to many recipients is fetched
 * once per TTL. Anything that fails resolves undefined: the image box stays empty, the block renders.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { type Resolver, vetHost } from '../content/connected-content/address-guard.ts'
import { compileAllowList } from '../content/connected-content/allow-list.ts'
import { createPinnedAgents, pinnedLookup } from '../content/connected-content/pinned-agent.ts'
import { parseTarget } from '../content/connected-content/target.ts'
import { BlockCache } from './block-cache.ts'
import type { FetchedImage, ImageFetcher } from './image-markup.ts'

/** Media types satori decodes (image-markup.ts). */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'])
const PORTS: ReadonlySet<number> = new Set([80, 443, 8080, 8443])
/** A product photo for a 600 px block is tens of KB; refuse to buffer more than this. */
const MAX_IMAGE_BYTES = 2 * 1024 * 1024
/**
 * How long past the open's deadline a fetch may go on: that open is answered with the fallback at
 * its deadline anyway, while the drawing finishes (with the photo) into the block cache for the next.
 */
const GRACE_MS = 2_000
const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

export interface BlockImageFetchOptions {
  allowHosts: () => readonly string[]
  cache: BlockCache
  resolve?: Resolver
  maxBytes?: number
}

export interface BlockImageFetch {
  /** A fetcher for one open, bounded by its absolute deadline (Date.now() ms). */
  forDeadline(workspaceId: string, deadline: number): ImageFetcher
  close(): void
}

export function createBlockImageFetch(o: BlockImageFetchOptions): BlockImageFetch {
  const agents = createPinnedAgents()
  const resolve = o.resolve ?? systemResolver
  const maxBytes = o.maxBytes ?? MAX_IMAGE_BYTES

  async function fetchOnce(raw: string, deadline: number): Promise<FetchedImage | undefined> {
    const allow = compileAllowList(o.allowHosts())
    const parsed = parseTarget(raw, PORTS, allow)
    if (!parsed.ok) return undefined
    const t = parsed.target
    const vetted = await vetHost(t.hostname, t.display, allow.allows(t.hostname, t.port), resolve)
    if (!vetted.ok) return undefined
    const timeoutMs = Math.max(0, deadline - Date.now()) + GRACE_MS
    const mod = t.protocol === 'https:' ? https : http
    return new Promise<FetchedImage | undefined>((done) => {
      const req = mod.request(t.url, {
        method: 'GET',
        agent: t.protocol === 'https:' ? agents.https : agents.http,
        lookup: pinnedLookup(vetted.addresses),
        pinned: vetted.addresses,
        headers: { accept: [...IMAGE_TYPES].join(', '), 'user-agent': 'Inkstream open-time' },
      } as https.RequestOptions)
      const timer = setTimeout(() => req.destroy(new Error('late')), timeoutMs)
      const finish = (v: FetchedImage | undefined) => {
        clearTimeout(timer)
        done(v)
      }
      req.on('error', () => finish(undefined))
      req.on('response', (res) => {
        const type = String(res.headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim()
          .toLowerCase()
        const declared = Number(res.headers['content-length'] ?? 0)
        if (res.statusCode !== 200 || type === undefined || !IMAGE_TYPES.has(type) || declared > maxBytes) {
          res.resume()
          req.destroy()
          return finish(undefined)
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > maxBytes) {
            req.destroy()
            finish(undefined)
          } else chunks.push(c)
        })
        res.on('end', () => finish({ contentType: type, body: Buffer.concat(chunks) }))
        res.on('error', () => finish(undefined))
      })
      req.end()
    })
  }

  return {
    forDeadline(workspaceId, deadline) {
      return async (url) => {
        const key = BlockCache.key(workspaceId, 'img', url)
        const cached = await o.cache.get('img', key)
        if (cached !== undefined) {
          const nl = cached.indexOf(0x0a)
          return { contentType: cached.subarray(0, nl).toString('latin1'), body: cached.subarray(nl + 1) }
        }
        const got = await fetchOnce(url, deadline).catch(() => undefined)
        if (got !== undefined)
          void o.cache.set(key, Buffer.concat([Buffer.from(`${got.contentType}\n`, 'latin1'), got.body]))
        return got
      }
    },
    close: () => agents.destroy(),
  }
}
