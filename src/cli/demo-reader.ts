/**
 * The demo's simulated recipients: reads every message the server writes to its `.eml` outbox (the
 * file transport, used when INKSTREAM_SMTP_URL is not set), and, as a person with a mail client
 * would, opens some of them a few seconds later (GET of the open pixel's URL in the message) and
 * clicks a link in some of those (GET of a wrapped /c/ URL, not following the redirect). Some
 * clickers then buy (a conversion).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** What the reader takes from a message: the recipient and the tracking URLs in its HTML. */
export interface ReadMessage {
  to: string
  pixel: string | undefined
  links: string[]
}

/** Quoted-printable (RFC 2045 §6.7) to text. */
export const decodeQp = (qp: string): string =>
  Buffer.from(
    qp
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8')

const unescapeAttr = (s: string) => s.replace(/&amp;/g, '&')

/** The recipient, open pixel and wrapped click links of a raw message (as the file transport writes it). */
export function readMessage(raw: string): ReadMessage {
  const text = decodeQp(raw)
  const to = /^To: (?:.*<)?([^\s<>]+@[^\s<>]+?)>?\r?$/m.exec(text)?.[1] ?? ''
  const pixel = /<img[^>]*\bsrc="(https?:\/\/[^"]*\/p\/[^"]+)"/.exec(text)?.[1]
  const links = [...text.matchAll(/\bhref="(https?:\/\/[^"]*\/c\/[^"]+)"/g)].map((m) => unescapeAttr(m[1]!))
  return { to, pixel: pixel && unescapeAttr(pixel), links: [...new Set(links)] }
}

/** A mail client's User-Agent: not one machine-open detection (src/observe/machine-open.ts) flags. */
export const READER_AGENT =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)'

export interface ReaderCounts {
  messages: number
  opened: number
  clicked: number
  /** Tracking requests that did not answer as expected (the pixel 200, a click 302). */
  failed: number
}

export interface ReaderOptions {
  outbox: string
  /** Share of messages opened (default 0.7) and of opened messages clicked (default 0.5). */
  openShare?: number
  clickShare?: number
  /** Delay before an open, after an open before a click, ms (default 3-9 s, 1-4 s). */
  openDelayMs?: [number, number]
  clickDelayMs?: [number, number]
  random?: () => number
  /** A recipient clicked: the shopper may buy. */
  onClick?: (email: string) => void
}

export class MailReader {
  readonly counts: ReaderCounts = { messages: 0, opened: 0, clicked: 0, failed: 0 }
  readonly #opts: ReaderOptions
  readonly #random: () => number
  readonly #seen = new Set<string>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #inFlight = new Set<Promise<void>>()
  #scan: NodeJS.Timeout | undefined

  constructor(opts: ReaderOptions) {
    this.#opts = opts
    this.#random = opts.random ?? Math.random
    // Messages of an earlier run are not this run's to read.
    for (const f of this.#files()) this.#seen.add(f)
  }

  start(everyMs = 500): void {
    this.#scan = setInterval(() => this.#read(), everyMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.#scan)
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await Promise.allSettled([...this.#inFlight])
  }

  #files(): string[] {
    try {
      return readdirSync(this.#opts.outbox).filter((f) => f.endsWith('.eml'))
    } catch {
      return []
    }
  }

  #between([lo, hi]: [number, number]): number {
    return lo + this.#random() * (hi - lo)
  }

  #later(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      const p = fn().catch(() => {
        this.counts.failed++
      })
      this.#inFlight.add(p)
      void p.finally(() => this.#inFlight.delete(p))
    }, ms)
    this.#timers.add(timer)
  }

  #read(): void {
    for (const f of this.#files()) {
      if (this.#seen.has(f)) continue
      this.#seen.add(f)
      let message: ReadMessage
      try {
        message = readMessage(readFileSync(join(this.#opts.outbox, f), 'utf8'))
      } catch {
        continue
      }
      this.counts.messages++
      if (message.pixel === undefined || this.#random() >= (this.#opts.openShare ?? 0.7)) continue
      const { pixel } = message
      this.#later(this.#between(this.#opts.openDelayMs ?? [3_000, 9_000]), async () => {
        const res = await fetch(pixel, { headers: { 'user-agent': READER_AGENT } })
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`open answered ${res.status}`)
        this.counts.opened++
        const link = message.links[Math.floor(this.#random() * message.links.length)]
        if (link === undefined || this.#random() >= (this.#opts.clickShare ?? 0.5)) return
        this.#later(this.#between(this.#opts.clickDelayMs ?? [1_000, 4_000]), async () => {
          const click = await fetch(link, { headers: { 'user-agent': READER_AGENT }, redirect: 'manual' })
          await click.arrayBuffer()
          if (click.status !== 302) throw new Error(`click answered ${click.status}`)
          this.counts.clicked++
          this.#opts.onClick?.(message.to)
        })
      })
    }
  }
}
