/**
 * When a background worker (the trigger dispatcher, the webhook dispatcher) runs its pass: at most
 * one pass at a time; woken now → a pass now, or right after the one running; woken for a later
 * time → a timer (only the earliest is kept); and a slow poll for work other processes created.
 * Nothing runs before `start()` or after `stop()`. A pass that throws is reported, never thrown.
 */
import type { Clock } from './types.ts'

export interface PassSchedulerOptions {
  /** One pass over the due work. */
  pass(): Promise<unknown>
  onError(err: unknown): void
  clock: Clock
  /** Poll without a wake-up this often; default 1000 ms. */
  pollMs?: number | undefined
}

/** setTimeout's longest delay (a later due time is found again by the poll's passes). */
const MAX_DELAY_MS = 2 ** 31 - 1

export class PassScheduler {
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #poll: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  #started = false
  #stopped = false

  constructor(private readonly o: PassSchedulerOptions) {}

  /** Started and not stopped: passes run. */
  get active(): boolean {
    return this.#started && !this.#stopped
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Starts the poll and runs a first pass. */
  start(): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#poll = setInterval(() => this.wake(), this.o.pollMs ?? 1000)
    this.#poll.unref()
    this.wake()
  }

  /** A pass now if `dueAt` (default now) has come, else a timer for it. */
  wake(dueAt?: number): void {
    if (!this.active) return
    if (dueAt !== undefined && dueAt > this.o.clock.now()) {
      this.schedule(dueAt)
      return
    }
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.o
      .pass()
      .then(
        () => {},
        (err: unknown) => this.o.onError(err),
      )
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          this.wake()
        }
      })
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running
  }

  /** No pass starts from now on (the one running, if any, goes on: await `idle()`). */
  stop(): void {
    this.#stopped = true
    clearInterval(this.#poll)
    clearTimeout(this.#timer)
  }

  /**
   * A timer for `at` (even if it has come: a pass that ends with work due runs the next one from a
   * timer, not in a tight loop); an earlier timer already set wins.
   */
  schedule(at: number): void {
    if (!this.active || at >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timerAt = Number.POSITIVE_INFINITY
        this.wake()
      },
      Math.min(Math.max(at - this.o.clock.now(), 0), MAX_DELAY_MS),
    )
    this.#timer.unref()
  }
}
