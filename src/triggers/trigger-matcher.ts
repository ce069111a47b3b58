/**
 * The processor's side of triggers: for each applied track event, a job per trigger whose `event`
 * it is, and a cancel per trigger whose `unless.event` it is. Definitions are reloaded once per
 * batch (a handful of rows), so a batch sees every trigger saved before it started.
 * Event time is `triggerEventTime` (src/traits/event-time.ts), never the raw client timestamp.
 */
import type { InkEvent } from '../core/types.ts'
import { triggerEventTime } from '../traits/event-time.ts'
import { dueAt, type TriggerDef } from './trigger-def.ts'
import { type TriggerJobOp, triggerJobId } from './trigger-jobs.ts'

export interface TriggerIndex {
  allDefinitions(): Promise<TriggerDef[]>
}

export class TriggerMatcher {
  /** workspace → event name → triggers started by it / cancelled by it. */
  #starts = new Map<string, TriggerDef[]>()
  #cancels = new Map<string, TriggerDef[]>()

  constructor(private readonly index: TriggerIndex) {}

  async reload(): Promise<void> {
    const starts = new Map<string, TriggerDef[]>()
    const cancels = new Map<string, TriggerDef[]>()
    const add = (m: Map<string, TriggerDef[]>, key: string, t: TriggerDef) => {
      const list = m.get(key)
      if (list) list.push(t)
      else m.set(key, [t])
    }
    for (const t of await this.index.allDefinitions()) {
      add(starts, `${t.workspaceId}\n${t.event}`, t)
      if (t.unless) add(cancels, `${t.workspaceId}\n${t.unless.event}`, t)
    }
    this.#starts = starts
    this.#cancels = cancels
  }

  /** True when no trigger exists: the processor can skip matching. */
  get empty(): boolean {
    return this.#starts.size === 0
  }

  /** Appends the job operations of one applied event of `profileId` to `ops`; answers the earliest new due time. */
  match(e: InkEvent, profileId: string, ops: TriggerJobOp[]): number | undefined {
    if (e.type !== 'track' || e.event === undefined) return undefined
    const key = `${e.workspaceId}\n${e.event}`
    // Due times and cancel windows follow the clock policy: a client time more than a minute from
    // receivedAt is replaced by receivedAt, so a client cannot make a job due at once or in 10 years.
    const at = triggerEventTime(e)
    for (const t of this.#cancels.get(key) ?? []) {
      ops.push({
        kind: 'cancel',
        workspaceId: e.workspaceId,
        triggerId: t.triggerId,
        profileId,
        fromEventAt: at - (t.unless?.withinMs ?? 0),
        toEventAt: at,
      })
    }
    const userId = e.userId ?? e.anonymousId
    let earliest: number | undefined
    if (userId === undefined) return undefined
    for (const t of this.#starts.get(key) ?? []) {
      const due = dueAt(t, at)
      earliest = earliest === undefined ? due : Math.min(earliest, due)
      ops.push({
        kind: 'insert',
        job: {
          workspaceId: e.workspaceId,
          triggerId: t.triggerId,
          jobId: triggerJobId(e.workspaceId, t.triggerId, e.messageId),
          profileId,
          userId,
          eventAt: at,
          dueAt: due,
          event: {
            name: e.event,
            properties: e.properties ?? {},
            timestamp: e.timestamp,
            messageId: e.messageId,
            // The trace context of the event's append (tracing on): the message's span links to it.
            ...(e.traceparent === undefined ? {} : { traceparent: e.traceparent }),
          },
        },
      })
    }
    return earliest
  }
}
