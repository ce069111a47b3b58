/**
 * The Kafka consumer's offsets waiting to be committed to the group (the processor's own applied
 * offsets live in its store; the group's copy feeds lag reports and the start position after a
 * rebalance). Commits run one at a time: a commit that fails slowly (the broker restarting, a
 * coordinator loading) must not overwrite, when it puts its offsets back for the next try, the
 * later offsets another commit sent meanwhile — that once left the group's offsets stuck 48k
 * records behind processors that had applied everything.
 */
export type SendOffsets = (offsets: readonly { partition: number; offset: number }[]) => Promise<void>

export class OffsetCommits {
  readonly #pending = new Map<number, number>()
  readonly #send: SendOffsets
  #inFlight: Promise<void> | undefined
  /** The partitions this consumer owns since the last rebalance; undefined: not told yet. */
  #owned: ReadonlySet<number> | undefined
  /** When commits started failing (no success since); undefined while they succeed. */
  failingSince: number | undefined
  lastError: unknown

  constructor(
    send: SendOffsets,
    private readonly now: () => number = Date.now,
  ) {
    this.#send = send
  }

  /** The next offset to commit for `partition` (the position after its last handled record). */
  set(partition: number, offset: number): void {
    this.#pending.set(partition, offset)
  }

  /** Forgets the offsets of partitions this consumer no longer owns (after a rebalance). */
  retain(owned: ReadonlySet<number>): void {
    this.#owned = owned
    for (const partition of this.#pending.keys()) if (!owned.has(partition)) this.#pending.delete(partition)
  }

  /** A commit request is in flight. */
  get busy(): boolean {
    return this.#inFlight !== undefined
  }

  get size(): number {
    return this.#pending.size
  }

  /**
   * Commits what is pending. While a commit is in flight, waits for it and then commits what
   * became pending meanwhile; a failed commit puts its offsets back unless newer ones are pending.
   */
  async commit(): Promise<void> {
    while (this.#inFlight) await this.#inFlight.catch(() => {})
    if (this.#pending.size === 0) return
    const offsets = [...this.#pending].map(([partition, offset]) => ({ partition, offset }))
    this.#pending.clear()
    let sending: Promise<void>
    try {
      sending = this.#send(offsets)
    } catch (err) {
      // A send that throws at once fails like one that rejects: its offsets are kept for the next try.
      sending = Promise.reject(err)
    }
    this.#inFlight = sending
    try {
      await sending
      this.failingSince = undefined
      this.lastError = undefined
    } catch (err) {
      // Keep them for the next try (the broker may be back), unless a later batch moved on.
      // Not those of a partition handed to another member while this commit was in flight.
      for (const o of offsets)
        if (!this.#pending.has(o.partition) && (this.#owned?.has(o.partition) ?? true))
          this.#pending.set(o.partition, o.offset)
      this.failingSince ??= this.now()
      this.lastError = err
      throw err
    } finally {
      if (this.#inFlight === sending) this.#inFlight = undefined
    }
  }
}
