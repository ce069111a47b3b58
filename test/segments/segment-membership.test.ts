/** The membership commit rule (segment-membership.ts), as both batch stores apply it. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planMemberships, type SegmentMembership } from '../../src/segments/segment-membership.ts'

const row = (
  segmentId: string,
  version: number,
  profileId: string,
  member = true,
  ws = 'w',
): SegmentMembership => ({
  workspaceId: ws,
  segmentId,
  version,
  profileId,
  userId: null,
  email: member ? `${profileId}@x.io` : null,
  member,
})

const stored: Record<string, Record<string, number>> = { w: { a: 1, b: 2 }, v: { c: 5 } }
const versions = (ws: string) => new Map(Object.entries(stored[ws] ?? {}))

test('rows at the stored version join or leave; rows of a changed or deleted segment are skipped', () => {
  const plan = planMemberships(
    [row('a', 1, 'p1'), row('b', 2, 'p1', false), row('b', 1, 'p2'), row('gone', 1, 'p2')],
    [],
    versions,
    { rescans: false },
  )
  assert.deepEqual(plan, { join: [row('a', 1, 'p1')], leave: [row('b', 2, 'p1', false)], rescan: [] })
})

test('the last row for a (workspace, segment, profile) in a batch counts, at the place of the first', () => {
  const plan = planMemberships(
    [row('a', 1, 'p1'), row('a', 1, 'p2'), row('a', 1, 'p1', false), row('c', 5, 'p1', true, 'v')],
    [],
    versions,
    { rescans: false },
  )
  assert.deepEqual(plan.leave, [row('a', 1, 'p1', false)])
  assert.deepEqual(plan.join, [row('a', 1, 'p2'), row('c', 5, 'p1', true, 'v')])
})

test('with rescans, an upserted profile is queued for every segment of its workspace not evaluated at its version', () => {
  const plan = planMemberships(
    [row('a', 1, 'p1'), row('b', 1, 'p1')],
    [
      { workspaceId: 'w', profileId: 'p1' },
      { workspaceId: 'v', profileId: 'p9' },
      { workspaceId: 'none', profileId: 'p8' },
    ],
    versions,
    { rescans: true },
  )
  assert.deepEqual(plan.join, [row('a', 1, 'p1')])
  assert.deepEqual(plan.rescan, [
    { workspaceId: 'w', segmentId: 'b', profileId: 'p1' },
    { workspaceId: 'v', segmentId: 'c', profileId: 'p9' },
  ])
  const embedded = planMemberships([row('a', 1, 'p1')], [{ workspaceId: 'w', profileId: 'p1' }], versions, {
    rescans: false,
  })
  assert.deepEqual(embedded.rescan, [], 'the embedded store queues none')
})
