/**
 * Keeps segment membership current from the processor (the only writer of the store file).
 *
 * - Definitions are saved by the API on another connection. `reload` (once per batch) reads a
 *   change stamp and reloads all definitions only when it moved, so a batch sees definitions
 *   saved before it started. A batch that races a save evaluated the old version: the store skips
 *   those rows at commit (version check) and the backfill of the new version covers them.
 * - `evaluate` adds, for every profile the batch upserts, one membership row per segment of its
 *   workspace, against the traits materialized at the batch's `now`.
 * - The backfill: a new or changed segment (version newer than membersVersion) is recomputed
 *   over all profiles of its workspace, `chunk` profiles per transaction, on a timer while the
 *   processor runs; chunks interleave with batches.
 *
 * A segment version whose condition the evaluator suspends (a regex over its time budget or its
 * allowance, condition.ts) matches nobody: its member rows are removed at the next reload, after
 * the batch that suspended it committed.
 *
 * Windowed traits (orders_30d) decay without events, but membership is only re-evaluated when a
 * profile changes or its segment is backfilled: such a segment keeps members that no longer match
 * until their next event (save the segment again with a new condition to force a recompute).
 */
import type { Clock } from '../core/types.ts'
import { SegmentEvaluator, type SegmentEvaluatorOptions } from '../segments/condition.ts'
import type { SegmentDef, SegmentIndex } from '../segments/segment-store.ts'
import type { TraitDef } from '../traits/traits-config.ts'
import type { BatchChanges } from './batch-store.ts'

export interface SegmentMaintainerDeps {
  index: SegmentIndex
  traits: readonly TraitDef[]
  clock: Clock
  logger: { error(obj: unknown, msg: string): void }
  chunk: number
  /** Budget, allowance, clock and test hook of the evaluator (tests); the defaults otherwise. */
  evaluator?: Omit<SegmentEvaluatorOptions, 'onSuspended' | 'onRefused'>
}

export class SegmentMaintainer {
  readonly #evaluator: SegmentEvaluator
  #stamp: number | undefined
  #byWorkspace = new Map<string, SegmentDef[]>()
  #timer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined
  #closed = false
  /** Suspended segment versions whose member rows are still to be removed. */
  #toClear: SegmentDef[] = []

  constructor(private readonly deps: SegmentMaintainerDeps) {
    this.#evaluator = new SegmentEvaluator(deps.traits, {
      ...deps.evaluator,
      onSuspended: (s, why) => {
        this.#toClear.push(s)
        deps.logger.error(
          { workspaceId: s.workspaceId, segmentId: s.segmentId, version: s.version, ...why },
          'segment condition suspended: a regex on the backtracking engine ran out of its time budget twice on one profile, or its slow tests used up the allowance; the segment matches nobody until it is saved again; its members are removed',
        )
      },
      onRefused: (s, err) =>
        deps.logger.error(
          { workspaceId: s.workspaceId, segmentId: s.segmentId, version: s.version, err },
          'stored segment condition fails the checks of this version (unsafe regex, code or unsupported operator); it matches nobody until it is saved again',
        ),
    })
  }

  /**
   * Removes the members of suspended segment versions (after the batch that suspended one has
   * committed), then reloads definitions if any was saved or deleted since the last load.
   */
  async reload(): Promise<void> {
    // One at a time, dropped from the list once done: a failed removal is retried with the next batch.
    for (let s = this.#toClear[0]; s !== undefined; this.#toClear.shift(), s = this.#toClear[0]) {
      const removed = await this.deps.index.clearMembers(s.workspaceId, s.segmentId, s.version)
      this.deps.logger.error(
        { workspaceId: s.workspaceId, segmentId: s.segmentId, version: s.version, removed },
        'members of a suspended segment removed',
      )
    }
    const stamp = await this.deps.index.definitionsStamp()
    if (stamp === this.#stamp) return
    const all = await this.deps.index.allDefinitions()
    const by = new Map<string, SegmentDef[]>()
    for (const d of all) {
      const list = by.get(d.workspaceId)
      if (list) list.push(d)
      else by.set(d.workspaceId, [d])
    }
    this.#evaluator.retain(all)
    this.#byWorkspace = by
    this.#stamp = stamp
  }

  /** Appends the membership of each upserted profile to the batch's changes. */
  evaluate(changes: BatchChanges, now: number): void {
    for (const p of changes.upserts) {
      for (const seg of this.#byWorkspace.get(p.workspaceId) ?? []) {
        const m = this.#evaluator.evaluate(seg, p, now)
        changes.memberships.push({
          workspaceId: p.workspaceId,
          segmentId: seg.segmentId,
          version: seg.version,
          profileId: p.profileId,
          userId: p.userId,
          email: m?.email ?? null,
          member: m !== null,
        })
      }
    }
  }

  /** Polls for pending backfills every `pollMs`. */
  start(pollMs: number): void {
    this.#timer = setInterval(() => {
      this.drain().catch((err) => this.deps.logger.error({ err }, 'segment backfill failed; retrying'))
    }, pollMs)
    this.#timer.unref()
  }

  /** Backfills until nothing is pending; concurrent callers share one run. */
  drain(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined
    })
    return this.#draining
  }

  async #drain(): Promise<void> {
    const { index, clock, chunk } = this.deps
    while (!this.#closed) {
      await this.reload()
      const progress = await index.backfillStep(chunk, this.#evaluator.at(clock.now()))
      if (!progress) return
      // Let batches in: each step is one short transaction.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#draining
  }
}
