/** The writer thread's hand-over: rows packed as columns come out as they went in, also after a transfer. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import fc from 'fast-check'
import type { LogRow } from '../../src/log/log-writer.ts'
import { type PackedRows, packRows, unpackRows } from '../../src/log/row-buffer.ts'

const unpacked = (packed: PackedRows): LogRow[] => {
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
      assert.deepEqual(unpacked(packRows(rows).packed), rows)
    }),
    { numRuns: 300 },
  )
})

test('the packed rows survive a transfer; the times array is moved, not copied', async () => {
  const rows: LogRow[] = [
    ['w', 'm1', 1_800_000_000_000, '{"s":"é"}'],
    ['w2', 'm2', 1_800_000_000_001.5, '{"s":"😀"}'],
  ]
  const { packed, transfer } = packRows(rows)
  const { port1, port2 } = new MessageChannel()
  const received = new Promise<PackedRows>((resolve) => port2.once('message', resolve))
  port1.postMessage(packed, transfer)
  assert.equal(packed.receivedAt.byteLength, 0, 'moved, not copied')
  assert.deepEqual(unpacked(await received), rows)
  port1.close()
  port2.close()
})
