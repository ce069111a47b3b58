/**
 * Turns one append's events into what a log stores, before they join a group commit: an event
 * that cannot be serialized (JSON.stringify overflows the stack on deep nesting, throws on a cycle
 * or a BigInt) or is too large for one record fails its own request with a 400, and never the
 * commit it would have shared with other requests.
 */
import { eventUnserializable } from '../core/errors.ts'
import type { InkEvent } from '../core/types.ts'
import type { EncodedEvent } from './event-log.ts'

/** One event ready to be written: the fields a log indexes and its JSON. */
export interface SerializedEvent {
  workspaceId: string
  messageId: string
  /** receivedAt, epoch ms. */
  receivedAt: number
  json: string
  /** UTF-8 length of `json`. */
  bytes: number
}

export const isEncoded = (e: InkEvent | EncodedEvent): e is EncodedEvent => 'json' in e

/** The event itself, whichever form it came in. */
export const eventOf = (e: InkEvent | EncodedEvent): InkEvent => (isEncoded(e) ? e.event : e)

/**
 * Serializes and checks every event of one append; throws INK_ERR_EVENT_UNSERIALIZABLE for the
 * first bad one. An EncodedEvent's JSON is used as it is: the event is not serialized a second
 * time (its trace context, if any, was put into that JSON by tracing.ts's traced()).
 */
export function serializeEvents(
  events: readonly (InkEvent | EncodedEvent)[],
  maxRecordBytes: number,
): SerializedEvent[] {
  return events.map((item, index) => {
    const e = eventOf(item)
    const receivedAt = Date.parse(e.receivedAt)
    if (typeof e.workspaceId !== 'string' || typeof e.messageId !== 'string' || !Number.isFinite(receivedAt))
      throw eventUnserializable(index, e.messageId, 'it lacks a workspaceId, messageId or receivedAt')
    let json: string
    let bytes: number
    if (isEncoded(item)) {
      json = item.json
      bytes = item.bytes
    } else {
      try {
        json = JSON.stringify(e)
      } catch (err) {
        const why =
          err instanceof RangeError
            ? 'it is nested too deeply to serialize'
            : `its JSON could not be produced (${(err as Error).message})`
        throw eventUnserializable(index, e.messageId, why, err)
      }
      bytes = Buffer.byteLength(json)
    }
    if (bytes > maxRecordBytes)
      throw eventUnserializable(
        index,
        e.messageId,
        `it is ${bytes} bytes as JSON, over the log's record limit of ${maxRecordBytes}`,
      )
    return { workspaceId: e.workspaceId, messageId: e.messageId, receivedAt, json, bytes }
  })
}
