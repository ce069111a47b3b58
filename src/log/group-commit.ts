/**
 * Group commit: appends that arrive in the same turn of the event loop share one durable commit,
 * so N concurrent requests cost one fsync instead of N. Each caller's promise settles with the
 * outcome of the commit that carried its events. An asynchronous commit (in another thread) keeps
 * one commit in flight: everything that arrives meanwhile forms the next group.
 */
interface Pending<T> {
  items: readonly T[]
  resolve: () => void
  reject: (err: unknown) => void
}

export class GroupCommit<T> {
  #pending: Pending<T>[] = []
  #scheduled = false
  #inFlight: Promise<void> | undefined

  /** `commit` writes every item durably or throws (or rejects, when it returns a promise). */
  constructor(
    private readonly commit: (items: readonly T[]) => void | Promise<void>,
    private readonly maxItems = 20_000,
  ) {}

  add(items: readonly T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ items, resolve, reject })
      if (!this.#scheduled && this.#inFlight === undefined) {
        this.#scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Resolves once nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight !== undefined || this.#pending.length > 0) {
      if (this.#inFlight === undefined) this.flush()
      await this.#inFlight
    }
  }

  /** Commits everything queued so far (in chunks of at most maxItems) and settles the callers. */
  flush(): void {
    this.#scheduled = false
    while (this.#pending.length > 0 && this.#inFlight === undefined) {
      const group: Pending<T>[] = []
      let count = 0
      while (
        this.#pending.length > 0 &&
        (group.length === 0 || count + this.#pending[0]!.items.length <= this.maxItems)
      ) {
        const next = this.#pending.shift()!
        group.push(next)
        count += next.items.length
      }
      const all = group.length === 1 ? group[0]!.items : group.flatMap((g) => g.items)
      let result: void | Promise<void>
      try {
        result = this.commit(all)
      } catch (err) {
        for (const g of group) g.reject(err)
        continue
      }
      if (result instanceof Promise) {
        this.#inFlight = result.then(
          () => this.#settled(group, undefined),
          (err: unknown) => this.#settled(group, err ?? new Error('commit failed')),
        )
        return
      }
      for (const g of group) g.resolve()
    }
  }

  #settled(group: Pending<T>[], err: unknown): void {
    this.#inFlight = undefined
    for (const g of group) {
      if (err === undefined) g.resolve()
      else g.reject(err)
    }
    if (this.#pending.length > 0) this.flush()
  }
}
