/**
 * What a segment version whose regexes run on V8's backtracking engine may cost the pipeline.
 * A per-test timeout alone is not enough: an input just under it costs that much on every event,
 * forever. So each version also has an allowance of slow test time, a leaky bucket: tests over
 * SLOW_TEST_MS are charged in full, the bucket drains at REFILL_MS_PER_S, and a version that
 * overflows CAPACITY_MS is suspended. A real condition tests in microseconds and is never charged;
 * a hostile one is suspended after about CAPACITY_MS of work, and one paced to stay under the
 * refill rate costs at most REFILL_MS_PER_S per second (1 % of the thread).
 */

/** Tests faster than this are free: a real condition runs in microseconds. */
export const SLOW_TEST_MS = 1
/** Slow test time a segment version may spend before it is suspended. */
export const CAPACITY_MS = 1_000
/** How fast spent time is forgiven: 10 ms per second, 1 % of the thread. */
export const REFILL_MS_PER_S = 10

export interface AllowancePolicy {
  slowTestMs: number
  capacityMs: number
  refillMsPerS: number
}

export const DEFAULT_ALLOWANCE: AllowancePolicy = {
  slowTestMs: SLOW_TEST_MS,
  capacityMs: CAPACITY_MS,
  refillMsPerS: REFILL_MS_PER_S,
}

/** One segment version's bucket of slow test time. */
export class TimeAllowance {
  #level = 0
  #at: number | undefined

  constructor(private readonly policy: AllowancePolicy = DEFAULT_ALLOWANCE) {}

  /** Milliseconds charged and not yet forgiven. */
  get spentMs(): number {
    return this.#level
  }

  /** Charges one test that took `ms` at time `now` (ms); true when the allowance is exhausted. */
  charge(ms: number, now: number): boolean {
    const { slowTestMs, capacityMs, refillMsPerS } = this.policy
    if (this.#at !== undefined)
      this.#level = Math.max(0, this.#level - ((now - this.#at) * refillMsPerS) / 1000)
    this.#at = now
    if (ms >= slowTestMs) this.#level += ms
    return this.#level > capacityMs
  }
}
