/**
 * Keeps a Prometheus label's cardinality bounded: the first `max` distinct values seen pass through,
 * every later new value is reported as `other`. Each distinct label value is a series Prometheus
 * keeps in memory and on disk; an id that grows without end (campaigns, templates, placeholder
 * names written by template authors, connected-content hosts) must not grow the series with it.
 *
 * First come, first kept, for the life of the process: a value never moves between its own series
 * and `other`, so counters stay monotonic per series (rate() over them stays right). A restart
 * starts the set afresh, which Prometheus sees as a counter reset anyway.
 */

/** What values past the bound are reported as. */
export const OTHER = 'other'

export class BoundedLabel {
  readonly #seen = new Set<string>()

  /** `max`: distinct values let through (`other` itself is not counted). */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`max must be an integer >= 0, got ${max}`)
  }

  /** The value to put on the series: `value` itself while it is one of the first `max` seen, else `other`. */
  of(value: string): string {
    if (this.#seen.has(value)) return value
    if (this.#seen.size >= this.max) return OTHER
    this.#seen.add(value)
    return value
  }

  /** Distinct values let through so far. */
  get size(): number {
    return this.#seen.size
  }
}
