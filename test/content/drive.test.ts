/**
 * drive() runs liquidjs render generators like liquidjs's own toPromise (same results, same errors
 * delivered to the same try/catch), awaiting only promises. Property-based: random trees of nested
 * generators, plain values, promises, rejections and throws, compared with a reference driver.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { toPromise } from 'liquidjs'
import { drive } from '../../src/render/drive.ts'

type Node =
  | { kind: 'value'; v: number }
  | { kind: 'promise'; v: number }
  | { kind: 'reject'; v: number }
  | { kind: 'throw'; v: number }
  | { kind: 'gen'; children: Node[]; catches: boolean }

const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('value' as const), v: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('promise' as const), v: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('reject' as const), v: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('throw' as const), v: fc.integer({ min: 0, max: 9 }) }),
    fc.record({
      kind: fc.constant('gen' as const),
      children: fc.array(tie('node'), { maxLength: 4 }),
      catches: fc.boolean(),
    }),
  ),
})).node

/** A generator that yields its children in turn, sums what comes back, and may catch an error. */
function* build(n: Node): Generator<unknown, unknown, unknown> {
  switch (n.kind) {
    case 'value':
      return n.v
    case 'promise':
      return (yield Promise.resolve(n.v)) as number
    case 'reject':
      return yield Promise.reject(new Error(`r${n.v}`))
    case 'throw':
      throw new Error(`t${n.v}`)
    case 'gen': {
      let sum = 0
      for (const child of n.children) {
        try {
          sum += Number(yield build(child))
        } catch (err) {
          if (!n.catches) throw err
          sum += 100
        }
      }
      return sum
    }
  }
}

const settle = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ ok: true, value }),
    (err: Error) => ({ ok: false, value: err.message }),
  )

test('drive gives the same value or error as liquidjs toPromise for any tree of generators', async () => {
  await fc.assert(
    fc.asyncProperty(node, async (tree) => {
      const ours = await settle(drive(build(tree)))
      const theirs = await settle(toPromise(build(tree)))
      assert.deepEqual(ours, theirs)
    }),
  )
})

test('a plain value or a promise is handed back as is', async () => {
  assert.equal(await drive(7), 7)
  assert.equal(await drive(Promise.resolve(3)), 3)
})
