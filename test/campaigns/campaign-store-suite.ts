/** The CampaignStore seam suite: drafts and the campaign lifecycle. SQLite and PostgreSQL run it. */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { CampaignDraft, CampaignStore } from '../../src/campaigns/campaign-store.ts'
import type { Clock } from '../../src/core/types.ts'

export interface OpenedCampaignStore {
  store: CampaignStore
  /** Closes the store and removes the database. */
  close(): Promise<void>
}

export type OpenCampaignStore = (clock: Clock) => Promise<OpenedCampaignStore>

const T0 = 1_800_000_000_000

const draft = (d: Partial<CampaignDraft> = {}): CampaignDraft => ({
  name: 'Spring sale',
  templateId: 'spring',
  templateVersion: null,
  from: null,
  audience: { userIds: ['u1', 'u2'] },
  vars: { greeting: 'Hi', nested: { discount: 0.15, codes: ['A', 'B'] } },
  ratePerSecond: null,
  pauseAfterFailures: null,
  sendAt: null,
  topic: null,
  ...d,
})

export function campaignStoreSuite(
  name: string,
  open: OpenCampaignStore,
  opts: { skip?: string | false } = {},
) {
  describe(`CampaignStore seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let opened: OpenedCampaignStore
    let s: CampaignStore
    const clock = { t: T0, now: () => clock.t }
    beforeEach(async () => {
      clock.t = T0
      opened = await open(clock)
      s = opened.store
    })
    afterEach(() => opened.close())

    test('a new draft is created with every field; putting it again replaces it and keeps createdAt', async () => {
      const first = await s.putDraft('ws', 'c1', draft())
      assert.deepEqual(first, {
        created: true,
        campaign: {
          id: 'c1',
          ...draft(),
          state: 'draft',
          error: null,
          reason: null,
          createdAt: T0,
          updatedAt: T0,
          startedAt: null,
          finishedAt: null,
        },
      })
      clock.t = T0 + 10
      const changes = draft({
        name: 'Summer',
        templateVersion: 3,
        from: 'shop@example.com',
        audience: { segment: 'vip' },
        vars: {},
        ratePerSecond: 2.5,
        sendAt: { localTime: '2030-12-02T09:00', defaultTimezone: 'Europe/Paris' },
      })
      const again = await s.putDraft('ws', 'c1', changes)
      assert.equal(again?.created, false)
      assert.deepEqual(again?.campaign, {
        id: 'c1',
        ...changes,
        state: 'draft',
        error: null,
        reason: null,
        createdAt: T0,
        updatedAt: T0 + 10,
        startedAt: null,
        finishedAt: null,
      })
      assert.deepEqual(await s.get('ws', 'c1'), again?.campaign)
      assert.equal(await s.get('other', 'c1'), undefined)
    })

    test('a campaign that is no longer a draft is not replaced', async () => {
      await s.putDraft('ws', 'c1', draft())
      await s.marks.running('ws', 'c1', 1)
      assert.equal(await s.putDraft('ws', 'c1', draft({ name: 'changed' })), undefined)
      assert.equal((await s.get('ws', 'c1'))?.name, 'Spring sale')
    })

    test('running pins the template version and keeps the first start; finishing records the outcome', async () => {
      await s.putDraft('ws', 'c1', draft())
      clock.t = T0 + 1
      await s.marks.running('ws', 'c1', 4)
      clock.t = T0 + 2
      await s.marks.finished('ws', 'c1', 'failed', 'smtp down')
      const failed = await s.get('ws', 'c1')
      assert.deepEqual(
        [failed?.state, failed?.error, failed?.templateVersion, failed?.startedAt, failed?.finishedAt],
        ['failed', 'smtp down', 4, T0 + 1, T0 + 2],
      )
      clock.t = T0 + 3
      await s.marks.running('ws', 'c1', 5)
      const resumed = await s.get('ws', 'c1')
      assert.deepEqual(
        [resumed?.state, resumed?.error, resumed?.templateVersion, resumed?.startedAt, resumed?.finishedAt],
        ['running', null, 5, T0 + 1, null],
      )
      await s.marks.finished('ws', 'c1', 'done')
      assert.deepEqual([(await s.get('ws', 'c1'))?.state, (await s.get('ws', 'c1'))?.error], ['done', null])
    })

    test('list is per workspace in creation order; running spans workspaces', async () => {
      await s.putDraft('ws', 'b', draft())
      clock.t = T0 + 1
      await s.putDraft('ws', 'a', draft())
      await s.putDraft('ws2', 'x', draft())
      assert.deepEqual(
        (await s.list('ws')).map((c) => c.id),
        ['b', 'a'],
      )
      assert.deepEqual(await s.running(), [])
      await s.marks.running('ws', 'a', 1)
      await s.marks.running('ws2', 'x', 1)
      assert.deepEqual(
        (await s.running()).sort((p, q) => p.workspaceId.localeCompare(q.workspaceId)),
        [
          { workspaceId: 'ws', id: 'a' },
          { workspaceId: 'ws2', id: 'x' },
        ],
      )
      await s.marks.finished('ws', 'a', 'done')
      assert.deepEqual(await s.running(), [{ workspaceId: 'ws2', id: 'x' }])
    })

    test('each lifecycle move is allowed from exactly the states the rules name, and writes nothing otherwise', async () => {
      type State = 'draft' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled'
      const into = async (id: string, state: State) => {
        await s.putDraft('ws', id, draft())
        if (state === 'draft') return
        if (state === 'cancelled') return void (await s.marks.cancelled('ws', id, 'setup'))
        await s.marks.running('ws', id, 1)
        if (state === 'paused') await s.marks.paused('ws', id, 'setup')
        if (state === 'done' || state === 'failed') await s.marks.finished('ws', id, state)
      }
      const moves = {
        running: (id: string) => s.marks.running('ws', id, 2),
        done: (id: string) => s.marks.finished('ws', id, 'done'),
        paused: (id: string) => s.marks.paused('ws', id, 'smtp refused 10 in a row'),
        cancelled: (id: string) => s.marks.cancelled('ws', id, 'by admin'),
      }
      // Written out here, not read from campaign-rules.ts, so a changed rule shows up as a failure.
      const allowed: Record<keyof typeof moves, State[]> = {
        running: ['draft', 'running', 'paused', 'done', 'failed'],
        done: ['running'],
        paused: ['running'],
        cancelled: ['draft', 'running', 'paused', 'failed'],
      }
      const states: State[] = ['draft', 'running', 'paused', 'done', 'failed', 'cancelled']
      const seen: string[] = []
      const expected: string[] = []
      for (const [move, apply] of Object.entries(moves) as [
        keyof typeof moves,
        (id: string) => Promise<boolean>,
      ][])
        for (const from of states) {
          const id = `${from}-${move}`
          await into(id, from)
          assert.equal((await s.get('ws', id))?.state, from, `setup of ${id}`)
          const ok = await apply(id)
          seen.push(`${from} → ${move}: ${ok} (${(await s.get('ws', id))?.state})`)
          const yes = allowed[move].includes(from)
          expected.push(`${from} → ${move}: ${yes} (${yes ? move : from})`)
        }
      assert.deepEqual(seen, expected)
      const paused = await s.get('ws', 'running-paused')
      assert.deepEqual([paused?.reason, paused?.finishedAt], ['smtp refused 10 in a row', null])
      const cancelled = await s.get('ws', 'paused-cancelled')
      assert.deepEqual([cancelled?.reason, cancelled?.finishedAt], ['by admin', T0])
    })
  })
}
