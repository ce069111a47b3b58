/**
 * Admission for drawings (satori + resvg, the GIF encoder): CPU-bound work on the event loop that
 * cannot be interrupted. Unbounded, a burst of first opens starts a drawing per request and every
 * answer — cached ones too — waits behind them (measured: 500 uncached opens/s on 2 cores answered
 * in seconds). Two bounds:
 * - at most `max` drawings at once; an open waits for a slot only as long as it is told to;
 * - a share of the event loop: drawing time is paid from a bucket refilled at `share` ms per ms
 *   (capacity `burstMs`); an empty bucket admits nothing, so under overload the loop keeps the rest
 *   of its time for answering (fallbacks, cached images, JSON) instead of drawing back to back.
 * A refused open answers its fallback at once; the real image is drawn for a later open.
 */
export interface DrawGateOptions {
  max?: number
  /** Share of wall time drawings may use (0..1], or a function of now (1 when they run in another thread). Default 0.5. */
  share?: number | (() => number)
  /** Bucket capacity in ms of drawing. Default 500: ordinary traffic never meets the bound; a burst of drawing beyond half a second of it does. */
  burstMs?: number
  now?: () => number
}

export class DrawGate {
  #running = 0
  readonly #waiting: { grant: () => void; timer: NodeJS.Timeout }[] = []
  readonly #max: number
  readonly #share: () => number
  readonly #burstMs: number
  readonly #now: () => number
  #tokens: number
  #refilledAt: number

  constructor(o: DrawGateOptions = {}) {
    this.#max = o.max ?? 1
    const share = o.share ?? 0.5
    this.#share = typeof share === 'number' ? () => share : share
    this.#burstMs = o.burstMs ?? 500
    this.#now = o.now ?? (() => performance.now())
    this.#tokens = this.#burstMs
    this.#refilledAt = this.#now()
  }

  /** A release function once a slot is free, or undefined if none frees up within `waitMs` (or the bucket is empty). */
  acquire(waitMs: number): Promise<(() => void) | undefined> {
    if (this.#balance() <= 0) return Promise.resolve(undefined)
    if (this.#running < this.#max) {
      this.#running += 1
      return Promise.resolve(this.#release())
    }
    if (waitMs <= 0) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer)
          resolve(this.#release())
        },
        timer: setTimeout(() => {
          const i = this.#waiting.indexOf(entry)
          if (i >= 0) this.#waiting.splice(i, 1)
          resolve(undefined)
        }, waitMs),
      }
      this.#waiting.push(entry)
    })
  }

  /** Drawings running now. */
  get running(): number {
    return this.#running
  }

  /** Drawing ms available now. */
  #balance(): number {
    const now = this.#now()
    this.#tokens = Math.min(this.#burstMs, this.#tokens + (now - this.#refilledAt) * this.#share())
    this.#refilledAt = now
    return this.#tokens
  }

  #release(): () => void {
    const grantedAt = this.#now()
    let done = false
    return () => {
      if (done) return
      done = true
      this.#balance()
      this.#tokens -= this.#now() - grantedAt
      // The slot passes to the next waiter while the bucket allows; otherwise waiters time out.
      const next = this.#balance() > 0 ? this.#waiting.shift() : undefined
      if (next) next.grant()
      else this.#running -= 1
    }
  }
}
