/**
 * acceptEvent, property-based: whatever a batch's shared context and an event hold, an accepted
 * event is within the per-event limit as stored and carries no forbidden key anywhere; and an
 * event that is fine alone is refused only for what the shared context brought in.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { JsonObject } from '../../src/core/types.ts'
import { acceptEvent } from '../../src/ingest/accept.ts'

const LIMITS = { maxEventBytes: 1_500, maxDepth: 6 }
const META = { workspaceId: 'ws', receivedAt: Date.parse('2026-11-28T12:00:00.000Z'), ip: '127.0.0.1' }
const FORBIDDEN = ['__proto__', 'constructor', 'prototype']

/** Keys that include the forbidden ones now and then; objects built from JSON text, as the body parser does. */
const key = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(...FORBIDDEN) },
)
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 20 }),
    fc.string({ minLength: 200, maxLength: 700 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    tie('object'),
  ),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => {
    const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`
    return JSON.parse(text) as JsonObject
  }),
})).object

const event = fc.record({
  type: fc.constantFrom('track', 'identify', 'page'),
  userId: fc.string({ minLength: 1, maxLength: 20 }),
  event: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''),
  // RudderStack's shape: identify traits in context.traits, folded into traits when stored.
  context: fc.option(
    fc.oneof(
      json,
      json.map((traits): JsonObject => ({ traits })),
    ),
    { nil: undefined },
  ),
  traits: fc.option(json, { nil: undefined }),
  properties: fc.option(json, { nil: undefined }),
})

function forbiddenKeyIn(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  for (const k of Object.keys(value)) {
    if (FORBIDDEN.includes(k)) return k
    const inner = forbiddenKeyIn((value as JsonObject)[k])
    if (inner) return inner
  }
  return undefined
}

test('an accepted event is within the limit as stored and holds no forbidden key, whatever the shared context', () => {
  const outcomes = { accepted: 0, rejected: 0 }
  fc.assert(
    fc.property(event, fc.option(json, { nil: undefined }), (item, shared) => {
      const result = acceptEvent(item, { shared, meta: META, limits: LIMITS })
      outcomes[result.ok ? 'accepted' : 'rejected']++
      if (!result.ok) return
      assert.ok(Buffer.byteLength(JSON.stringify(result.event)) <= LIMITS.maxEventBytes)
      assert.equal(forbiddenKeyIn(result.event), undefined)
      // The JSON the log stores as it is: exactly the event's, with its UTF-8 length.
      assert.equal(result.json, JSON.stringify(result.event))
      assert.equal(result.bytes, Buffer.byteLength(result.json))
    }),
    { numRuns: 500, endOnFailure: true },
  )
  // Both outcomes are common, so the property is not vacuous.
  assert.ok(outcomes.accepted > 50 && outcomes.rejected > 50, JSON.stringify(outcomes))
})

test("a shared context is in every accepted event under the event's own context keys", () => {
  fc.assert(
    fc.property(event, json, (item, shared) => {
      const result = acceptEvent(item, { shared, meta: META, limits: LIMITS })
      if (!result.ok) return
      const context = result.event.context ?? {}
      for (const [k, v] of Object.entries(shared)) {
        const own = item.context && Object.hasOwn(item.context, k) ? item.context[k] : undefined
        // An identify's own context.traits are folded into its traits and not kept in context.
        if (k === 'traits' && item.type === 'identify' && isObject(own)) {
          assert.equal(context.traits, undefined)
          continue
        }
        assert.deepEqual(context[k], own === undefined ? v : own, `context.${k}`)
      }
    }),
    { numRuns: 300, endOnFailure: true },
  )
})

test('an event over the limit as stored is refused with the limit in the message', () => {
  const limits = { maxEventBytes: 32 * 1024, maxDepth: 32 }
  const blob = 'é'.repeat(16 * 1024) // 32 KB as UTF-8 (16 K characters): over once stored
  const result = acceptEvent(
    { type: 'track', userId: 'u', event: 'x', properties: { blob } },
    { meta: META, limits },
  )
  assert.equal(result.ok, false)
  if (result.ok) return
  assert.equal(result.problem.code, 'INK_ERR_EVENT_TOO_LARGE')
  assert.match(result.problem.message, /as stored; the limit per event is 32768 bytes \(32 KB\)/)
})

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

test("an identify's traits are its own context.traits under its traits; a shared context.traits never", () => {
  let folded = 0
  fc.assert(
    fc.property(event, fc.option(json, { nil: undefined }), (item, shared) => {
      const identify = { ...item, type: 'identify' }
      const result = acceptEvent(identify, { shared, meta: META, limits: LIMITS })
      if (!result.ok) return
      const own = isObject(item.context) && isObject(item.context.traits) ? item.context.traits : undefined
      const top = isObject(item.traits) ? item.traits : undefined
      const expected = own ? { ...own, ...top } : top
      assert.deepEqual(result.event.traits, expected)
      if (own) {
        folded++
        assert.equal(result.event.context?.traits, undefined)
      }
    }),
    { numRuns: 300, endOnFailure: true },
  )
  assert.ok(folded > 10, `folded ${folded}`)
})
