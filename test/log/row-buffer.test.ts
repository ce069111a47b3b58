/** The writer thread's hand-over: rows packed into one transferable buffer come out as they went in. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { LogRow } from '../../src/log/log-writer.ts'
import { packRows, unpackRows } from '../../src/log/row-buffer.ts'

const unpacked = (packed: ArrayBuffer): LogRow[] => {
  const rows: LogRow[] = []
  unpackRows(packed, (r) => rows.push(r))
  return rows
}

test('rows of any text (multi-byte, astral, empty) and any time come back unchanged and in order', () => {
  // Graphemes: multi-byte and astral characters, always well-formed (as JSON.stringify's output is).
  const text = fc.string({ unit: 'grapheme', maxLength: 40 })
  const row = fc.tuple(
    text,
    text,
    fc.double({ noNaN: true }),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
  )
  fc.assert(
    fc.property(fc.array(row, { maxLength: 30 }), (rows) => {
      assert.deepEqual(unpacked(packRows(rows)), rows)
    }),
    { numRuns: 300 },
  )
})

test('the packed buffer can be transferred: it is a whole ArrayBuffer of exactly the rows', () => {
  const rows: LogRow[] = [['w', 'm1', 1_800_000_000_000, '{"s":"é"}']]
  const packed = packRows(rows)
  assert.ok(packed instanceof ArrayBuffer)
  // 20 bytes of lengths and time, then 1 + 2 + 10 bytes of UTF-8.
  assert.equal(packed.byteLength, 20 + 1 + 2 + 10)
  const { port1, port2 } = new MessageChannel()
  port1.postMessage(packed, [packed])
  assert.equal(packed.byteLength, 0, 'moved, not copied')
  port1.close()
  port2.close()
})
