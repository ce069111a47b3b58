/**
 * A batch's reads over a BatchStore: `lookupIdentities` answers many identities with their
 * profiles in one call. Part of the BatchStore seam suite (batch-store-suite.ts).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { IdentityRef } from '../../src/pipeline/batch-store.ts'
import type { OpenStores, Stores } from '../profiles/store-set.ts'
import { changes, profile } from './batch-store-suite.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')

export function batchReadsSuite(name: string, open: OpenStores, opts: { skip?: string | false } = {}) {
  describe(`batch reads over ${name}`, { skip: opts.skip ?? false }, () => {
    let stores: Stores
    beforeEach(async () => {
      stores = await open({ now: () => NOW })
    })
    afterEach(() => stores.close())

    test('lookupIdentities answers every identity asked, in order, with the profile it is bound to', async () => {
      // 600 profiles with two identities each: more identities than one SQLite look-up statement takes.
      const profiles = Array.from({ length: 600 }, (_, i) =>
        profile(`p${i}`, { userId: `u${i}`, version: i + 1 }),
      )
      await stores.profiles.commit(
        changes({
          upserts: profiles,
          identities: [
            ...profiles.flatMap((p, i) => [
              { workspaceId: 'w', kind: 'userId' as const, value: `u${i}`, profileId: p.profileId },
              { workspaceId: 'w', kind: 'anonymousId' as const, value: `a${i}`, profileId: p.profileId },
            ]),
            { workspaceId: 'w', kind: 'userId', value: 'ghost', profileId: 'missing' },
          ],
        }),
      )
      const asked: IdentityRef[] = [
        { workspaceId: 'w', kind: 'userId', value: 'nobody' },
        { workspaceId: 'w', kind: 'anonymousId', value: 'u7' },
        { workspaceId: 'other', kind: 'userId', value: 'u7' },
        { workspaceId: 'w', kind: 'userId', value: 'ghost' },
      ]
      for (let i = 599; i >= 0; i--)
        asked.push(
          { workspaceId: 'w', kind: 'anonymousId', value: `a${i}` },
          { workspaceId: 'w', kind: 'userId', value: `u${i}` },
        )
      asked.push({ workspaceId: 'w', kind: 'userId', value: 'u3' }) // asked twice

      const found = await stores.profiles.lookupIdentities(asked)

      assert.equal(found.length, asked.length)
      assert.deepEqual(found.slice(0, 4), [
        { profileId: null, profile: undefined },
        { profileId: null, profile: undefined },
        { profileId: null, profile: undefined },
        { profileId: 'missing', profile: undefined },
      ])
      for (let at = 4; at < asked.length; at++) {
        const i = Number(asked[at]!.value.slice(1))
        assert.equal(found[at]!.profileId, `p${i}`)
        assert.deepEqual(found[at]!.profile, profiles[i])
      }
      assert.deepEqual(await stores.profiles.lookupIdentities([]), [])
    })
  })
}
