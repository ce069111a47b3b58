/**
 * The SuppressionStore seam suite; every implementation runs it (SQLite and PostgreSQL).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InkError } from '../../src/core/errors.ts'
import type { SuppressionStore } from '../../src/delivery/suppression-store.ts'

export interface SuppressionStoreFactory {
  name: string
  /** Opens the store on a location; opening the same location again must see the same data. */
  open(location: string, clock: { now(): number }): Promise<SuppressionStore>
  /** A new, empty location. */
  location(): Promise<string>
  cleanup(location: string): Promise<void>
}

const T0 = 1_800_000_000_000

export function suppressionStoreSuite(impl: SuppressionStoreFactory, opts: { skip?: string | false } = {}) {
  describe(`SuppressionStore seam: ${impl.name}`, { skip: opts.skip ?? false }, () => {
    const withStore = async (
      fn: (s: SuppressionStore, clock: { t: number; now(): number }) => Promise<void>,
    ) => {
      const dir = await impl.location()
      const clock = { t: T0, now: () => clock.t }
      const store = await impl.open(dir, clock)
      try {
        await fn(store, clock)
      } finally {
        await store.close()
        await impl.cleanup(dir)
      }
    }

    test('a suppressed address is suppressed under any spelling of the same address', () =>
      withStore(async (s) => {
        assert.equal(await s.isSuppressed('w', 'jane@shop.example'), false)
        const { created, suppression } = await s.suppress('w', '  Jane.Doe@Shop.EXAMPLE ', {
          reason: 'unsubscribed',
          source: 'spring-sale',
        })
        assert.equal(created, true)
        assert.deepEqual(suppression, {
          workspaceId: 'w',
          email: 'jane.doe@shop.example',
          reason: 'unsubscribed',
          source: 'spring-sale',
          createdAt: T0,
        })
        assert.equal(await s.isSuppressed('w', 'jane.doe@shop.example'), true)
        assert.equal(await s.isSuppressed('w', 'JANE.DOE@shop.example.'), true)
        assert.equal(await s.isSuppressed('w', 'janedoe@shop.example'), false, 'dots are not ignored')
      }))

    test('a suppression in one workspace does not suppress the address in another', () =>
      withStore(async (s) => {
        await s.suppress('a', 'jane@shop.example', { reason: 'complained', source: 'api' })
        assert.equal(await s.isSuppressed('a', 'jane@shop.example'), true)
        assert.equal(await s.isSuppressed('b', 'jane@shop.example'), false)
        assert.deepEqual(await s.list('b'), [])
        assert.deepEqual([...(await s.suppressed('b', ['jane@shop.example']))], [])
      }))

    test('suppressing again for the same reason keeps the first entry', () =>
      withStore(async (s, clock) => {
        await s.suppress('w', 'jane@shop.example', { reason: 'unsubscribed', source: 'c1' })
        clock.t += 60_000
        const again = await s.suppress('w', 'JANE@shop.example', { reason: 'unsubscribed', source: 'c2' })
        assert.equal(again.created, false)
        assert.equal(again.suppression.source, 'c1')
        assert.equal(again.suppression.createdAt, T0)
        assert.equal((await s.get('w', 'jane@shop.example')).length, 1)
      }))

    test('removing a bounce leaves an unsubscribe in force; removing all reasons lifts the suppression', () =>
      withStore(async (s) => {
        await s.suppress('w', 'jane@shop.example', { reason: 'unsubscribed', source: 'c1' })
        await s.suppress('w', 'jane@shop.example', { reason: 'bounced', source: 'c2' })
        assert.deepEqual(
          (await s.get('w', 'jane@shop.example')).map((e) => e.reason),
          ['bounced', 'unsubscribed'],
        )
        assert.equal(await s.remove('w', 'jane@shop.example', 'bounced'), 1)
        assert.equal(await s.isSuppressed('w', 'jane@shop.example'), true)
        assert.equal(await s.remove('w', 'Jane@Shop.example'), 1)
        assert.equal(await s.isSuppressed('w', 'jane@shop.example'), false)
        assert.equal(await s.remove('w', 'jane@shop.example'), 0)
      }))

    test('the batch check returns exactly the suppressed members of an audience, as they were given', () =>
      withStore(async (s) => {
        const audience = Array.from({ length: 3000 }, (_, i) => `user${i}@shop.example`)
        for (const i of [0, 7, 2999])
          await s.suppress('w', `user${i}@shop.example`, { reason: 'bounced', source: 'c' })
        const hits = await s.suppressed('w', [...audience, 'USER7@Shop.Example', 'not an address', ''])
        assert.deepEqual(
          [...hits].sort(),
          ['USER7@Shop.Example', 'user0@shop.example', 'user2999@shop.example', 'user7@shop.example'].sort(),
        )
        assert.equal((await s.suppressed('w', [])).size, 0)
      }))

    test('the list pages in (email, reason) order without skipping or repeating, and filters by reason', () =>
      withStore(async (s) => {
        const emails = ['c@x.example', 'a@x.example', 'b@x.example']
        for (const e of emails) await s.suppress('w', e, { reason: 'unsubscribed', source: 'c' })
        await s.suppress('w', 'b@x.example', { reason: 'bounced', source: 'c' })
        const seen: string[] = []
        let page = await s.list('w', { limit: 2 })
        while (page.length > 0) {
          seen.push(...page.map((e) => `${e.email}/${e.reason}`))
          const last = page.at(-1)
          page = last ? await s.list('w', { limit: 2, after: last }) : []
        }
        assert.deepEqual(seen, [
          'a@x.example/unsubscribed',
          'b@x.example/bounced',
          'b@x.example/unsubscribed',
          'c@x.example/unsubscribed',
        ])
        assert.deepEqual(
          (await s.list('w', { reason: 'bounced' })).map((e) => e.email),
          ['b@x.example'],
        )
      }))

    test('a page can start after an address in any spelling, past all of its reasons or after one of them', () =>
      withStore(async (s) => {
        for (const e of ['a@x.example', 'b@x.example', 'c@x.example'])
          await s.suppress('w', e, { reason: 'unsubscribed', source: 'api' })
        await s.suppress('w', 'b@x.example', { reason: 'bounced', source: 'api' })
        const keys = (page: { email: string; reason: string }[]) => page.map((e) => `${e.email}/${e.reason}`)
        assert.deepEqual(keys(await s.list('w', { after: { email: ' B@X.Example ' } })), [
          'c@x.example/unsubscribed',
        ])
        assert.deepEqual(keys(await s.list('w', { after: { email: 'b@x.example', reason: 'bounced' } })), [
          'b@x.example/unsubscribed',
          'c@x.example/unsubscribed',
        ])
        // The reason filter and the cursor together: only unsubscribes, after b's.
        assert.deepEqual(
          keys(await s.list('w', { reason: 'unsubscribed', after: { email: 'a@x.example' } })),
          ['b@x.example/unsubscribed', 'c@x.example/unsubscribed'],
        )
      }))

    test('the source of an entry is kept as given, and an empty or multi-line source is refused', () =>
      withStore(async (s) => {
        const { suppression } = await s.suppress('w', 'jane@shop.example', {
          reason: 'complained',
          source: 'manual',
        })
        assert.equal(suppression.source, 'manual')
        assert.deepEqual(
          (await s.get('w', 'jane@shop.example')).map((e) => [e.reason, e.source]),
          [['complained', 'manual']],
        )
        for (const source of ['', 'line\nbreak', 'x'.repeat(201)])
          await assert.rejects(
            s.suppress('w', 'joe@shop.example', { reason: 'unsubscribed', source }),
            (err) =>
              err instanceof InkError && err.code === 'INK_ERR_BAD_REQUEST' && /source/.test(err.message),
            JSON.stringify(source),
          )
        assert.equal(await s.isSuppressed('w', 'joe@shop.example'), false)
      }))

    test('something that is not an address cannot be suppressed and is never suppressed', () =>
      withStore(async (s) => {
        for (const bad of [
          '',
          'jane',
          '@shop.example',
          'jane@',
          'Jane <jane@shop.example>',
          'jane@localhost',
        ])
          await assert.rejects(
            s.suppress('w', bad, { reason: 'unsubscribed', source: 'api' }),
            (err) => err instanceof InkError && err.code === 'INK_ERR_BAD_REQUEST',
            bad,
          )
        assert.equal(await s.isSuppressed('w', 'jane'), false)
        assert.deepEqual(await s.list('w'), [])
      }))

    test('suppressions survive closing and reopening the store', async () => {
      const dir = await impl.location()
      const clock = { now: () => T0 }
      try {
        const first = await impl.open(dir, clock)
        await first.suppress('w', 'jane@shop.example', { reason: 'unsubscribed', source: 'c1' })
        await first.close()
        const second = await impl.open(dir, clock)
        assert.equal(await second.isSuppressed('w', 'jane@shop.example'), true)
        await second.close()
      } finally {
        await impl.cleanup(dir)
      }
    })
  })
}
