/**
 * One commit's rows packed for the writer thread as columns: three arrays of strings and one
 * transferred (moved, not copied) Float64Array. Structured-cloning an array of row arrays made the
 * HTTP thread serialize one object per row (postMessage was 5.6 % of it under /v1/batch load);
 * arrays of strings are cloned by V8's serializer as flat copies. (Packing the strings into one
 * UTF-8 buffer, or joining them into one string, cost the HTTP thread more than it saved: both copy
 * every byte once more in JavaScript before the clone.)
 */
import type { LogRow } from './log-writer.ts'

export interface PackedRows {
  workspaceIds: string[]
  messageIds: string[]
  /** receivedAt per row, epoch ms. */
  receivedAt: Float64Array
  json: string[]
}

/** Packs rows for postMessage, with the buffer to transfer along. */
export function packRows(rows: readonly LogRow[]): { packed: PackedRows; transfer: ArrayBuffer[] } {
  const times = new ArrayBuffer(rows.length * 8)
  const receivedAt = new Float64Array(times)
  const workspaceIds = new Array<string>(rows.length)
  const messageIds = new Array<string>(rows.length)
  const json = new Array<string>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    workspaceIds[i] = r[0]
    messageIds[i] = r[1]
    receivedAt[i] = r[2]
    json[i] = r[3]
  }
  return { packed: { workspaceIds, messageIds, receivedAt, json }, transfer: [times] }
}

/** Calls `each` with every row packed by packRows, in order. */
export function unpackRows(packed: PackedRows, each: (row: LogRow) => void): void {
  const { workspaceIds, messageIds, receivedAt, json } = packed
  for (let i = 0; i < receivedAt.length; i++)
    each([workspaceIds[i]!, messageIds[i]!, receivedAt[i]!, json[i]!])
}
