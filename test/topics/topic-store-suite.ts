/**
 * The TopicStore seam suite, and the campaign store's `topic`, over one backend
 * (sqlite-topic-store.test.ts, pg-topic-store.test.ts).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { CampaignStore } from '../../src/campaigns/campaign-store.ts'
import { isInkError } from '../../src/core/errors.ts'
import type { TopicStore } from '../../src/topics/topic-store.ts'

export interface TopicStores {
  topics: TopicStore
  campaigns: CampaignStore
  close(): Promise<void>
}

export function topicStoreSuite(
  name: string,
  open: (now: () => number) => Promise<TopicStores>,
  opts: { skip?: string | false } = {},
) {
  describe(`topics over ${name}`, { skip: opts.skip ?? false }, () => {
    let s: TopicStores
    let now = 1_000
    beforeEach(async () => {
      now = 1_000
      s = await open(() => now)
    })
    afterEach(() => s.close())

    const news = { name: 'News', description: 'Weekly', doubleOptIn: false }

    test('a topic is created, replaced, listed and removed per workspace', async () => {
      const first = await s.topics.put('w', 'news', news)
      assert.equal(first.created, true)
      now = 2_000
      const again = await s.topics.put('w', 'news', { ...news, name: 'The news', doubleOptIn: true })
      assert.equal(again.created, false)
      assert.deepEqual(again.topic, {
        workspaceId: 'w',
        id: 'news',
        name: 'The news',
        description: 'Weekly',
        doubleOptIn: true,
        createdAt: 1_000,
        updatedAt: 2_000,
      })
      await s.topics.put('other', 'offers', news)
      assert.deepEqual(
        (await s.topics.list('w')).map((t) => t.id),
        ['news'],
      )
      assert.equal(await s.topics.get('other', 'news'), undefined)
      assert.equal(await s.topics.remove('w', 'news'), true)
      assert.equal(await s.topics.remove('w', 'news'), false)
      assert.deepEqual(await s.topics.list('w'), [])
    })

    test('a profile leaves and rejoins a topic; an older change does not undo a newer one', async () => {
      await s.topics.put('w', 'news', news)
      await s.topics.put('w', 'offers', news)
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), false)
      const leave = { topicId: 'news', state: 'unsubscribed' as const, source: 'api', at: 5_000 }
      assert.equal(await s.topics.setSubscription('w', 'ann', leave), true)
      assert.equal(await s.topics.setSubscription('w', 'ann', leave), false, 'no change')
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), true)
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'offers'), false)
      assert.equal(await s.topics.isUnsubscribed('w', 'bob', 'news'), false)
      // A late, older "subscribed" (a retried request from before) is ignored.
      const older = { topicId: 'news', state: 'subscribed' as const, source: 'api', at: 4_000 }
      assert.equal(await s.topics.setSubscription('w', 'ann', older), false)
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), true)
      await s.topics.setSubscription('w', 'ann', { ...older, at: 6_000, source: 'preferences' })
      assert.deepEqual(await s.topics.subscriptions('w', 'ann'), [
        { topicId: 'news', state: 'subscribed', source: 'preferences', at: 6_000 },
      ])
    })

    test('pending (double opt-in, not confirmed) is stored, listed and not sent to', async () => {
      await s.topics.put('w', 'news', { ...news, doubleOptIn: true })
      // Never chosen: on a double opt-in topic that is not subscribed (an ordinary topic is opt-out).
      assert.equal(await s.topics.isUnsubscribed('w', 'zed', 'news'), true, 'never confirmed')
      assert.equal(await s.topics.isUnsubscribed('w', 'zed', 'unknown-topic'), false)
      const left = { topicId: 'news', state: 'unsubscribed' as const, source: 'api', at: 2_000 }
      await s.topics.setSubscription('w', 'ann', left)
      const pending = { topicId: 'news', state: 'pending' as const, source: 'preference_center', at: 3_000 }
      assert.equal(await s.topics.setSubscription('w', 'ann', pending), true)
      assert.equal(await s.topics.setSubscription('w', 'ann', pending), false, 'no change')
      assert.deepEqual(await s.topics.subscriptions('w', 'ann'), [pending])
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), true, 'pending is not sent to')
      const confirmed = { topicId: 'news', state: 'subscribed' as const, source: 'double_opt_in', at: 4_000 }
      assert.equal(await s.topics.setSubscription('w', 'ann', confirmed), true)
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), false)
      assert.deepEqual(await s.topics.subscriptions('w', 'ann'), [confirmed])
    })

    test('a state of an unknown topic is refused; removing a topic removes its states', async () => {
      await assert.rejects(
        s.topics.setSubscription('w', 'ann', {
          topicId: 'nope',
          state: 'unsubscribed',
          source: 'api',
          at: 1,
        }),
        (err: unknown) => isInkError(err) && err.code === 'INK_ERR_NOT_FOUND',
      )
      await s.topics.put('w', 'news', news)
      await s.topics.setSubscription('w', 'ann', {
        topicId: 'news',
        state: 'unsubscribed',
        source: 'api',
        at: 1,
      })
      await s.topics.remove('w', 'news')
      await s.topics.put('w', 'news', news)
      assert.equal(await s.topics.isUnsubscribed('w', 'ann', 'news'), false)
      assert.deepEqual(await s.topics.subscriptions('w', 'ann'), [])
    })

    test('a campaign keeps its topic (the column added by the migration)', async () => {
      const draft = {
        name: 'Weekly',
        templateId: 'spring',
        templateVersion: null,
        from: null,
        audience: { userIds: ['ann'] },
        vars: {},
        ratePerSecond: null,
      }
      const saved = await s.campaigns.putDraft('w', 'weekly', { ...draft, topic: 'news' })
      assert.equal(saved?.campaign.topic, 'news')
      await s.campaigns.putDraft('w', 'weekly', { ...draft, topic: null })
      assert.equal((await s.campaigns.get('w', 'weekly'))?.topic, null)
      await s.campaigns.putDraft('w', 'plain', draft)
      assert.equal((await s.campaigns.get('w', 'plain'))?.topic, null)
    })
  })
}
