/**
 * HTTP(S) agents that connect only to addresses already vetted by the address guard. The request
 * carries the vetted addresses; the agent's lookup hands them back instead of asking DNS again
 * (so DNS rebinding between check and connect cannot happen), and they are part of the pool key,
 * so a kept-alive socket is reused only for a request vetted to the same addresses.
 */
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { ResolvedAddress } from './address-guard.ts'

export interface PinnedRequestOptions extends https.RequestOptions {
  pinned: readonly ResolvedAddress[]
}

const pinKey = (options?: { pinned?: readonly ResolvedAddress[] }) =>
  (options?.pinned ?? []).map((a) => a.address).join(',')

class PinnedHttpAgent extends http.Agent {
  override getName(options?: http.ClientRequestArgs & { pinned?: readonly ResolvedAddress[] }): string {
    return `${super.getName(options)}|${pinKey(options)}`
  }
}

class PinnedHttpsAgent extends https.Agent {
  override getName(options?: https.RequestOptions & { pinned?: readonly ResolvedAddress[] }): string {
    return `${super.getName(options)}|${pinKey(options)}`
  }
}

export interface PinnedAgents {
  http: http.Agent
  https: https.Agent
  /** Destroys every pooled socket. */
  destroy(): void
}

export function createPinnedAgents(): PinnedAgents {
  // Idle sockets are dropped after 4 s, before the common 5 s server keep-alive timeout closes them
  // under a request (Node also honours a shorter `Keep-Alive: timeout=` hint from the server).
  const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4_000 }
  const agents = { http: new PinnedHttpAgent(opts), https: new PinnedHttpsAgent(opts) }
  return {
    ...agents,
    destroy() {
      agents.http.destroy()
      agents.https.destroy()
    },
  }
}

/** A `lookup` for http.request that answers with the vetted addresses and never consults DNS. */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : undefined
    const usable = addresses.filter((a) => wanted === undefined || a.family === wanted)
    const first = usable[0]
    if (first === undefined) {
      const err: NodeJS.ErrnoException = new Error('no vetted address of the requested family')
      err.code = 'ENOTFOUND'
      callback(err, '')
    } else if (options.all === true) {
      callback(
        null,
        usable.map((a) => ({ address: a.address, family: a.family })),
      )
    } else {
      callback(null, first.address, first.family)
    }
  }
}
