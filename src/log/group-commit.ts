/**
 * Group commit: appends that arrive in the same turn of the event loop share one durable commit,
 * so N concurrent requests cost one fsync instead of N. Each caller's promise settles with the
 * outcome of the commit that carried its items. An asynchronous commit (in another thread, or a
 * produce request) keeps one commit in flight: everything that arrives meanwhile forms the next
 * group. Items are checked by the caller before they are added (see serialize.ts): a commit fails
 * only for reasons that concern every caller in it (disk, broker), never because of one caller.
 */
interface Pending<T> {
  items: readonly T[]
  size: number
  resolve: () => void
  reject: (err: unknown) => void
  /** Settled already (its deadline passed): the commit's outcome no longer concerns it. */
  done: boolean
}

export interface GroupCommitLimits<T> {
  /** Most items in one commit; a caller with more still commits alone, never split. Default 20 000. */
  maxItems?: number
  /** Most total size (sizeOf) in one commit, with the same exception. Default unlimited. */
  maxSize?: number
  sizeOf?: (item: T) => number
}

export interface AddOptions {
  /**
   * Reject this caller after this many ms from now (its arrival), whether its items are still
   * queued behind a commit in flight (then they are dropped, never committed) or in flight (then
   * they may still commit: the caller must treat the rejection as "unknown", e.g. retry with the
   * same ids).
   */
  timeoutMs?: number
  /** The rejection reason when timeoutMs passes. */
  onTimeout?: () => unknown
}

export class GroupCommit<T> {
  #pending: Pending<T>[] = []
  #scheduled = false
  #inFlight: Promise<void> | undefined
  readonly #maxItems: number
  readonly #maxSize: number
  readonly #sizeOf: ((item: T) => number) | undefined

  /** `commit` writes every item durably or throws (or rejects, when it returns a promise). */
  constructor(
    private readonly commit: (items: readonly T[]) => void | Promise<void>,
    limits: GroupCommitLimits<T> = {},
  ) {
    this.#maxItems = limits.maxItems ?? 20_000
    this.#maxSize = limits.maxSize ?? Number.POSITIVE_INFINITY
    this.#sizeOf = limits.sizeOf
  }

  add(items: readonly T[], opts: AddOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      let size = 0
      if (this.#sizeOf) for (const item of items) size += this.#sizeOf(item)
      let timer: NodeJS.Timeout | undefined
      const entry: Pending<T> = {
        items,
        size,
        done: false,
        resolve: () => {
          if (entry.done) return
          entry.done = true
          clearTimeout(timer)
          resolve()
        },
        reject: (err) => {
          if (entry.done) return
          entry.done = true
          clearTimeout(timer)
          reject(err)
        },
      }
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          // Still queued: drop it, so it is never committed after its caller was told it failed.
          const queued = this.#pending.indexOf(entry)
          if (queued >= 0) this.#pending.splice(queued, 1)
          entry.reject(opts.onTimeout?.() ?? new Error(`not committed within ${opts.timeoutMs} ms`))
        }, opts.timeoutMs)
      }
      this.#pending.push(entry)
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

  /** Commits everything queued so far (in chunks within the limits) and settles the callers. */
  flush(): void {
    this.#scheduled = false
    while (this.#pending.length > 0 && this.#inFlight === undefined) {
      const group: Pending<T>[] = []
      let count = 0
      let size = 0
      while (this.#pending.length > 0) {
        const next = this.#pending[0]!
        if (
          group.length > 0 &&
          (count + next.items.length > this.#maxItems || size + next.size > this.#maxSize)
        )
          break
        this.#pending.shift()
        group.push(next)
        count += next.items.length
        size += next.size
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
