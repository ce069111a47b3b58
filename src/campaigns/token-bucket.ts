/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Clock and sleep are
 * passed in. Waiters are served first come, first served: a campaign's recipients are claimed in
 * the order its workers asked for tokens, so the ledger fills in audience order.
 */
import type { Clock } from '../core/types.ts'

export type Sleep = (ms: number) => Promise<void>

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export class TokenBucket {
  #tokens: number
  #last: number
  readonly #waiters: Array<() => void> = []
  #pumping = false

  constructor(
    private readonly ratePerSecond: number,
    private readonly clock: Clock,
    private readonly sleep: Sleep = realSleep,
    private readonly burst = 1,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new RangeError(`ratePerSecond must be a positive number, not ${ratePerSecond}`)
    this.#tokens = burst
    this.#last = clock.now()
  }

  /** Resolves when a token was taken; callers are served in the order they called. */
  take(): Promise<void> {
    this.#refill()
    if (this.#waiters.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1
      return Promise.resolve()
    }
    const taken = new Promise<void>((resolve) => this.#waiters.push(resolve))
    if (!this.#pumping) void this.#pump()
    return taken
  }

  #refill(): void {
    const now = this.clock.now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.ratePerSecond) / 1000)
    this.#last = now
  }

  /** One loop hands tokens to the queue's head as they accrue, so no waiter overtakes another. */
  async #pump(): Promise<void> {
    this.#pumping = true
    try {
      for (;;) {
        const head = this.#waiters[0]
        if (head === undefined) return
        this.#refill()
        if (this.#tokens >= 1) {
          this.#tokens -= 1
          this.#waiters.shift()
          head()
          continue
        }
        await this.sleep(Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond))
      }
    } finally {
      this.#pumping = false
    }
  }
}
