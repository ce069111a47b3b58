/**
 * Group commit: appends that arrive in the same turn of the event loop share one durable commit,
 * so N concurrent requests cost one fsync instead of N. Each caller's promise settles with the
 * outcome of the commit that carried its events.
 */
interface Pending<T> {
  items: readonly T[]
  resolve: () => void
  reject: (err: unknown) => void
}

export class GroupCommit<T> {
  #pending: Pending<T>[] = []
  #scheduled = false

  /** `commit` writes every item durably or throws; it runs synchronously inside one flush. */
  constructor(
    private readonly commit: (items: readonly T[]) => void,
    private readonly maxItems = 20_000,
  ) {}

  add(items: readonly T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ items, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Commits everything queued so far (in chunks of at most maxItems) and settles the callers. */
  flush(): void {
    this.#scheduled = false
    while (this.#pending.length > 0) {
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
      try {
        this.commit(all)
      } catch (err) {
        for (const g of group) g.reject(err)
        continue
      }
      for (const g of group) g.resolve()
    }
  }
}
