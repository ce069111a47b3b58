/**
 * One commit's rows packed into one buffer for the writer thread: the buffer is transferred (moved,
 * not copied) to the thread, where structured-cloning an array of row arrays cost the HTTP thread
 * a walk over every row and string (postMessage was 5.6 % of it under /v1/batch load).
 *
 * Layout, per row: workspaceId bytes (u32), messageId bytes (u32), jsonBytes (u32), receivedAt
 * (f64, epoch ms), then the three strings as UTF-8. Little-endian.
 */
import type { LogRow } from './log-writer.ts'

const HEADER = 4 + 4 + 4 + 8

/** Packs rows into one ArrayBuffer (transferable). */
export function packRows(rows: readonly LogRow[]): ArrayBuffer {
  let total = 0
  const lengths = new Array<number>(rows.length * 3)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    const ws = Buffer.byteLength(r[0])
    const mid = Buffer.byteLength(r[1])
    const json = Buffer.byteLength(r[3])
    lengths[i * 3] = ws
    lengths[i * 3 + 1] = mid
    lengths[i * 3 + 2] = json
    total += HEADER + ws + mid + json
  }
  const packed = new ArrayBuffer(total)
  const buf = Buffer.from(packed)
  let at = 0
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    const ws = lengths[i * 3]!
    const mid = lengths[i * 3 + 1]!
    const json = lengths[i * 3 + 2]!
    buf.writeUInt32LE(ws, at)
    buf.writeUInt32LE(mid, at + 4)
    buf.writeUInt32LE(json, at + 8)
    buf.writeDoubleLE(r[2], at + 12)
    at += HEADER
    at += buf.write(r[0], at, ws, 'utf8')
    at += buf.write(r[1], at, mid, 'utf8')
    at += buf.write(r[3], at, json, 'utf8')
  }
  return packed
}

/** Calls `each` with every row packed by packRows, in order. */
export function unpackRows(packed: ArrayBuffer, each: (row: LogRow) => void): void {
  const buf = Buffer.from(packed)
  let at = 0
  while (at < buf.length) {
    const ws = buf.readUInt32LE(at)
    const mid = buf.readUInt32LE(at + 4)
    const json = buf.readUInt32LE(at + 8)
    const receivedAt = buf.readDoubleLE(at + 12)
    const wsAt = at + HEADER
    const midAt = wsAt + ws
    const jsonAt = midAt + mid
    at = jsonAt + json
    each([
      buf.toString('utf8', wsAt, midAt),
      buf.toString('utf8', midAt, jsonAt),
      receivedAt,
      buf.toString('utf8', jsonAt, at),
    ])
  }
}
