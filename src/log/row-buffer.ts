/**
 * One commit's rows packed for the writer thread as one flat string and two typed arrays: the
 * typed arrays are transferred (moved, not copied) and the string is cloned in one copy, where
 * structured-cloning an array of row arrays made the HTTP thread serialize every row as an object
 * (postMessage was 5.6 % of it under /v1/batch load). Nothing is UTF-8 encoded on the HTTP thread:
 * lengths are in UTF-16 code units, the writer thread slices the string.
 */
import type { LogRow } from './log-writer.ts'

export interface PackedRows {
  /** workspaceId, messageId and JSON of every row, in order, concatenated. */
  text: string
  /** Per row: the lengths of its workspaceId, messageId and JSON in `text`. */
  lengths: Uint32Array
  /** Per row: receivedAt, epoch ms. */
  receivedAt: Float64Array
}

/** Packs rows for postMessage, with the buffers to transfer along. */
export function packRows(rows: readonly LogRow[]): { packed: PackedRows; transfer: ArrayBuffer[] } {
  const transfer = [new ArrayBuffer(rows.length * 12), new ArrayBuffer(rows.length * 8)]
  const lengths = new Uint32Array(transfer[0]!)
  const receivedAt = new Float64Array(transfer[1]!)
  const parts = new Array<string>(rows.length * 3)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    parts[i * 3] = r[0]
    parts[i * 3 + 1] = r[1]
    parts[i * 3 + 2] = r[3]
    lengths[i * 3] = r[0].length
    lengths[i * 3 + 1] = r[1].length
    lengths[i * 3 + 2] = r[3].length
    receivedAt[i] = r[2]
  }
  return { packed: { text: parts.join(''), lengths, receivedAt }, transfer }
}

/** Calls `each` with every row packed by packRows, in order. */
export function unpackRows(packed: PackedRows, each: (row: LogRow) => void): void {
  const { text, lengths, receivedAt } = packed
  let at = 0
  for (let i = 0; i < receivedAt.length; i++) {
    const wsEnd = at + lengths[i * 3]!
    const midEnd = wsEnd + lengths[i * 3 + 1]!
    const jsonEnd = midEnd + lengths[i * 3 + 2]!
    each([text.slice(at, wsEnd), text.slice(wsEnd, midEnd), receivedAt[i]!, text.slice(midEnd, jsonEnd)])
    at = jsonEnd
  }
}
