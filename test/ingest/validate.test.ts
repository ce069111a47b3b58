import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { correctTimestamp, normalizeEvent } from '../../src/ingest/normalize.ts'
import { validateEvent } from '../../src/ingest/validate.ts'

const limits = { maxEventBytes: 32 * 1024, maxDepth: 32 }
const problem = (raw: unknown, type?: 'track' | 'identify' | 'alias' | 'group') => {
  const r = validateEvent(raw, type, limits)
  return r.ok ? undefined : r.problem
}

describe('event validation', () => {
  test('a well-formed track event with a userId is accepted', () => {
    const r = validateEvent(
      { type: 'track', userId: 'u1', event: 'Product Viewed', properties: { price: 1 } },
      undefined,
      limits,
    )
    assert.ok(r.ok)
    assert.equal(r.event.type, 'track')
  })

  const cases: [string, unknown, RegExp, ('track' | 'alias' | 'group')?][] = [
    ['an array instead of an object', [], /JSON object/],
    ['an unknown type', { type: 'purchase', userId: 'u' }, /"type" must be one of/],
    ['neither userId nor anonymousId', { type: 'track', event: 'x' }, /"userId" or an "anonymousId"/],
    [
      'a userId of the wrong type',
      { type: 'track', userId: { id: 1 }, event: 'x' },
      /"userId" must be a string/,
    ],
    ['a track without an event name', { userId: 'u' }, /"event" must be a non-empty string/, 'track'],
    [
      'properties that are not an object',
      { type: 'track', userId: 'u', event: 'x', properties: [1] },
      /"properties" must be/,
    ],
    [
      'a timestamp that is not a date',
      { type: 'track', userId: 'u', event: 'x', timestamp: 'yesterday' },
      /ISO-8601/,
    ],
    ['an alias without previousId', { userId: 'u' }, /previousId/, 'alias'],
    ['a group without groupId', { userId: 'u' }, /groupId/, 'group'],
    [
      'a __proto__ key',
      JSON.parse('{"type":"track","userId":"u","event":"x","properties":{"__proto__":{"admin":true}}}'),
      /__proto__/,
    ],
    [
      'a constructor key',
      { type: 'identify', userId: 'u', traits: { constructor: { prototype: {} } } },
      /constructor/,
    ],
  ]
  for (const [name, raw, message, type] of cases) {
    test(`an event with ${name} is rejected with a message saying why`, () => {
      const p = problem(raw, type)
      assert.ok(p, 'expected a problem')
      assert.equal(p.code, 'INK_ERR_INVALID_EVENT')
      assert.match(p.message, message)
    })
  }

  test('nesting deeper than the limit is rejected without overflowing the stack', () => {
    let deep: unknown = 'leaf'
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    const p = problem({ type: 'track', userId: 'u', event: 'x', properties: deep })
    assert.match(p?.message ?? '', /nested deeper than 32/)
  })

  test('fuzz: arbitrary JSON never throws and is either accepted with an id or rejected with a code', () => {
    const anyJson = fc.jsonValue({ maxDepth: 6 })
    const eventish = fc.record(
      {
        type: fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias', 'bogus', 7),
        userId: fc.oneof(fc.string(), fc.integer(), anyJson),
        anonymousId: fc.oneof(fc.string(), anyJson),
        previousId: fc.string(),
        groupId: fc.string(),
        event: fc.oneof(fc.string(), anyJson),
        properties: anyJson,
        traits: anyJson,
        context: anyJson,
        timestamp: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        messageId: fc.oneof(fc.uuid(), anyJson),
      },
      { requiredKeys: [] },
    )
    // JSON.parse is how hostile keys reach us: it makes "__proto__" an own property.
    const withProto = eventish.map((e) => {
      const json = JSON.stringify(e)
      return JSON.parse(`{"__proto__":{"polluted":1}${json === '{}' ? '}' : `,${json.slice(1)}`}`)
    })
    fc.assert(
      fc.property(fc.oneof(eventish, withProto, anyJson), (raw) => {
        if (Object.hasOwn(raw ?? {}, '__proto__'))
          assert.equal(validateEvent(raw, undefined, limits).ok, false)
        const r = validateEvent(raw, undefined, limits)
        if (!r.ok) {
          assert.ok(['INK_ERR_INVALID_EVENT', 'INK_ERR_EVENT_TOO_LARGE'].includes(r.problem.code))
          assert.ok(r.problem.message.length > 0)
          return
        }
        // What is accepted must normalize into an event the pipeline can key and order.
        const e = normalizeEvent(r.event, { workspaceId: 'w', receivedAt: 1_800_000_000_000 })
        assert.ok(e.userId !== undefined || e.anonymousId !== undefined)
        assert.ok(!Number.isNaN(Date.parse(e.timestamp)))
        assert.ok(e.messageId.length > 0)
        assert.equal(Object.getPrototypeOf(e.properties ?? {}), Object.prototype)
        assert.equal(({} as Record<string, unknown>).polluted, undefined)
      }),
      { numRuns: 3000 },
    )
  })
})

describe('clock skew', () => {
  test('a client clock that is an hour fast is corrected by sentAt the way Segment does', () => {
    const receivedAt = Date.parse('2026-11-28T12:00:00.000Z')
    // The client thinks it is 13:00 when it sends; the event happened 5 s before that on its clock.
    const corrected = correctTimestamp(receivedAt, '2026-11-28T12:59:55.000Z', '2026-11-28T13:00:00.000Z')
    assert.equal(new Date(corrected).toISOString(), '2026-11-28T11:59:55.000Z')
  })

  test('without sentAt the timestamp is kept, and without timestamp receivedAt is used', () => {
    assert.equal(correctTimestamp(5000, '1970-01-01T00:00:01.000Z'), 1000)
    assert.equal(correctTimestamp(5000), 5000)
  })

  test('normalization adds receivedAt, a messageId and the workspace, and keeps the original timestamp', () => {
    const r = validateEvent(
      { type: 'track', anonymousId: 'a', event: 'x', timestamp: '2026-01-01T00:00:00Z' },
      undefined,
      limits,
    )
    assert.ok(r.ok)
    const e = normalizeEvent(r.event, { workspaceId: 'w1', receivedAt: Date.parse('2026-11-28T12:00:00Z') })
    assert.equal(e.workspaceId, 'w1')
    assert.equal(e.receivedAt, '2026-11-28T12:00:00.000Z')
    assert.match(e.messageId, /^ink-[0-9a-f-]{36}$/)
    assert.equal(e.originalTimestamp, '2026-01-01T00:00:00Z')
    assert.equal(e.timestamp, '2026-01-01T00:00:00.000Z')
  })
})
