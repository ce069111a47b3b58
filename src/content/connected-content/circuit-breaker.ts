/**
 * A circuit breaker per host. Closed: calls flow, and the breaker opens after `failureThreshold`
 * consecutive failures or when at least `failureRate` of the last `rateWindow` calls failed.
 * Open: calls are rejected until `coolDownMs` has passed. Half-open: exactly one trial call goes
 * through; its success closes the circuit, its failure opens it again for another cool-down.
 */
import type { Clock } from '../../core/types.ts'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold: number
  /** Share of failures (0..1] among the last rateWindow calls that opens the circuit. Default 0.5. */
  failureRate: number
  /** Calls the failure rate is computed over; the rate applies once the window is full. Default 20. */
  rateWindow: number
  /** How long the circuit stays open before a trial call. Default 30 s. */
  coolDownMs: number
}

export const defaultBreakerOptions: CircuitBreakerOptions = {
  failureThreshold: 5,
  failureRate: 0.5,
  rateWindow: 20,
  coolDownMs: 30_000,
}

export type CircuitState = 'closed' | 'open' | 'half-open'

/** Permission for one call. Report its result once; later reports are ignored. */
export interface Permit {
  succeed(): void
  fail(): void
  /** The call ended without saying anything about the host (refused, cancelled by the caller). */
  release(): void
}

export class CircuitBreaker {
  #state: CircuitState = 'closed'
  #consecutiveFailures = 0
  #recent: boolean[] = [] // true = failure, oldest first
  #openedAt = 0
  #trialInFlight = false

  constructor(
    private readonly opts: CircuitBreakerOptions,
    private readonly clock: Clock,
  ) {}

  /** The state as of now (an open circuit whose cool-down has passed reads as half-open). */
  state(): CircuitState {
    if (this.#state === 'open' && this.clock.now() - this.#openedAt >= this.opts.coolDownMs)
      return 'half-open'
    return this.#state
  }

  /** Milliseconds until a trial call is allowed; 0 when not open. */
  retryInMs(): number {
    if (this.#state !== 'open') return 0
    return Math.max(0, this.#openedAt + this.opts.coolDownMs - this.clock.now())
  }

  /** A permit for one call, or undefined when the circuit rejects it. */
  admit(): Permit | undefined {
    const state = this.state()
    if (state === 'closed') return this.#permit(false)
    if (state === 'open' || this.#trialInFlight) return undefined
    this.#state = 'half-open'
    this.#trialInFlight = true
    return this.#permit(true)
  }

  #permit(trial: boolean): Permit {
    let reported = false
    const report = (result: 'success' | 'failure' | 'none') => {
      if (reported) return
      reported = true
      if (trial) {
        this.#trialInFlight = false
        if (result === 'success') this.#close()
        else if (result === 'failure') this.#open()
      } else if (this.#state === 'closed' && result !== 'none') {
        this.#record(result === 'failure')
      }
      // A call admitted while closed that ends after the circuit opened says nothing new.
    }
    return { succeed: () => report('success'), fail: () => report('failure'), release: () => report('none') }
  }

  #record(failed: boolean): void {
    this.#consecutiveFailures = failed ? this.#consecutiveFailures + 1 : 0
    this.#recent.push(failed)
    if (this.#recent.length > this.opts.rateWindow) this.#recent.shift()
    const failures = this.#recent.filter(Boolean).length
    const rateTripped =
      this.#recent.length >= this.opts.rateWindow && failures / this.#recent.length >= this.opts.failureRate
    if (this.#consecutiveFailures >= this.opts.failureThreshold || rateTripped) this.#open()
  }

  #open(): void {
    this.#state = 'open'
    this.#openedAt = this.clock.now()
  }

  #close(): void {
    this.#state = 'closed'
    this.#consecutiveFailures = 0
    this.#recent = []
  }
}

/** One breaker per host key, created on first use; the least recently used are forgotten beyond maxHosts. */
export class CircuitBreakers {
  readonly #breakers = new Map<string, CircuitBreaker>()

  constructor(
    private readonly opts: CircuitBreakerOptions,
    private readonly clock: Clock,
    private readonly maxHosts = 10_000,
  ) {}

  get(hostKey: string): CircuitBreaker {
    let breaker = this.#breakers.get(hostKey)
    if (breaker === undefined) breaker = new CircuitBreaker(this.opts, this.clock)
    else this.#breakers.delete(hostKey)
    this.#breakers.set(hostKey, breaker)
    if (this.#breakers.size > this.maxHosts) {
      const oldest = this.#breakers.keys().next()
      if (!oldest.done) this.#breakers.delete(oldest.value)
    }
    return breaker
  }
}
