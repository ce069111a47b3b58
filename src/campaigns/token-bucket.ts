/** A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Clock and sleep are passed in. */
import type { Clock } from '../core/types.ts'

export type Sleep = (ms: number) => Promise<void>

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export class TokenBucket {
  #tokens: number
  #last: number

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

  /** Resolves when a token was taken. */
  async take(): Promise<void> {
    for (;;) {
      const now = this.clock.now()
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.ratePerSecond) / 1000)
      this.#last = now
      if (this.#tokens >= 1) {
        this.#tokens -= 1
        return
      }
      await this.sleep(Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond))
    }
  }
}
